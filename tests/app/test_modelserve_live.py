"""The app as the live probes run it: separate processes talking to a moto server via AWS_ENDPOINT_URL."""

from __future__ import annotations

import hashlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import boto3
import pytest
from modelserve.api import create_app
from modelserve_testlib import (
    FAKE_CREDENTIALS,
    REGION,
    UPLOADS_BUCKET,
    Database,
    MemoryJobStore,
    base_env,
    build_stack,
    empty_app_services,
    subprocess_env,
)
from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.app

# Loopback only: an HTTP(S)_PROXY in the developer's environment must not intercept these calls.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Emulator:
    endpoint: str
    s3: S3Client
    queue_url: str
    dlq_url: str
    kms_key_arn: str

    def env(self, **extra: str) -> dict[str, str]:
        return subprocess_env({**base_env(self.queue_url), "AWS_ENDPOINT_URL": self.endpoint, **extra})


# What ECS allows between SIGTERM and SIGKILL (stopTimeout, 30 s by default): the contract the app must meet.
ECS_STOP_TIMEOUT = 30


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    kms = session.client("kms", endpoint_url=endpoint)
    empty_app_services()
    try:
        queue_url, dlq_url = build_stack(s3, sqs)
        key_arn = kms.create_key(Description="uploads")["KeyMetadata"]["Arn"]
        # The uploads bucket encrypts by default with SSE-KMS, as the Terraform declares it.
        s3.put_bucket_encryption(
            Bucket=UPLOADS_BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        }
                    }
                ]
            },
        )
        s3.put_object(
            Bucket="sp-test-models",
            Key="models/toy.json",
            Body=json.dumps({"labels": ["cat", "dog"], "weights": [[1.0], [0.0]], "bias": [0.0, 0.5]}).encode(),
        )
        yield Emulator(endpoint=endpoint, s3=s3, queue_url=queue_url, dlq_url=dlq_url, kms_key_arn=key_arn)
    finally:
        server.stop()
        empty_app_services()


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def put_bytes(url: str, data: bytes) -> int:
    # An explicit type: urllib would otherwise label the body form-urlencoded, which moto's server
    # parses as a form and stores as an empty object. Content-Type is not signed, so any value works.
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "image/png"})
    with _OPENER.open(request, timeout=10) as response:
        return int(response.status)


class LineReader:
    """Drains a child's stderr on a thread so the child never blocks on a full pipe."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, needle: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} not seen in child output:\n{''.join(self.seen)}")


def test_presigned_upload_url_accepts_a_plain_put_and_bucket_sse_kms_applies(
    emulator: Emulator, clean_aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    client = create_app(store=MemoryJobStore()).test_client()  # type: ignore[arg-type]
    body = client.get("/upload-url?filename=cat.jpg").get_json()
    assert body["url"].startswith(f"{emulator.endpoint}/{UPLOADS_BUCKET}/uploads/")

    # No extra headers: the signature covers only the host, so any HTTP client can upload.
    assert put_bytes(body["url"], b"meow") == 200

    head = emulator.s3.head_object(Bucket=UPLOADS_BUCKET, Key=body["key"])
    assert emulator.s3.get_object(Bucket=UPLOADS_BUCKET, Key=body["key"])["Body"].read() == b"meow"
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == emulator.kms_key_arn


def test_processes_end_to_end_as_the_probes_run_them(emulator: Emulator, database: Database) -> None:
    api = subprocess.Popen(
        [sys.executable, "-m", "modelserve.api", "--host", "127.0.0.1", "--port", "0"],
        env=emulator.env(**database.env()),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert api.stderr is not None
        line = LineReader(api.stderr).wait_for("listening on http://127.0.0.1:")
        base = line.strip().rsplit(" ", 1)[1]
        port = base.rsplit(":", 1)[1]

        assert http("GET", f"{base}/health") == (200, {"status": "ok"})
        status, ready = http("GET", f"{base}/ready")
        assert (status, ready["status"]) == (200, "ready"), ready

        status, upload = http("GET", f"{base}/upload-url?filename=photo.png")
        assert status == 200
        image = b"\x89PNG\r\n\x1a\n not really a png"
        assert put_bytes(upload["url"], image) == 200
        status, started = http("POST", f"{base}/start-job", {"image_key": upload["key"], "model": "toy"})
        assert status == 202
        job_id = started["job_id"]
        assert http("GET", f"{base}/job/{job_id}/results")[1]["status"] == "queued"

        worker = subprocess.run(
            [sys.executable, "-m", "modelserve.worker"],
            env=emulator.env(WORKER_WAIT_SECONDS="1", WORKER_MAX_POLLS="1"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert worker.returncode == 0, worker.stderr
        status, state = http("GET", f"{base}/job/{job_id}/results")
        digest = hashlib.sha256(image).digest()
        # toy model: cat = first feature, dog = 0.5
        expected_label = "cat" if round(digest[0] / 255, 6) >= 0.5 else "dog"
        assert status == 200
        assert (state["status"], state["result"]["sha256"]) == ("done", digest.hex())
        assert state["result"]["label"] == expected_label

        probe = subprocess.run(
            [sys.executable, "-m", "modelserve.healthcheck"],
            env=emulator.env(APP_PORT=port),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (probe.returncode, probe.stdout.strip()) == (0, f"healthy: GET {base}/health -> 200")

        api.send_signal(signal.SIGTERM)
        assert api.wait(timeout=ECS_STOP_TIMEOUT) == 0
    finally:
        if api.poll() is None:
            api.kill()
            api.wait()


def test_worker_exits_0_on_sigterm(emulator: Emulator) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "modelserve.worker"],
        env=emulator.env(WORKER_WAIT_SECONDS="1"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert worker.stderr is not None
        reader = LineReader(worker.stderr)
        reader.wait_for("polling ")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=ECS_STOP_TIMEOUT) == 0
        reader.wait_for("stopped after the current message", timeout=2)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
