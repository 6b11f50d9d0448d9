"""Customer-managed KMS keys rotate their key material."""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check


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
    reads=("aws_kms_key",),
)
def rotation(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    kms = ctx.account.kms
    for meta in kms.listed_keys():
        if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") != "Enabled":
            continue
        if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            continue  # AWS rotates only symmetric encryption keys
        status = kms.rotation(meta["KeyId"])
        enabled = bool(status.get("KeyRotationEnabled"))
        period = status.get("RotationPeriodInDays")
        evidence = f"rotation {'enabled' if enabled else 'disabled'}" + (f", every {period} days" if period else "")
        yield ctx.finding(check_, enabled, meta["Arn"], evidence, meta["KeyId"])
