"""The embedded moto: loopback only, a clear error on a busy port, a reset, and a request log."""

from __future__ import annotations

import socket

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.moto import EmbeddedMoto
from stackprobe.backends.request_log import RequestLog, RequestRecord
from stackprobe.errors import BackendError
from stackprobe.lifecycle.run import Run

pytestmark = pytest.mark.harness


def test_busy_port_gives_a_remedy_not_a_hang() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BackendError) as error:
            EmbeddedMoto(port=port).start()
    assert f"127.0.0.1:{port}" in str(error.value)
    assert "--stackprobe-moto-port" in str(error.value) and "--moto-port" in str(error.value)


def test_binds_loopback_and_reports_liveness() -> None:
    emulator = EmbeddedMoto()
    backend = emulator.start()
    try:
        assert backend.endpoint.startswith("http://127.0.0.1:")
        assert emulator.alive()
    finally:
        emulator.stop()
    assert not emulator.alive()


def test_reset_empties_the_account(clean_backend: AwsBackend, stacks: Run) -> None:
    s3 = clean_backend.client("s3")
    s3.create_bucket(Bucket="reset-me-please", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["reset-me-please"]
    assert stacks.emulator is not None
    stacks.emulator.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_request_log_names_operations(clean_backend: AwsBackend, stacks: Run) -> None:
    emulator = stacks.emulator
    assert emulator is not None
    clean_backend.client("sqs").list_queues()
    clean_backend.client("ecs").list_clusters()
    tail = emulator.request_log.render_tail(5)
    assert "ListQueues" in tail or "AmazonSQS.ListQueues" in tail
    assert "AmazonEC2ContainerServiceV20141113.ListClusters" in tail


def test_request_log_is_bounded() -> None:
    log = RequestLog(size=3)
    for index in range(5):
        log.add(RequestRecord(0.0, "GET", "h", f"/{index}", "", 500 if index == 4 else 200, 0.1))
    assert [r.path for r in log.tail(10)] == ["/2", "/3", "/4"]
    assert log.total == 5
    assert log.errors == 1
