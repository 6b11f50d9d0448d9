"""S3: PutBucketLogging reads the target bucket's policy the way IAM writes it.

Before accepting a logging configuration, moto 5.2 checks that the target bucket's policy lets the
logging service write, but it assumes every statement's `Principal` is an object: a statement with
`"Principal": "*"` (common in third-party configs, e.g. a deny-insecure-transport statement) raises
AttributeError, and `aws_s3_bucket_logging` fails with a 500. It also misses grants written in the other
forms the policy grammar allows: a single statement object, lists of services, actions or resources, and
wildcards (`s3:*`, `arn:...:bucket/*`). This check reads all of them; like moto, it only looks for an
Allow that covers the logging service's PutObject into the target prefix.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import error_of
from stackprobe.backends.compat._monkey import ShapeMismatch, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.s3.models import FakeBucket

# The principal S3 server access logging writes as (moto.s3.utils.LOGGING_SERVICE_PRINCIPAL, which
# `_apply` checks is still this).
LOGGING_SERVICE_PRINCIPAL = "logging.s3.amazonaws.com"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _covers_logging_service(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return LOGGING_SERVICE_PRINCIPAL in _as_list(principal.get("Service")) or "*" in _as_list(principal.get("AWS"))


def _allows_put_object(action: Any) -> bool:
    return any(fnmatch.fnmatchcase("s3:putobject", str(a).lower()) for a in _as_list(action))


def policy_allows_log_delivery(policy: dict[str, Any], bucket_arn: str, target_prefix: str | None) -> bool:
    """True when an Allow statement lets the S3 logging service put log objects under the target prefix."""
    log_object_arn = f"{bucket_arn}/{target_prefix or ''}log-object"
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not _covers_logging_service(statement.get("Principal")):
            continue
        if not _allows_put_object(statement.get("Action")):
            continue
        # moto also accepts the bucket ARN itself; kept so that no configuration moto accepted is refused.
        if any(r == bucket_arn or fnmatch.fnmatchcase(log_object_arn, r) for r in _as_list(statement.get("Resource"))):
            return True
    return False


def _log_permissions_enabled_policy(target_bucket: FakeBucket, target_prefix: str | None) -> bool:
    if not target_bucket.policy:
        return False
    try:
        policy = json.loads(target_bucket.policy.decode())
    except ValueError:
        return False
    bucket_arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
    return isinstance(policy, dict) and policy_allows_log_delivery(policy, bucket_arn, target_prefix)


def _apply() -> None:
    from moto.s3 import utils
    from moto.s3.models import FakeBucket

    if utils.LOGGING_SERVICE_PRINCIPAL != LOGGING_SERVICE_PRINCIPAL:
        raise ShapeMismatch(f"moto.s3.utils.LOGGING_SERVICE_PRINCIPAL is {utils.LOGGING_SERVICE_PRINCIPAL!r} now")
    replace(FakeBucket, "_log_permissions_enabled_policy", staticmethod(_log_permissions_enabled_policy))


def _grant(bucket: str, **changes: Any) -> dict[str, Any]:
    """The statement that lets the logging service write into `bucket`, as moto recognises it unless changed."""
    return {
        "Effect": "Allow",
        "Principal": {"Service": LOGGING_SERVICE_PRINCIPAL},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        **changes,
    }


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """PutBucketLogging to target buckets whose policy grants the logging service, written three ways:
    beside a `"Principal": "*"` statement, with the `s3:*` action, and with a list of resources."""
    s3 = moto.client("s3")
    location = {"LocationConstraint": moto.region}
    deny_insecure = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::canary-logs-star/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    policies = {
        "canary-logs-star": [deny_insecure, _grant("canary-logs-star")],
        "canary-logs-wildcard": [_grant("canary-logs-wildcard", Action="s3:*")],
        "canary-logs-list": [_grant("canary-logs-list", Resource=["arn:aws:s3:::canary-logs-list/*"])],
    }
    s3.create_bucket(Bucket="canary-source", CreateBucketConfiguration=location)
    errors = {}
    for bucket, statements in policies.items():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        status = {"LoggingEnabled": {"TargetBucket": bucket, "TargetPrefix": "app/"}}
        errors[bucket] = error_of(
            functools.partial(s3.put_bucket_logging, Bucket="canary-source", BucketLoggingStatus=status)
        )
    return [
        Symptom(
            'PutBucketLogging fails when the target policy has a "Principal": "*" statement',
            errors["canary-logs-star"] is not None,
            errors["canary-logs-star"] or "accepted",
        ),
        Symptom(
            "PutBucketLogging misses a grant of the s3:* action",
            errors["canary-logs-wildcard"] is not None,
            errors["canary-logs-wildcard"] or "accepted",
        ),
        Symptom(
            "PutBucketLogging misses a grant written with a list of resources",
            errors["canary-logs-list"] is not None,
            errors["canary-logs-list"] or "accepted",
        ),
    ]


PATCH = MotoPatch(
    name="s3-logging-policy-principal",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_s3_bucket_logging",),
    gap='PutBucketLogging answers 500 when the target bucket\'s policy has a statement with "Principal": "*" '
    "(moto calls .get on the string), and misses grants written with lists or wildcards.",
    fix="Replaces moto's target-bucket policy check with one that reads every form of Principal, Action, "
    "Resource and Statement, still requiring an Allow of PutObject for the logging service.",
    install=_apply,
    canary=reproduce,
)
