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
import json
from typing import Any

from moto.s3.models import FakeBucket
from moto.s3.utils import LOGGING_SERVICE_PRINCIPAL

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoPatch


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
    replace(FakeBucket, "_log_permissions_enabled_policy", staticmethod(_log_permissions_enabled_policy))


PATCH = MotoPatch(
    name="s3-logging-policy-principal",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_s3_bucket_logging",),
    gap='PutBucketLogging answers 500 when the target bucket\'s policy has a statement with "Principal": "*" '
    "(moto calls .get on the string), and misses grants written with lists or wildcards.",
    fix="Replaces moto's target-bucket policy check with one that reads every form of Principal, Action, "
    "Resource and Statement, still requiring an Allow of PutObject for the logging service.",
    install=_apply,
)
