"""Live probe of least privilege: act as each ECS task role, with IAM enforced, and see what is refused.

moto can enforce IAM (`INITIAL_NO_AUTH_ACTION_COUNT`): every request is then authenticated and
checked against the caller's identity policies, and that includes temporary credentials from
STS AssumeRole, whose policies are the role's. So the probe assumes each task role, switches
enforcement on, makes the requests the app makes (and some it must not be able to make), and
switches enforcement off again.

What moto enforces, and what it does not (moto 5.2, `moto/iam/access_control.py`,
`moto/core/responses.py`):
- S3 is authorised per bucket and object ARN, SQS per queue ARN, IAM and STS per resource; these are
  probed. Every other service is authorised against Resource "*" only, so a grant scoped to one key or
  one secret (KMS, Secrets Manager) would be refused: such calls are not probed, and the finding says so.
- S3 reads and writes under SSE-KMS never check kms:GenerateDataKey/Decrypt.
- Policy conditions are not evaluated (an Allow with a condition counts as unconditional), and
  resource-based policies (a bucket policy granting the role) are not consulted.
- Object requests are also refused when the bucket policy has a Deny whose condition moto cannot
  evaluate (it knows StringEquals, and aws:SecureTransport through the compat patch
  `s3-secure-transport-condition`; a Deny unless aws:SourceVpce, say, applies to everyone). A HEAD of
  a missing key with the harness's own credentials and enforcement off tells which buckets are in that
  state; their expectations are reported as not enforceable instead of being judged.

What each role must be able to do is the app's to say (`task_access` in its stackprobe-contract.yaml, see
`stackprobe.probes.contract`: the variable naming a bucket or queue, and read, write or queue access);
without it only the refusals are probed: a bucket and a queue no task uses must be out of every role's
reach.

Switching enforcement is process-wide on the emulator: while it is on, every request without
credentials of an IAM user or assumed role is refused, whoever sends it. That is why the window is
as short as possible (setup and cleanup run outside it), guarded by a lock so two probes in this
process never overlap, and always closed in `finally`. It is switched through moto's own
`/moto-api/reset-auth` endpoint (what `set_initial_no_auth_action_count` uses in server mode),
which works for the embedded server and for a moto server in another process alike.

The assumed-role keys (ASIA...) look like real AWS keys, which the harness guard refuses in its own
environment; they are used only by plain boto3 clients built here against the emulator endpoint.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws import Clients
from stackprobe.aws.policy import PolicyError, Statement, parse_policy
from stackprobe.aws.workloads import discover_workloads
from stackprobe.backends.base import AwsBackend
from stackprobe.errors import NotExercisable
from stackprobe.probes.contract import ConfiguredAccount, TaskAccess, contract_for

# One enforcement window at a time in this process: two overlapping windows would restore each
# other's setting in the wrong order and leave enforcement on.
_ENFORCEMENT_LOCK = threading.Lock()
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROBE_PREFIX = "stackprobe-iam-probe"
ALWAYS_UNENFORCEABLE = (
    'KMS and Secrets Manager calls: moto authorises them against Resource "*" only, so a grant scoped '
    "to the stack's key or secret cannot be exercised",
    "S3 SSE-KMS: moto does not check kms:GenerateDataKey/kms:Decrypt when objects are written or read",
)


class EnforcementNotExercisable(NotExercisable):
    """Nothing could be enforced: judging the stack here would judge the emulator instead."""


class ContractedAccount(Clients, ConfiguredAccount, Protocol):
    """A deployed account, and where the app's contract is (a CheckContext is one)."""


@dataclass(frozen=True)
class TaskRole:
    """An ECS task role, the services that run with it, and each container's environment."""

    arn: str
    services: tuple[str, ...]
    containers: dict[str, dict[str, str]]

    def values(self, access: TaskAccess) -> list[str]:
        """What `access.variable` names in the containers it applies to (each distinct value once)."""
        names = access.containers or tuple(self.containers)
        found = {env.get(access.variable, "") for name, env in self.containers.items() if name in names}
        return sorted(value for value in found if value)


@dataclass(frozen=True)
class Expectation:
    what: str  # e.g. "s3:GetObject s3://bucket/models/x.json"
    allowed: bool
    call: Callable[[Any, Any], object]  # (s3 client, sqs client) with the role's credentials
    bucket: str | None = None  # object requests: the bucket whose emulator baseline must be clean


@dataclass
class RoleOutcome:
    role: TaskRole
    enforced: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    unenforceable: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


@dataclass
class EnforcementReport:
    roles: list[RoleOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _paginate(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    return list(client.get_paginator(method).paginate(**kwargs).build_full_result().get(key, []))


def task_roles(ctx: Clients) -> list[TaskRole]:
    """Task roles of the deployed ECS services (not of unused task definitions), with their env."""
    by_arn: dict[str, TaskRole] = {}
    for workload in discover_workloads(ctx):
        role_arn = workload.task_definition.get("taskRoleArn")
        if not role_arn:
            continue
        containers = {str(c.get("name", "")): workload.environment(c) for c in workload.containers}
        names: tuple[str, ...] = (workload.name,)
        previous = by_arn.get(role_arn)
        if previous is not None:  # one role shared by several services: what any of them needs
            for name, env in previous.containers.items():
                containers[name] = {**env, **containers.get(name, {})}
            names = (*previous.services, workload.name)
        by_arn[role_arn] = TaskRole(role_arn, names, containers)
    return [by_arn[arn] for arn in sorted(by_arn)]


def _set_no_auth_count(backend: AwsBackend, value: str) -> str:
    """POST /moto-api/reset-auth; returns the previous INITIAL_NO_AUTH_ACTION_COUNT."""
    request = urllib.request.Request(
        f"{backend.endpoint}/moto-api/reset-auth",
        data=value.encode(),
        method="POST",
        # Without a text type the body is parsed as a form and moto reads an empty value (HTTP 500).
        headers={"Content-Type": "text/plain"},
    )
    try:
        with _OPENER.open(request, timeout=10) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise EnforcementNotExercisable(
            f"{backend.name} at {backend.endpoint} has no moto IAM-enforcement switch (/moto-api/reset-auth): {exc}"
        ) from exc
    return str(answer["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@contextmanager
def iam_enforced(backend: AwsBackend) -> Iterator[None]:
    """IAM enforced on the emulator inside the block, restored to its previous setting afterwards."""
    with _ENFORCEMENT_LOCK:
        previous = _set_no_auth_count(backend, "0")
        try:
            yield
        finally:
            _set_no_auth_count(backend, previous)


def _plain_clients(backend: AwsBackend, credentials: dict[str, Any] | None) -> tuple[Any, Any]:
    """S3 and SQS clients with explicit credentials (never the environment's), bound to the emulator."""
    if credentials is None:
        session = backend.session()
    else:
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=backend.region,
        )
    config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    return (
        session.client("s3", endpoint_url=backend.endpoint, config=config),
        session.client("sqs", endpoint_url=backend.endpoint, config=config),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_denial(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return status == 403 or "AccessDenied" in _code(exc)


@dataclass
class _Fixtures:
    """What the probe creates to have something to read and refuse; removed afterwards."""

    canary_bucket: str
    canary_queue_url: str | None = None
    seeded: dict[tuple[str, str], str] = field(default_factory=dict)  # (bucket, prefix) → key of a seeded object
    written: list[tuple[str, str]] = field(default_factory=list)  # objects the roles wrote
    blocked_buckets: dict[str, str] = field(default_factory=dict)  # bucket → why moto blocks it
    notes: list[str] = field(default_factory=list)


def _emulator_blocks(ctx: Clients, bucket: str) -> str | None:
    """Why the emulator refuses object requests to `bucket` whoever sends them, or None."""
    try:
        ctx.client("s3").head_object(Bucket=bucket, Key=f"{PROBE_PREFIX}/absent-{uuid.uuid4().hex}")
    except ClientError as exc:
        if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) != 403:
            return None
    else:
        return None
    try:
        statements = parse_policy(ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except (ClientError, PolicyError):
        statements = []
    denies = [s for s in statements if s.is_deny and s.conditions]
    detail = ", ".join(f"{s.label} ({'; '.join(c.render() for c in s.conditions)})" for s in denies)
    return f"moto refuses every object request to {bucket} even without IAM enforcement" + (
        f": it applies the conditional Deny {detail} without its condition" if detail else ""
    )


def _seed_key(access: TaskAccess, token: str) -> str:
    return f"{access.prefix}{PROBE_PREFIX}-{token}.json"


def _setup(
    ctx: Clients, roles: list[TaskRole], access: tuple[TaskAccess, ...], fixtures: _Fixtures, token: str
) -> None:
    """Canary bucket and queue, seeded objects, and which buckets moto blocks (enforcement off)."""
    s3 = ctx.client("s3")
    region = ctx.backend.region
    create: dict[str, Any] = (
        {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    s3.create_bucket(Bucket=fixtures.canary_bucket, **create)
    s3.put_object(Bucket=fixtures.canary_bucket, Key="canary.txt", Body=b"not yours\n")
    fixtures.canary_queue_url = ctx.client("sqs").create_queue(QueueName=f"stackprobe-canary-{token}")["QueueUrl"]
    objects = [a for a in access if a.access in ("read", "write")]
    for bucket in sorted({bucket for a in objects for role in roles for bucket in role.values(a)}):
        blocked = _emulator_blocks(ctx, bucket)
        if blocked:
            fixtures.blocked_buckets[bucket] = blocked
    for grant in (a for a in access if a.access == "read"):
        for bucket in sorted({bucket for role in roles for bucket in role.values(grant)}):
            if bucket in fixtures.blocked_buckets or (bucket, grant.prefix) in fixtures.seeded:
                continue
            key = _seed_key(grant, token)
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=b"stackprobe least-privilege probe\n")
                fixtures.seeded[(bucket, grant.prefix)] = key
            except ClientError as exc:
                fixtures.notes.append(f"could not seed s3://{bucket}/{key}: {_code(exc)}")


def _delete_all_versions(s3: Any, bucket: str, key: str) -> None:
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [v for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])] if v.get("Key") == key]
    for version in versions:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    if not versions:
        s3.delete_object(Bucket=bucket, Key=key)


def _cleanup(ctx: Clients, fixtures: _Fixtures) -> None:
    """Remove everything the probe created; best effort, so one failure does not hide the others."""
    s3 = ctx.client("s3")
    seeded = [(bucket, key) for (bucket, _), key in fixtures.seeded.items()]
    objects = [*seeded, *fixtures.written, (fixtures.canary_bucket, "canary.txt")]
    for bucket, key in objects:
        with suppress(ClientError, BotoCoreError):
            _delete_all_versions(s3, bucket, key)
    with suppress(ClientError, BotoCoreError):
        s3.delete_bucket(Bucket=fixtures.canary_bucket)
    if fixtures.canary_queue_url:
        with suppress(ClientError, BotoCoreError):
            ctx.client("sqs").delete_queue(QueueUrl=fixtures.canary_queue_url)


def _get_object(bucket: str, key: str) -> Callable[[Any, Any], object]:
    return lambda s3, _: s3.get_object(Bucket=bucket, Key=key)


def _put_object(bucket: str, key: str) -> Callable[[Any, Any], object]:
    return lambda s3, _: s3.put_object(Bucket=bucket, Key=key, Body=b"probe\n")


def _delete_object(bucket: str, key: str) -> Callable[[Any, Any], object]:
    return lambda s3, _: s3.delete_object(Bucket=bucket, Key=key)


def _queue_attributes(queue_url: str) -> Callable[[Any, Any], object]:
    return lambda _, sqs: sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])


def _expectations(role: TaskRole, access: tuple[TaskAccess, ...], fixtures: _Fixtures, token: str) -> list[Expectation]:
    """What the app's contract says this role needs (allowed) and what no task role should do (denied)."""
    found: list[Expectation] = []
    for grant in access:
        for value in role.values(grant):
            found += _granted(grant, value, fixtures, token)
    canary = fixtures.canary_bucket
    found.append(
        Expectation(
            f"s3:GetObject s3://{canary}/canary.txt (a bucket the task does not use)",
            False,
            _get_object(canary, "canary.txt"),
            canary,
        )
    )
    if fixtures.canary_queue_url:
        found.append(
            Expectation(
                f"sqs:GetQueueAttributes {fixtures.canary_queue_url} (a queue the task does not use)",
                False,
                _queue_attributes(fixtures.canary_queue_url),
            )
        )
    return found


def _granted(grant: TaskAccess, value: str, fixtures: _Fixtures, token: str) -> list[Expectation]:
    """The requests one grant allows on the resource `value` names, and the deletion it must not."""
    if grant.access == "queue":
        return [Expectation(f"sqs:GetQueueAttributes {value}", True, _queue_attributes(value))]
    if grant.access == "read":
        if (value, grant.prefix) not in fixtures.seeded and value not in fixtures.blocked_buckets:
            return []  # not seeded (the note says why): nothing to read
        # A blocked bucket was not seeded; its expectations are still listed, as not enforceable.
        key = fixtures.seeded.get((value, grant.prefix), _seed_key(grant, token))
        return [
            Expectation(f"s3:GetObject s3://{value}/{key}", True, _get_object(value, key), value),
            Expectation(f"s3:DeleteObject s3://{value}/{key}", False, _delete_object(value, key), value),
        ]
    key = f"{grant.prefix}{PROBE_PREFIX}-{token}/probe.txt"
    fixtures.written.append((value, key))
    return [
        Expectation(f"s3:PutObject s3://{value}/{key}", True, _put_object(value, key), value),
        Expectation(f"s3:DeleteObject s3://{value}/{key}", False, _delete_object(value, key), value),
    ]


def _role_statements(ctx: Clients, role_name: str) -> list[Statement]:
    iam = ctx.client("iam")
    statements: list[Statement] = []
    for name in _paginate(iam, "list_role_policies", "PolicyNames", RoleName=role_name):
        statements += parse_policy(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for attached in _paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role_name):
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        statements += parse_policy(version["PolicyVersion"]["Document"])
    return statements


def _role_caveats(ctx: Clients, role: TaskRole, access: tuple[TaskAccess, ...]) -> list[str]:
    """What moto will not evaluate in this role's grants (conditions, bucket policies granting it)."""
    caveats = []
    try:
        statements = _role_statements(ctx, role.arn.rsplit("/", 1)[-1])
    except (ClientError, PolicyError) as exc:
        return [f"could not read the role's policies: {exc}"]
    conditional = sorted({s.label for s in statements if s.is_allow and s.conditions})
    if conditional:
        caveats.append(f"conditions of statements {', '.join(conditional)} (moto treats them as unconditional)")
    buckets = sorted({bucket for a in access if a.access in ("read", "write") for bucket in role.values(a)})
    for bucket in buckets:
        try:
            policy = parse_policy(ctx.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
        except (ClientError, PolicyError):
            continue
        if any(s.is_allow and any(role.arn in value for _, value in s.principals or ()) for s in policy):
            caveats.append(f"the bucket policy of {bucket} grants this role (moto ignores resource-based grants)")
    return caveats


def probe_task_roles(ctx: ContractedAccount) -> EnforcementReport:
    """Assume every ECS task role and check, with IAM enforced, what it can and cannot do."""
    report = EnforcementReport()
    roles = task_roles(ctx)
    if not roles:
        return report
    access = contract_for(ctx).task_access
    token = uuid.uuid4().hex[:10]
    fixtures = _Fixtures(canary_bucket=f"stackprobe-canary-{token}")
    try:
        _setup(ctx, roles, access, fixtures, token)
        plans: list[tuple[RoleOutcome, Any, Any, list[Expectation]]] = []
        for role in roles:
            outcome = RoleOutcome(role)
            report.roles.append(outcome)
            try:
                credentials = ctx.client("sts").assume_role(
                    RoleArn=role.arn, RoleSessionName="stackprobe-least-privilege"
                )["Credentials"]
            except ClientError as exc:
                outcome.unenforceable.append(f"could not assume the role: {_code(exc)}")
                continue
            outcome.unenforceable += _role_caveats(ctx, role, access)
            expectations = []
            for expectation in _expectations(role, access, fixtures, token):
                if expectation.bucket in fixtures.blocked_buckets:
                    outcome.unenforceable.append(f"{expectation.what}: {fixtures.blocked_buckets[expectation.bucket]}")
                else:
                    expectations.append(expectation)
            plans.append((outcome, *_plain_clients(ctx.backend, credentials), expectations))
        _run_enforced(ctx.backend, plans)
    finally:
        _cleanup(ctx, fixtures)
    report.notes = [*fixtures.notes, *ALWAYS_UNENFORCEABLE]
    return report


def _run_enforced(backend: AwsBackend, plans: list[tuple[RoleOutcome, Any, Any, list[Expectation]]]) -> None:
    if not any(expectations for *_, expectations in plans):
        return
    anonymous_s3, _ = _plain_clients(backend, None)
    with iam_enforced(backend):
        # Proof that enforcement is on: the harness's dummy key belongs to no IAM user, so it must fail.
        try:
            anonymous_s3.list_buckets()
        except ClientError:
            pass
        else:
            raise EnforcementNotExercisable("IAM enforcement did not take effect: the dummy key was still accepted")
        for outcome, s3, sqs, expectations in plans:
            for expectation in expectations:
                try:
                    expectation.call(s3, sqs)
                    allowed, how = True, "allowed"
                except ClientError as exc:
                    if not _is_denial(exc):
                        outcome.unenforceable.append(
                            f"{expectation.what}: answered {_code(exc)}, neither allowed nor denied"
                        )
                        continue
                    allowed, how = False, f"denied ({_code(exc)})"
                line = f"{expectation.what} → {how}"
                outcome.enforced.append(line)
                if allowed != expectation.allowed:
                    outcome.violations.append(f"{line}, expected {'allowed' if expectation.allowed else 'denied'}")
