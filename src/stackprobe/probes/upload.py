"""Live probe of a pre-signed upload: the app's URL, a client PUT, and where the bytes land.

Where the app declares it (`presigned_upload` in stackprobe-contract.yaml, see
`stackprobe.probes.contract`: which container answers which GET route with a pre-signed PUT URL and the
object key), every ECS service behind an ALB that runs that container is started locally the way the
user configured it (`stackprobe.probes.app.TaskLaunch`), asked for an upload URL, and a file is PUT to
the URL with a plain HTTP client, as a browser would. The object must then be in the stack's uploads
bucket, encrypted with SSE-KMS under the key that bucket is configured with: a URL that signs no SSE
headers leaves only the bucket's default encryption to put the stack's key on the object.

The uploads bucket is discovered, not named: the bucket whose CORS rules allow PUT (browsers upload
cross-origin), else the bucket the contract's `bucket_variable` names in the task, else the bucket the
URL addresses. A task whose bucket variable is not the bucket the stack opened to browser uploads fails.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws import Clients
from stackprobe.aws.policy import PolicyError, parse_policy
from stackprobe.aws.workloads import Workload
from stackprobe.errors import NotExercisable
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import StandIns
from stackprobe.probes.contract import UploadContract
from stackprobe.probes.process import AppStartError

PROBE_FILENAME = "stackprobe-upload-probe.txt"
PROBE_BODY = b"stackprobe pre-signed upload probe\n"
# Loopback only: a developer's HTTP(S)_PROXY must not intercept requests to the local app or emulator.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class UploadNotExercisable(NotExercisable):
    """The emulator itself refuses the request, so the probe would judge the emulator, not the stack."""


@dataclass(frozen=True)
class ServiceBehindAlb:
    """An ECS service registered in an ALB target group, and the container the target group reaches."""

    service_arn: str
    service_name: str
    task_definition_arn: str
    container_name: str
    container_port: int
    target_group_arn: str


@dataclass(frozen=True)
class UploadOutcome:
    passed: bool
    resource: str
    evidence: str
    ids: tuple[str, ...] = ()


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", exc))
    return f"{type(exc).__name__}: {exc}"


def services_behind_albs(ctx: Clients, workloads: Sequence[Workload], container: str) -> list[ServiceBehindAlb]:
    """Every ECS service whose load balancer entry sends `container` traffic from an ALB target group."""
    elbv2 = ctx.client("elbv2")
    found: list[ServiceBehindAlb] = []
    for workload in workloads:
        for entry in workload.load_balancers:
            if entry.get("containerName") != container:
                continue
            if _is_alb_target_group(elbv2, str(entry["targetGroupArn"])):
                found.append(
                    ServiceBehindAlb(
                        service_arn=workload.arn,
                        service_name=workload.name,
                        task_definition_arn=workload.task_definition_arn,
                        container_name=container,
                        container_port=int(entry.get("containerPort") or 0),
                        target_group_arn=str(entry["targetGroupArn"]),
                    )
                )
                break
    return found


def _is_alb_target_group(elbv2: Any, target_group_arn: str) -> bool:
    try:
        groups = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
    except ClientError:
        return False
    balancers = [arn for group in groups for arn in group.get("LoadBalancerArns", [])]
    if not balancers:
        return False
    described = elbv2.describe_load_balancers(LoadBalancerArns=balancers)["LoadBalancers"]
    return any(lb.get("Type") == "application" for lb in described)


def _cors_put_buckets(ctx: Clients) -> list[str]:
    s3 = ctx.client("s3")
    found = []
    for bucket in sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])):
        try:
            rules = s3.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
        except ClientError:
            continue
        if any("PUT" in (m.upper() for m in rule.get("AllowedMethods", [])) for rule in rules):
            found.append(bucket)
    return found


def find_uploads_bucket(ctx: Clients, declared: str | None, signed_for: str) -> tuple[str, str]:
    """(bucket, how it was found): CORS that allows PUT, then the task's own value, then the URL's bucket."""
    cors = _cors_put_buckets(ctx)
    if len(cors) == 1:
        return cors[0], "the only bucket whose CORS allows PUT"
    if declared in cors:
        return str(declared), f"one of the buckets whose CORS allows PUT ({', '.join(cors)})"
    if cors:
        return cors[0], f"the first of the buckets whose CORS allows PUT ({', '.join(cors)})"
    if declared:
        return declared, "the bucket the task declares (no bucket's CORS allows PUT)"
    return signed_for, "the bucket the URL addresses (no bucket's CORS allows PUT, and the contract names no variable)"


def _bucket_kms_key(ctx: Clients, bucket: str) -> str | None:
    """ARN of the KMS key the bucket encrypts new objects with by default, or None (not SSE-KMS)."""
    try:
        rules = ctx.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError:
        return None
    default = (rules[0] if rules else {}).get("ApplyServerSideEncryptionByDefault") or {}
    key_id = default.get("KMSMasterKeyID")
    if not str(default.get("SSEAlgorithm", "")).startswith("aws:kms") or not key_id:
        return None
    return _key_arn(ctx, str(key_id))


def _key_arn(ctx: Clients, key_id: str) -> str:
    try:
        return str(ctx.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
    except ClientError:
        return key_id


def _refuse_if_emulator_blocks(ctx: Clients, bucket: str) -> None:
    """Raise UploadNotExercisable when the emulator denies object requests whoever sends them.

    moto 5.2 evaluates bucket-policy conditions only partly: StringEquals, plus aws:SecureTransport
    through stackprobe's compat patch `s3-secure-transport-condition`. A Deny with any other condition
    (e.g. StringNotEquals aws:SourceVpce, "only through our VPC endpoint") applies to every request, so
    judging the upload would judge the emulator. A HEAD of a missing key with the harness's own
    credentials answers 404 normally and 403 in that case.
    """
    try:
        ctx.client("s3").head_object(Bucket=bucket, Key=f"stackprobe-preflight/{uuid.uuid4().hex}")
    except ClientError as exc:
        if error_status(exc) != 403:
            return
    else:
        return
    try:
        text = ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]
        denies = [s for s in parse_policy(text) if s.is_deny and s.conditions]
    except (ClientError, PolicyError):
        denies = []
    which = (
        "its policy's conditional Deny "
        + ", ".join(f"{s.label} ({'; '.join(c.render() for c in s.conditions)})" for s in denies)
        + " is applied without its condition"
        if denies
        else "its policy denies object requests"
    )
    raise UploadNotExercisable(
        f"the emulator refuses every object request to bucket {bucket} (a HEAD of a missing key with the "
        f"harness's own credentials answers 403): {which}. moto 5.2 evaluates only StringEquals (and, with "
        "stackprobe's compat patch, aws:SecureTransport) in bucket policies; a compat patch for this "
        "condition would let the probe run"
    )


def error_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _http_json(url: str) -> tuple[int, Any]:
    try:
        with _OPENER.open(url, timeout=10) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body.decode(errors="replace")[:200]


def _put(url: str, body: bytes) -> tuple[int, str]:
    # An explicit Content-Type: urllib would label the body form-urlencoded, which moto's server parses
    # as a form and stores as an empty object. Content-Type is not signed, so any value is accepted.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/octet-stream"})
    try:
        with _OPENER.open(request, timeout=10) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:300]


def _bucket_of(url: str) -> str:
    """The bucket a pre-signed URL addresses (path style on a loopback endpoint, or virtual-hosted)."""
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    if ".s3." in host or host.endswith(".s3.amazonaws.com"):
        return host.split(".s3", 1)[0]
    return parsed.path.lstrip("/").split("/", 1)[0]


def _remove_object(ctx: Clients, bucket: str, key: str) -> None:
    """Delete every version of the probe object, so the stack is left as it was found."""
    s3 = ctx.client("s3")
    try:
        listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
        versions = [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
        for version in versions:
            if version.get("Key") == key:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
        if not versions:
            s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError):
        pass  # best effort: a probe object left behind is visible in the bucket and harmless


def probe_presigned_uploads(
    ctx: Clients, workloads: Sequence[Workload], contract: UploadContract, stand_ins: StandIns
) -> Iterator[UploadOutcome]:
    """One outcome per service behind an ALB that runs the contract's container (configured in `stand_ins`)."""
    how = stand_ins.command(contract.container)
    if how is None:
        return
    for service in services_behind_albs(ctx, workloads, contract.container):
        launch = TaskLaunch.from_task_definition(
            ctx.backend,
            service.task_definition_arn,
            how,
            run_dir=stand_ins.run_dir,
            traffic_port=service.container_port,
        )
        yield _probe_one(ctx, contract, service, launch)


def _probe_one(ctx: Clients, contract: UploadContract, service: ServiceBehindAlb, launch: TaskLaunch) -> UploadOutcome:
    variable = contract.bucket_variable
    declared = launch.task_env.get(variable) if variable else None
    ids = (service.service_arn, launch.task_definition_arn)
    task = launch.describe()
    route = contract.route.render(filename=urllib.parse.quote(PROBE_FILENAME))
    try:
        with launch.process() as process:
            status, answer = _http_json(f"http://127.0.0.1:{process.listen_port}{route}")
    except AppStartError as exc:
        return UploadOutcome(False, declared or service.service_name, f"the API did not start: {exc.evidence()}", ids)
    fields = (contract.url_field, contract.key_field)
    if status != 200 or not isinstance(answer, dict) or any(f not in answer for f in fields):
        expected = f"200 with {' and '.join(fields)}"
        return UploadOutcome(
            False,
            declared or service.service_name,
            f"GET {route} answered {status} {answer!r}, not {expected} ({task})",
            ids,
        )
    url, key = str(answer[contract.url_field]), str(answer[contract.key_field])
    signed_for = _bucket_of(url)
    bucket, how = find_uploads_bucket(ctx, declared, signed_for)
    if signed_for != bucket:
        named = f" ({variable}={declared})" if variable else ""
        return UploadOutcome(
            False,
            bucket,
            f"the API signs uploads for bucket {signed_for}{named}, but the uploads bucket is {bucket} ({how}); {task}",
            ids,
        )
    expected_key = _bucket_kms_key(ctx, bucket)
    _refuse_if_emulator_blocks(ctx, bucket)
    put_status, put_error = _put(url, PROBE_BODY)
    try:
        if put_status != 200:
            return UploadOutcome(
                False, bucket, f"PUT to the pre-signed URL answered {put_status} {put_error}; {task}", ids
            )
        asked = f"GET {contract.route.path.split('?', 1)[0]}"
        return _judge_object(ctx, bucket, key, expected_key, asked, how, task, ids)
    finally:
        _remove_object(ctx, bucket, key)


def _judge_object(
    ctx: Clients,
    bucket: str,
    key: str,
    expected_key: str | None,
    asked: str,
    how: str,
    task: str,
    ids: tuple[str, ...],
) -> UploadOutcome:
    try:
        head = ctx.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return UploadOutcome(
            False, bucket, f"PUT answered 200 but HEAD s3://{bucket}/{key} failed: {_error_code(exc)}", ids
        )
    sse = head.get("ServerSideEncryption") or "none"
    landed_key = _key_arn(ctx, str(head["SSEKMSKeyId"])) if head.get("SSEKMSKeyId") else None
    seen = f"s3://{bucket}/{key}: ServerSideEncryption={sse}" + (f", SSEKMSKeyId={landed_key}" if landed_key else "")
    where = f"(uploads bucket: {how}; {task})"
    if expected_key is None:
        return UploadOutcome(
            False,
            bucket,
            f"{seen}; the bucket has no default SSE-KMS key, so uploads are not encrypted with the stack's key {where}",
            ids,
        )
    passed = sse == "aws:kms" and landed_key == expected_key
    expectation = "" if passed else f"; expected aws:kms with {expected_key}"
    return UploadOutcome(passed, bucket, f"{asked}, PUT 200 → {seen}{expectation} {where}", ids)
