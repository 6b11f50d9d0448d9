"""A job flow end to end: the API and worker run from their deployed task definitions, against the emulator.

A job crosses four resources (input bucket, API, queue, worker) and two task definitions; each can be
wired wrong in a way no single setting shows (a queue URL pointing elsewhere, a bucket the worker cannot
read, a missing redrive policy). This probe runs the real path, as the app's contract describes it
(`jobs` in stackprobe-contract.yaml, see `stackprobe.probes.contract`):

- end to end: write the contract's seed objects, upload the job's input through the app's pre-signed
  upload route (`presigned_upload`), submit the job, see the message in the queue
  *before* any worker runs, run the worker until it exits, and read the job's state back as done;
- dead letter: submit a job whose input does not exist, run the worker until the queue's redrive policy
  has moved the message (maxReceiveCount receives), find it in the dead-letter queue, and read the job
  back as failed.

What is not the task definition's is named in the evidence: the seed objects (removed afterwards) and
the worker settings that make it stop by itself (`worker_environment`).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.probes.addresses import AddressMap
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import StandIns
from stackprobe.probes.contract import JobsContract, UploadContract, fill
from stackprobe.probes.process import AppStartError

PROBE_INPUT = b"stackprobe job probe input\n"
HTTP_TIMEOUT = 10.0
# Loopback only: a proxy in this process's environment must not see the probe's requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProbeFailed(Exception):
    """A step of the flow failed; the message is the evidence for that step."""


@dataclass(frozen=True)
class JobServices:
    """The API and worker task definitions of one job flow, the API's traffic port, and the addresses each
    service's containers are given (the local datastores behind the endpoints they name)."""

    api_task_definition: str
    worker_task_definition: str
    api_port: int | None = None
    api_addresses: AddressMap = field(default_factory=AddressMap)
    worker_addresses: AddressMap = field(default_factory=AddressMap)


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


@dataclass(frozen=True)
class JobProbe:
    """What one flow needs besides the deployment: the contract and how to run its containers."""

    contract: JobsContract
    upload: UploadContract
    stand_ins: StandIns

    def launch(self, backend: AwsBackend, task_definition: str, container: str, **kwargs: Any) -> TaskLaunch:
        how = self.stand_ins.command(container)
        if how is None:
            raise ProbeFailed(f"container {container} is not configured to run locally")
        return TaskLaunch.from_task_definition(backend, task_definition, how, run_dir=self.stand_ins.run_dir, **kwargs)


def _http(method: str, url: str, body: Any = None, data: bytes | None = None) -> tuple[int, Any]:
    payload = json.dumps(body).encode() if body is not None else data
    request = urllib.request.Request(url, data=payload, method=method)
    # An explicit content type: urllib would otherwise label raw bytes form-urlencoded.
    request.add_header("Content-Type", "application/json" if body is not None else "application/octet-stream")
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
    """The API for the duration of the block; yields its base URL."""
    try:
        process = launch.process(name="api")
        process.start()
    except AppStartError as exc:
        raise ProbeFailed(f"API {launch.describe()}: {exc.evidence()}") from exc
    report.add(f"API {launch.family_revision} listening after {process.startup_seconds or 0:.1f} s")
    try:
        yield f"http://127.0.0.1:{launch.port}"
    finally:
        process.stop()


def _run_worker(
    backend: AwsBackend, probe: JobProbe, services: JobServices, polls: int, report: FlowReport, timeout: float
) -> None:
    settings = fill(dict(probe.contract.worker_environment), {"polls": str(polls)})
    launch = probe.launch(
        backend,
        services.worker_task_definition,
        probe.contract.worker_container,
        overrides=settings,
        addresses=services.worker_addresses,
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
    shown = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    report.add(f"worker {launch.family_revision} ran for {polls} receives (probe settings {shown}), exit 0")


@contextmanager
def _seeded(backend: AwsBackend, probe: JobProbe, api: TaskLaunch, report: FlowReport) -> Iterator[None]:
    """The contract's seed objects, written for the block and removed afterwards."""
    written: list[tuple[str, str]] = []
    try:
        for seed in probe.contract.seed:
            bucket = _required(api, seed.bucket_variable)
            try:
                backend.client("s3").put_object(Bucket=bucket, Key=seed.key, Body=seed.body)
            except (ClientError, BotoCoreError) as exc:
                raise ProbeFailed(f"cannot write s3://{bucket}/{seed.key}: {_error(exc)}") from exc
            written.append((bucket, seed.key))
            report.add(f"seed s3://{bucket}/{seed.key} written")
        yield
    finally:
        for bucket, key in written:
            _remove_object(backend, bucket, key)


def _remove_object(backend: AwsBackend, bucket: str, key: str) -> None:
    """Every version of an object the probe wrote, so the stack is left as it was found."""
    s3 = backend.client("s3")
    with suppress(ClientError, BotoCoreError):
        listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
        versions = [v for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])] if v["Key"] == key]
        for version in versions:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
        if not versions:
            s3.delete_object(Bucket=bucket, Key=key)


def _upload(probe: JobProbe, base_url: str, report: FlowReport) -> str:
    """Upload the job's input through the app's pre-signed upload route; returns the object key."""
    upload = probe.upload
    route = upload.route.render(filename=urllib.parse.quote(probe.contract.input_filename))
    status, body = _http("GET", f"{base_url}{route}")
    if status != 200 or not isinstance(body, dict) or not body.get(upload.url_field) or not body.get(upload.key_field):
        raise ProbeFailed(f"GET {route} answered {status}: {body}")
    put_status, answer = _http("PUT", str(body[upload.url_field]), data=PROBE_INPUT)
    if put_status != 200:
        raise ProbeFailed(f"GET {route} 200, but the presigned PUT answered {put_status}: {answer}")
    report.add(f"GET {route.split('?', 1)[0]} 200, presigned PUT of {len(PROBE_INPUT)} bytes 200")
    return str(body[upload.key_field])


def _submit(probe: JobProbe, base_url: str, input_key: str, report: FlowReport) -> str:
    submit = probe.contract.submit
    body = fill(probe.contract.submit_json, {"input_key": input_key})
    status, answer = _http(submit.method, f"{base_url}{submit.render(input_key=input_key)}", body=body)
    job_id = answer.get(probe.contract.job_id_field) if isinstance(answer, dict) else None
    if status != probe.contract.accepted_status or not job_id:
        raise ProbeFailed(f"{submit} answered {status}: {answer}")
    report.add(f"{submit} {status} job {job_id}")
    return str(job_id)


def _job_state(probe: JobProbe, base_url: str, job_id: str) -> tuple[int, Any]:
    return _http("GET", f"{base_url}{probe.contract.state.render(job_id=urllib.parse.quote(job_id))}")


def _state_of(probe: JobProbe, answer: Any) -> Any:
    return answer.get(probe.contract.state_field) if isinstance(answer, dict) else None


def _summary(answer: Any) -> str:
    return json.dumps(answer, sort_keys=True)[:300]


def end_to_end(
    backend: AwsBackend, services: JobServices, probe: JobProbe, *, worker_polls: int = 3, timeout: float = 60.0
) -> FlowReport:
    """Upload, submit a job, see it queued, run the worker, read the job's state back as done."""
    report = FlowReport()
    contract = probe.contract
    try:
        api = probe.launch(
            backend,
            services.api_task_definition,
            contract.api_container,
            traffic_port=services.api_port,
            addresses=services.api_addresses,
        )
        queue_url = _required(api, contract.queue_variable)
        queue = queue_url.rsplit("/", 1)[-1]
        with _seeded(backend, probe, api, report), _running_api(api, report) as base_url:
            key = _upload(probe, base_url, report)
            before, _ = queue_depth(backend, queue_url)
            job_id = _submit(probe, base_url, key, report)
            after, _ = queue_depth(backend, queue_url)
            if after < before + 1:
                raise ProbeFailed(f"queue {queue} visible messages {before}→{after}: the job message did not arrive")
            report.add(f"queue {queue} visible messages {before}→{after} before any worker ran")
            _run_worker(backend, probe, services, worker_polls, report, timeout)
            status, state = _job_state(probe, base_url, job_id)
            where = f"GET {contract.state.render(job_id=job_id)}"
            if status != 200 or _state_of(probe, state) != contract.done:
                raise ProbeFailed(f"{where} answered {status}: {_summary(state)} (expected {contract.done})")
            report.add(f"{where} 200: {contract.done} {_summary(state)}")
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
    backend: AwsBackend, services: JobServices, probe: JobProbe, *, max_polls_cap: int = 25, timeout: float = 90.0
) -> FlowReport:
    """A job whose input does not exist must reach the DLQ after maxReceiveCount receives, and read failed."""
    report = FlowReport()
    contract = probe.contract
    try:
        api = probe.launch(
            backend,
            services.api_task_definition,
            contract.api_container,
            traffic_port=services.api_port,
            addresses=services.api_addresses,
        )
        queue_url = _required(api, contract.queue_variable)
        dlq_url, max_receives = _dead_letter_queue(backend, queue_url)
        dlq_name = dlq_url.rsplit("/", 1)[-1]
        polls = max_receives + 2
        if polls > max_polls_cap:
            raise ProbeFailed(f"maxReceiveCount {max_receives}: more receives than this probe runs ({max_polls_cap})")
        with _seeded(backend, probe, api, report), _running_api(api, report) as base_url:
            poison = fill(contract.poison_input_key, {"token": uuid.uuid4().hex})
            dlq_before, _ = queue_depth(backend, dlq_url)
            job_id = _submit(probe, base_url, poison, report)
            _run_worker(backend, probe, services, polls, report, timeout)
            dlq_after, _ = queue_depth(backend, dlq_url)
            if not _find_in_dlq(backend, dlq_url, job_id):
                visible, in_flight = queue_depth(backend, queue_url)
                raise ProbeFailed(
                    f"job {job_id} not in DLQ {dlq_name} after {polls} receives (maxReceiveCount "
                    f"{max_receives}); source queue visible {visible}, in flight {in_flight}"
                )
            report.add(
                f"poison message in DLQ {dlq_name} ({dlq_before}→{dlq_after} messages) after "
                f"maxReceiveCount {max_receives} receives"
            )
            status, state = _job_state(probe, base_url, job_id)
            where = f"GET {contract.state.render(job_id=job_id)}"
            if status != 200 or _state_of(probe, state) != contract.failed:
                raise ProbeFailed(f"{where} answered {status}: {_summary(state)} (expected {contract.failed})")
            report.add(f"{where} 200: {contract.failed} {_summary(state)}")
            report.passed = True
    except ProbeFailed as exc:
        report.add(f"FAILED: {exc}")
    except (ClientError, BotoCoreError) as exc:
        report.add(f"FAILED: AWS error {_error(exc)}")
    return report
