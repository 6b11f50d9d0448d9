"""S3: a bucket policy's `aws:SecureTransport` condition is evaluated, not ignored.

moto 5.2 enforces bucket policies on object requests but evaluates only `StringEquals` conditions and
ignores every other operator, so the statement applies as if it had no condition at all. The standard
TLS-only statement (Deny `s3:*` when `Bool aws:SecureTransport = false`) then denies *every* request:
an app could not read or write its own bucket, and a pre-signed upload answered 403. Requests to the
emulator stand for requests to AWS's TLS endpoints, so `aws:SecureTransport` is true for them; a
statement whose SecureTransport test fails no longer applies, and one whose test holds keeps its
other conditions for moto to evaluate as before.
"""

from __future__ import annotations

import json
from typing import Any

from stackprobe.backends.compat._canary import error_of
from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

KEY = "aws:securetransport"
BOOL_OPERATORS = {"bool", "boolifexists"}
# What every request to the emulator stands for: AWS's HTTPS endpoints.
SECURE_TRANSPORT = "true"


def _secure_transport_holds(expected: Any) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    return any(str(v).lower() == SECURE_TRANSPORT for v in values)


def rewrite_statement(statement: dict[str, Any]) -> dict[str, Any] | None:
    """The statement as it applies to a TLS request: None if it does not apply at all."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, dict):
        return statement
    kept: dict[str, Any] = {}
    for operator, tests in conditions.items():
        if operator.lower() not in BOOL_OPERATORS or not isinstance(tests, dict):
            kept[operator] = tests
            continue
        remaining = {}
        for key, expected in tests.items():
            if key.lower() != KEY:
                remaining[key] = expected
            elif not _secure_transport_holds(expected):
                return None
        if remaining:
            kept[operator] = remaining
    rewritten = {k: v for k, v in statement.items() if k != "Condition"}
    if kept:
        rewritten["Condition"] = kept
    return rewritten


def rewrite_policy(document: dict[str, Any]) -> dict[str, Any]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    applicable = [s for s in (rewrite_statement(dict(st)) for st in statements) if s is not None]
    return {**document, "Statement": applicable}


def _apply() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = rewrite_policy(json.loads(self.policy.decode()))
        if not document["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    replace(FakeBucket, "get_permission", get_permission)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """PutObject into a bucket whose policy is the standard TLS-only Deny."""
    s3 = moto.client("s3")
    bucket = "canary-tls-only"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": moto.region})
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    error = error_of(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"v"))
    return [
        Symptom(
            "a TLS-only Deny (Bool aws:SecureTransport=false) denies a request",
            error is not None,
            error or "PutObject accepted",
        )
    ]


PATCH = MotoPatch(
    name="s3-secure-transport-condition",
    kind=GapKind.FAKED,
    resource_types=("aws_s3_bucket_policy",),
    gap="Bucket policies are enforced with every condition operator except StringEquals ignored, so a "
    "TLS-only Deny (Bool aws:SecureTransport=false) denies every object request, pre-signed uploads included.",
    fix="Evaluates aws:SecureTransport as true (the emulator stands for AWS's TLS endpoints): a statement "
    "whose SecureTransport test fails does not apply; other conditions are left to moto.",
    install=_apply,
    canary=reproduce,
)
