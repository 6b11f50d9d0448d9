"""Customer-managed KMS keys rotate their key material; and who manages a key (for the checks that want a
customer-managed one)."""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import ClientError

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check


def key_manager(ctx: CheckContext, key_id: str) -> str | None:
    """'CUSTOMER' or 'AWS' for a KMS key (id, ARN or alias), None when KMS does not know it.

    A key behind an `alias/aws/...` alias is AWS-managed whatever KeyManager says: moto creates its
    default keys (alias/aws/rds included) as CUSTOMER keys.
    """
    if key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
        return "AWS"
    kms = ctx.client("kms")
    try:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        aliases = kms.list_aliases(KeyId=meta["KeyId"]).get("Aliases", [])
    except ClientError:
        return None
    if any(str(alias.get("AliasName", "")).startswith("alias/aws/") for alias in aliases):
        return "AWS"
    return str(meta.get("KeyManager"))


@check(
    "kms.rotation",
    "Customer-managed keys rotate automatically",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("kms",),
    why="A key that never rotates keeps protecting new data with material that may have leaked long ago; "
    "automatic rotation limits what one compromised version can decrypt.",
    fix="Set enable_key_rotation = true (and rotation_period_in_days if policy needs a period under 365).",
    reference="terraform/modules/kms",
)
def rotation(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    kms = ctx.client("kms")
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") != "Enabled":
                continue
            if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                continue  # AWS rotates only symmetric encryption keys
            status = kms.get_key_rotation_status(KeyId=key["KeyId"])
            enabled = bool(status.get("KeyRotationEnabled"))
            period = status.get("RotationPeriodInDays")
            evidence = f"rotation {'enabled' if enabled else 'disabled'}" + (f", every {period} days" if period else "")
            yield ctx.finding(check_, enabled, meta["Arn"], evidence, key["KeyId"])
