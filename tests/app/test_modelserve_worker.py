"""Job worker against an in-process moto account: success, poison messages and the DLQ."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pytest
from flask.testing import FlaskClient
from modelserve import worker
from modelserve.api import create_app
from modelserve.config import load_worker_config
from modelserve_testlib import MAX_RECEIVE_COUNT, UPLOADS_BUCKET, MemoryJobStore, Stack

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

pytestmark = pytest.mark.app


@pytest.fixture
def client(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("WORKER_WAIT_SECONDS", "0")
    return create_app(store=MemoryJobStore()).test_client()  # type: ignore[arg-type]


def start(client: FlaskClient, image_key: str, model: str = "toy") -> str:
    response = client.post("/start-job", json={"image_key": image_key, "model": model})
    assert response.status_code == 202
    job_id: str = response.get_json()["job_id"]
    return job_id


def test_good_job_is_classified_stored_and_deleted(stack: Stack, client: FlaskClient) -> None:
    data = b"\xff\xd8\xff fake jpeg payload"
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key="uploads/u1/cat.jpg", Body=data)
    job_id = start(client, "uploads/u1/cat.jpg")

    assert worker.process_once() == 1

    digest = hashlib.sha256(data).digest()
    a, b = digest[0] / 255, digest[1] / 255
    scores = {"cat": round(a, 6), "dog": round(b, 6), "fox": round((a + b) / 2 + 0.1, 6)}
    state = client.get(f"/job/{job_id}/results").get_json()
    assert state == {
        "job_id": job_id,
        "status": "done",
        "image_key": "uploads/u1/cat.jpg",
        "model": "toy",
        "attempts": 1,
        "result": {
            "label": max(scores, key=lambda k: scores[k]),
            "scores": scores,
            "sha256": digest.hex(),
            "size": len(data),
        },
    }
    assert stack.queue_depth(stack.queue_url) == (0, 0)
    assert stack.queue_depth(stack.dlq_url) == (0, 0)
    assert worker.process_once() == 0


def test_poison_job_is_retried_promptly_then_lands_in_the_dlq(stack: Stack, client: FlaskClient) -> None:
    job_id = start(client, "uploads/missing/cat.jpg")

    # Attempt 1: handed back with visibility 0, so it is receivable again at once (not after 30 s).
    assert worker.process_once() == 1
    assert stack.queue_depth(stack.queue_url) == (1, 0)
    state = stack.state(job_id)
    assert (state["status"], state["attempts"]) == ("queued", 1)
    assert "cannot read image 'uploads/missing/cat.jpg'" in state["error"]

    # Attempt 2 is the last delivery the redrive policy allows: the job is now failed.
    assert worker.process_once() == 1
    state = stack.state(job_id)
    assert (state["status"], state["attempts"]) == ("failed", MAX_RECEIVE_COUNT)

    # The next receive moves the message to the DLQ instead of delivering it.
    assert worker.process_once() == 0
    assert stack.queue_depth(stack.queue_url) == (0, 0)
    [dead] = stack.sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(dead["Body"]) == {
        "job_id": job_id,
        "image_key": "uploads/missing/cat.jpg",
        "model": "toy",
    }
    assert client.get(f"/job/{job_id}/results").get_json()["status"] == "failed"


def test_missing_model_fails_the_job(stack: Stack, client: FlaskClient) -> None:
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key="uploads/u2/dog.jpg", Body=b"dog")
    job_id = start(client, "uploads/u2/dog.jpg", model="absent")
    assert worker.process_once() == 1
    state = stack.state(job_id)
    assert state["status"] == "queued"
    assert state["error"] == "model 'absent' not found"
    assert stack.queue_depth(stack.queue_url) == (1, 0)


@pytest.mark.parametrize(
    "body",
    ["{not json", json.dumps({"job_id": "x", "image_key": "uploads/a", "model": "toy"}), json.dumps([1])],
)
def test_malformed_message_is_never_deleted_and_reaches_the_dlq(stack: Stack, client: FlaskClient, body: str) -> None:
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    for _ in range(MAX_RECEIVE_COUNT):
        assert worker.process_once() == 1
    assert worker.process_once() == 0
    assert stack.queue_depth(stack.dlq_url) == (1, 0)
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=UPLOADS_BUCKET, Prefix="results/")


def test_one_bad_message_does_not_block_a_good_one_in_the_same_batch(stack: Stack, client: FlaskClient) -> None:
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key="uploads/u3/a.jpg", Body=b"a")
    bad = start(client, "uploads/u3/missing.jpg")
    good = start(client, "uploads/u3/a.jpg")
    assert worker.process_once(max_messages=10) == 2
    assert stack.state(good)["status"] == "done"
    assert stack.state(bad)["status"] == "queued"
    assert stack.queue_depth(stack.queue_url) == (1, 0)


def test_main_runs_the_requested_number_of_polls(
    stack: Stack, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key="uploads/u4/a.jpg", Body=b"a")
    first, second = start(client, "uploads/u4/a.jpg"), start(client, "uploads/u4/a.jpg")
    monkeypatch.setenv("WORKER_MAX_POLLS", "1")
    assert worker.main() == 0
    assert sorted(client.get(f"/job/{j}/results").get_json()["status"] for j in (first, second)) == ["done", "queued"]


def test_main_fails_fast_on_an_unreachable_queue(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBS_QUEUE_URL", stack.queue_url.rsplit("/", 1)[0] + "/no-such-queue")
    assert worker.main() == 1
    assert "cannot access JOBS_QUEUE_URL: AWS.SimpleQueueService.NonExistentQueue" in capsys.readouterr().err


def test_stop_request_hands_back_the_rest_of_a_batch(stack: Stack, client: FlaskClient) -> None:
    stack.s3.put_object(Bucket=UPLOADS_BUCKET, Key="uploads/u5/a.jpg", Body=b"a")
    jobs = [start(client, "uploads/u5/a.jpg") for _ in range(3)]
    w = worker.Worker(load_worker_config())
    original = w._handle

    def handle_then_stop(message: MessageTypeDef) -> None:
        original(message)
        w.request_stop()

    w._handle = handle_then_stop  # type: ignore[method-assign]
    assert w.process_once(max_messages=10) == 3
    statuses = [client.get(f"/job/{j}/results").get_json()["status"] for j in jobs]
    assert statuses.count("done") == 1
    # The other two were released, not left invisible for the 30 s visibility timeout.
    assert stack.queue_depth(stack.queue_url) == (2, 0)
