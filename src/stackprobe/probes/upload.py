"""Live probe of the upload path: the API's pre-signed URL, a client PUT, and where the bytes land.

The deployed API service is found the way traffic finds it (the ECS service registered in an ALB
target group); the reference app is started locally with that task definition's environment
(`probes.app.TaskLaunch`), asked for `GET /upload-url`, and a file is PUT to the URL with a plain
HTTP client, as a browser would. The object must then be in the stack's uploads bucket, encrypted
with SSE-KMS under the key that bucket is configured with: the URL signs no SSE headers, so only the
bucket's default encryption can put the stack's key on the object.

The uploads bucket is discovered, not named: the bucket whose CORS rules allow PUT (browsers upload
cross-origin), else the `uploads_bucket` output as a hint, else what the task declares. A task whose
UPLOADS_BUCKET is not the bucket the stack opened to browser uploads fails.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws import DeployedAccount
from stackprobe.aws.workloads import discover_workloads
from stackprobe.aws_policy import PolicyError, parse_policy
from stackprobe.errors import NotExercisable
from stackprobe.probes.app import AppStartError, TaskLaunch

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


def services_behind_albs(ctx: DeployedAccount) -> list[ServiceBehindAlb]:
    """Every ECS service running the reference app whose load balancer entry names an ALB target group."""
    elbv2 = ctx.client("elbv2")
    found: list[ServiceBehindAlb] = []
    for workload in discover_workloads(ctx):
        if not workload.runs_reference_app():
            continue  # only the reference app can stand in for the container locally
        for entry in workload.load_balancers:
            if _is_alb_target_group(elbv2, str(entry["targetGroupArn"])):
                found.append(
                    ServiceBehindAlb(
                        service_arn=workload.arn,
                        service_name=workload.name,
                        task_definition_arn=workload.task_definition_arn,
                        container_name=str(entry.get("containerName", "")),
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


def _cors_put_buckets(ctx: DeployedAccount) -> list[str]:
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


def _output_hint(ctx: DeployedAccount, name: str) -> str | None:
    value = ctx.outputs.get(name)
    if isinstance(value, dict):  # `terraform output -json` shape: {"value": ..., "type": ...}
        value = value.get("value")
    return value if isinstance(value, str) and value else None


def find_uploads_bucket(ctx: DeployedAccount, declared: str) -> tuple[str, str]:
    """(bucket, how it was found): CORS that allows PUT, then the output hint, then the task's own value."""
    cors = _cors_put_buckets(ctx)
    if len(cors) == 1:
        return cors[0], "the only bucket whose CORS allows PUT"
    if declared in cors:
        return declared, f"one of the buckets whose CORS allows PUT ({', '.join(cors)})"
    hint = _output_hint(ctx, "uploads_bucket")
    if hint:
        return hint, "the uploads_bucket output" + (f"; CORS allows PUT on {', '.join(cors)}" if cors else "")
    if cors:
        return cors[0], f"the first of the buckets whose CORS allows PUT ({', '.join(cors)})"
    return declared, "UPLOADS_BUCKET as the task declares it (no bucket's CORS allows PUT)"


def _bucket_kms_key(ctx: DeployedAccount, bucket: str) -> str | None:
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


def _key_arn(ctx: DeployedAccount, key_id: str) -> str:
    try:
        return str(ctx.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
    except ClientError:
        return key_id


def _refuse_if_emulator_blocks(ctx: DeployedAccount, bucket: str) -> None:
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


def _remove_object(ctx: DeployedAccount, bucket: str, key: str) -> None:
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


def probe_presigned_uploads(ctx: DeployedAccount) -> Iterator[UploadOutcome]:
    """One outcome per reference-app service behind an ALB whose task declares UPLOADS_BUCKET; none without the app."""
    app_dir = ctx.app_dir
    if app_dir is None or not (app_dir / "modelserve").is_dir():
        return
    for service in services_behind_albs(ctx):
        launch = TaskLaunch.from_task_definition(
            ctx.backend, service.task_definition_arn, service.container_name or None, app_dir=app_dir
        )
        declared = launch.task_env.get("UPLOADS_BUCKET")
        if declared is None:
            continue  # not the reference app's upload contract: nothing this probe can exercise
        yield _probe_one(ctx, service, launch, declared)


def _probe_one(ctx: DeployedAccount, service: ServiceBehindAlb, launch: TaskLaunch, declared: str) -> UploadOutcome:
    bucket, how = find_uploads_bucket(ctx, declared)
    ids = (service.service_arn, launch.task_definition_arn)
    task = launch.describe()
    expected_key = _bucket_kms_key(ctx, bucket)
    _refuse_if_emulator_blocks(ctx, bucket)
    try:
        with launch.process() as process:
            status, answer = _http_json(f"http://127.0.0.1:{process.listen_port}/upload-url?filename={PROBE_FILENAME}")
    except AppStartError as exc:
        return UploadOutcome(False, bucket, f"the API did not start with {task}: {exc.evidence()}", ids)
    if status != 200 or not isinstance(answer, dict) or "url" not in answer or "key" not in answer:
        return UploadOutcome(False, bucket, f"GET /upload-url answered {status} {answer!r} ({task})", ids)
    url, key = str(answer["url"]), str(answer["key"])
    signed_for = _bucket_of(url)
    if signed_for != bucket:
        return UploadOutcome(
            False,
            bucket,
            f"the API signs uploads for bucket {signed_for} (UPLOADS_BUCKET={declared}), but the uploads "
            f"bucket is {bucket} ({how}); {task}",
            ids,
        )
    put_status, put_error = _put(url, PROBE_BODY)
    try:
        if put_status != 200:
            return UploadOutcome(
                False, bucket, f"PUT to the pre-signed URL answered {put_status} {put_error}; {task}", ids
            )
        return _judge_object(ctx, bucket, key, expected_key, how, task, ids)
    finally:
        _remove_object(ctx, bucket, key)


def _judge_object(
    ctx: DeployedAccount, bucket: str, key: str, expected_key: str | None, how: str, task: str, ids: tuple[str, ...]
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
    hint = _output_hint(ctx, "kms_key_arn")
    note = f"; note: the kms_key_arn output is {hint}" if hint and _key_arn(ctx, hint) != expected_key else ""
    passed = sse == "aws:kms" and landed_key == expected_key
    expectation = "" if passed else f"; expected aws:kms with {expected_key}"
    return UploadOutcome(passed, bucket, f"GET /upload-url, PUT 200 → {seen}{expectation}{note} {where}", ids)
