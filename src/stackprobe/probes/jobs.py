"""The job flow end to end: API and worker run from their deployed task definitions, against the emulator.

A job crosses four resources (uploads bucket, API, queue, worker) and two task definitions; each can be
wired wrong in a way no single setting shows (a queue URL pointing elsewhere, a bucket the worker cannot
read, a missing redrive policy). This probe runs the real path:

- end to end: upload an image through `/upload-url` (a presigned PUT), `POST /start-job`, see the message
  in the queue *before* any worker runs, run the worker, and read `GET /job/<id>/results` back as done;
- dead letter: start a job whose image does not exist, run the worker until the queue's redrive policy
  has moved the message (maxReceiveCount receives), find it in the dead-letter queue, and read the job
  back as failed.

Probe settings that are not the task definition's are named in the evidence: a toy model written to the
models bucket (`models/stackprobe-probe.json`), and `WORKER_MAX_POLLS`/`WORKER_WAIT_SECONDS` so the
worker stops on its own.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.probes.app import AppStartError, LocalProcess, TaskLaunch

PROBE_MODEL = "stackprobe-probe"
PROBE_MODEL_DOCUMENT = {"labels": ["cat", "dog"], "weights": [[1.0], [0.0]], "bias": [0.0, 0.5]}
PROBE_IMAGE = b"\x89PNG\r\n\x1a\nstackprobe probe image"
WORKER_WAIT_SECONDS = 1
HTTP_TIMEOUT = 10.0
# Loopback only: a proxy in this process's environment must not see the probe's requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProbeFailed(Exception):
    """A step of the flow failed; the message is the evidence for that step."""


@dataclass(frozen=True)
class JobServices:
    """The API and worker task definitions of one job flow (and their containers)."""

    api_task_definition: str
    api_container: str
    worker_task_definition: str
    worker_container: str


@dataclass
class FlowReport:
    """The steps taken, in order; `passed` only when the last step completed the flow."""

    steps: list[str] = field(default_factory=list)
    passed: bool = False

    def add(self, text: str) -> None:
        self.steps.append(text)

    @property
    def evidence(self) -> str:
        return " → ".join(self.steps)


def _http(
    method: str, url: str, body: Any = None, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    payload = json.dumps(body).encode() if body is not None else data
    request = urllib.request.Request(url, data=payload, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
            raw = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError) as exc:
        raise ProbeFailed(f"{method} {url.split('?')[0]} failed: {exc}") from exc
    try:
        return status, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")[:200]


def _error(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", exc))
    return str(exc)


def queue_depth(backend: AwsBackend, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = backend.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _required(launch: TaskLaunch, name: str) -> str:
    value = launch.task_env.get(name, "").strip()
    if not value:
        raise ProbeFailed(f"{launch.family_revision} declares no {name}")
    return value


@contextmanager
def _running_api(launch: TaskLaunch, report: FlowReport) -> Iterator[str]:
    """The API process for the duration of the block; yields its base URL."""
    try:
        process = launch.process(name="api")
        process.start()
    except AppStartError as exc:
        raise ProbeFailed(f"API {launch.describe()}: {exc.evidence()}") from exc
    report.add(f"API {launch.family_revision} listening after {process.startup_seconds or 0:.1f} s")
    try:
        yield f"http://127.0.0.1:{launch.listen_port}"
    finally:
        process.stop()


def _run_worker(
    backend: AwsBackend, services: JobServices, app_dir: Path | None, polls: int, report: FlowReport, timeout: float
) -> LocalProcess:
    launch = TaskLaunch.from_task_definition(
        backend,
        services.worker_task_definition,
        services.worker_container,
        app_dir=app_dir,
        overrides={"WORKER_MAX_POLLS": str(polls), "WORKER_WAIT_SECONDS": str(WORKER_WAIT_SECONDS)},
    )
    try:
        process = launch.process(name="worker")
    except AppStartError as exc:
        raise ProbeFailed(f"worker {launch.describe()}: {exc}") from exc
    process.spawn()
    try:
        code = process.wait(timeout)
    except TimeoutError as exc:
        raise ProbeFailed(f"worker {launch.family_revision}: {exc}; {process.tail()}") from exc
    if code != 0:
        raise ProbeFailed(f"worker {launch.family_revision} exited {code}: {process.tail()}")
    report.add(
        f"worker {launch.family_revision} ran {polls} polls (probe settings WORKER_MAX_POLLS={polls}, "
        f"WORKER_WAIT_SECONDS={WORKER_WAIT_SECONDS}), exit 0"
    )
    return process


def _put_probe_model(backend: AwsBackend, models_bucket: str, report: FlowReport) -> None:
    try:
        backend.client("s3").put_object(
            Bucket=models_bucket, Key=f"models/{PROBE_MODEL}.json", Body=json.dumps(PROBE_MODEL_DOCUMENT).encode()
        )
    except (ClientError, BotoCoreError) as exc:
        raise ProbeFailed(f"cannot write the probe model to {models_bucket}: {_error(exc)}") from exc
    report.add(f"probe model models/{PROBE_MODEL}.json written to {models_bucket}")


def _upload(backend: AwsBackend, base_url: str, uploads_bucket: str, report: FlowReport) -> str:
    """Upload through /upload-url; falls back to a direct PutObject, and says so."""
    status, body = _http("GET", f"{base_url}/upload-url?filename=probe.png")
    if status == 200 and isinstance(body, dict) and body.get("url") and body.get("key"):
        # An explicit content type: urllib would otherwise send a form content type the signature ignores.
        put_status, _ = _http("PUT", str(body["url"]), data=PROBE_IMAGE, headers={"Content-Type": "image/png"})
        if put_status == 200:
            report.add(f"GET /upload-url 200, presigned PUT of {len(PROBE_IMAGE)} bytes 200 ({body['key']})")
            return str(body["key"])
        failure = f"presigned PUT answered {put_status}"
    else:
        failure = f"GET /upload-url answered {status}: {body}"
    key = f"uploads/stackprobe-probe/{uuid.uuid4()}/probe.png"
    try:
        backend.client("s3").put_object(Bucket=uploads_bucket, Key=key, Body=PROBE_IMAGE)
    except (ClientError, BotoCoreError) as exc:
        raise ProbeFailed(f"{failure}; direct upload to {uploads_bucket} failed too: {_error(exc)}") from exc
    report.add(f"{failure}; uploaded directly with PutObject instead ({key})")
    return key


def _start_job(base_url: str, image_key: str, report: FlowReport) -> str:
    status, body = _http("POST", f"{base_url}/start-job", body={"image_key": image_key, "model": PROBE_MODEL})
    if status != 202 or not isinstance(body, dict) or not body.get("job_id"):
        raise ProbeFailed(f"POST /start-job answered {status}: {body}")
    report.add(f"POST /start-job 202 job {body['job_id']}")
    return str(body["job_id"])


def _job_state(base_url: str, job_id: str) -> tuple[int, Any]:
    return _http("GET", f"{base_url}/job/{job_id}/results")


def end_to_end(
    backend: AwsBackend,
    services: JobServices,
    *,
    app_dir: Path | None = None,
    worker_polls: int = 3,
    timeout: float = 60.0,
) -> FlowReport:
    """Upload, start a job, see it queued, run the worker, read the result back as done."""
    report = FlowReport()
    try:
        api = TaskLaunch.from_task_definition(
            backend, services.api_task_definition, services.api_container, app_dir=app_dir
        )
        queue_url = _required(api, "JOBS_QUEUE_URL")
        _put_probe_model(backend, _required(api, "MODELS_BUCKET"), report)
        with _running_api(api, report) as base_url:
            key = _upload(backend, base_url, _required(api, "UPLOADS_BUCKET"), report)
            before, _ = queue_depth(backend, queue_url)
            job_id = _start_job(base_url, key, report)
            after, _ = queue_depth(backend, queue_url)
            if after < before + 1:
                raise ProbeFailed(
                    f"queue {queue_url.rsplit('/', 1)[-1]} visible messages {before}→{after}: "
                    "the job message did not arrive"
                )
            report.add(f"queue {queue_url.rsplit('/', 1)[-1]} visible messages {before}→{after} before any worker ran")
            _run_worker(backend, services, app_dir, worker_polls, report, timeout)
            status, state = _job_state(base_url, job_id)
            if status != 200 or not isinstance(state, dict) or state.get("status") != "done" or not state.get("result"):
                raise ProbeFailed(f"GET /job/{job_id}/results answered {status}: {state}")
            result = state["result"]
            report.add(
                f"GET /job/{job_id}/results 200: done, label {result.get('label')}, "
                f"sha256 {str(result.get('sha256', ''))[:12]}…"
            )
            report.passed = True
    except ProbeFailed as exc:
        report.add(f"FAILED: {exc}")
    except (ClientError, BotoCoreError) as exc:
        report.add(f"FAILED: AWS error {_error(exc)}")
    return report


def _dead_letter_queue(backend: AwsBackend, queue_url: str) -> tuple[str, int]:
    """(DLQ URL, maxReceiveCount) from the queue's RedrivePolicy; raises ProbeFailed without one."""
    sqs = backend.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if not attributes.get("RedrivePolicy"):
        raise ProbeFailed(f"queue {queue_url.rsplit('/', 1)[-1]} has no RedrivePolicy: a poison job is retried forever")
    policy = json.loads(attributes["RedrivePolicy"])
    arn = str(policy["deadLetterTargetArn"])
    _, _, _, region, account, name = arn.split(":", 5)
    dlq_url = backend.client("sqs", region_name=region).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
    return str(dlq_url["QueueUrl"]), int(policy["maxReceiveCount"])


def _find_in_dlq(backend: AwsBackend, dlq_url: str, job_id: str) -> bool:
    sqs = backend.client("sqs")
    # VisibilityTimeout 0: looking must not hide the messages from anyone else.
    for _ in range(3):
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
        if any(job_id in message.get("Body", "") for message in messages):
            return True
        time.sleep(0.2)
    return False


def dead_letter(
    backend: AwsBackend,
    services: JobServices,
    *,
    app_dir: Path | None = None,
    max_polls_cap: int = 25,
    timeout: float = 90.0,
) -> FlowReport:
    """A job whose image does not exist must reach the DLQ after maxReceiveCount receives, and read failed."""
    report = FlowReport()
    try:
        api = TaskLaunch.from_task_definition(
            backend, services.api_task_definition, services.api_container, app_dir=app_dir
        )
        queue_url = _required(api, "JOBS_QUEUE_URL")
        dlq_url, max_receives = _dead_letter_queue(backend, queue_url)
        dlq_name = dlq_url.rsplit("/", 1)[-1]
        polls = max_receives + 2
        if polls > max_polls_cap:
            raise ProbeFailed(f"maxReceiveCount {max_receives}: more receives than this probe runs ({max_polls_cap})")
        _put_probe_model(backend, _required(api, "MODELS_BUCKET"), report)
        with _running_api(api, report) as base_url:
            poison = f"uploads/stackprobe-poison/{uuid.uuid4()}/missing.png"
            dlq_before, _ = queue_depth(backend, dlq_url)
            job_id = _start_job(base_url, poison, report)
            _run_worker(backend, services, app_dir, polls, report, timeout)
            dlq_after, _ = queue_depth(backend, dlq_url)
            if not _find_in_dlq(backend, dlq_url, job_id):
                visible, in_flight = queue_depth(backend, queue_url)
                raise ProbeFailed(
                    f"job {job_id} not in DLQ {dlq_name} after {polls} polls (maxReceiveCount "
                    f"{max_receives}); source queue visible {visible}, in flight {in_flight}"
                )
            report.add(
                f"poison message in DLQ {dlq_name} ({dlq_before}→{dlq_after} messages) after "
                f"maxReceiveCount {max_receives} receives"
            )
            status, state = _job_state(base_url, job_id)
            if status != 200 or not isinstance(state, dict) or state.get("status") != "failed":
                raise ProbeFailed(f"GET /job/{job_id}/results answered {status}: {state} (expected status failed)")
            report.add(
                f"GET /job/{job_id}/results 200: failed after {state.get('attempts')} attempts ({state.get('error')})"
            )
            report.passed = True
    except ProbeFailed as exc:
        report.add(f"FAILED: {exc}")
    except (ClientError, BotoCoreError) as exc:
        report.add(f"FAILED: AWS error {_error(exc)}")
    return report
