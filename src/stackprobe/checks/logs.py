"""CloudWatch Logs checks: every log group has a retention period and a KMS key."""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

# Where the reference stack creates log groups, each with a retention and the stack key: every module that
# logs creates its own (the containers', the database's and its replicas', the cache's, the VPC's, WAF's).
REFERENCE = (
    "terraform/modules/service (aws_cloudwatch_log_group.this: retention_in_days, kms_key_id), and the same in "
    "terraform/modules/database, terraform/modules/cache, terraform/modules/network and terraform/modules/edge"
)


@check(
    "logs.retention",
    "Every log group expires its logs",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("logs",),
    why="A log group without retention keeps every line forever: storage cost grows without bound and "
    "personal data in logs outlives any retention promise.",
    fix="Set retention_in_days on every aws_cloudwatch_log_group (and create Lambda/ECS groups in "
    "Terraform before the service does, so they get one too).",
    reference=REFERENCE,
    reads=("aws_cloudwatch_log_group",),
)
def retention(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for group in ctx.account.logs.log_groups():
        days = group.get("retentionInDays")
        evidence = f"retentionInDays={days}" if days else "never expires (no retentionInDays)"
        yield ctx.finding(check_, bool(days), group["logGroupName"], evidence, group.get("logGroupArn"))


@check(
    "logs.kms-encryption",
    "Every log group is encrypted with a KMS key",
    severity=Severity.LOW,
    category=Category.SECURITY,
    services=("logs",),
    why="Logs often carry request data and identifiers; a customer-managed key makes reading them a "
    "separate, auditable and revocable permission.",
    fix="Set kms_key_id on the log group, with a key policy that lets logs.<region>.amazonaws.com use it.",
    reference=REFERENCE,
    reads=("aws_cloudwatch_log_group",),
)
def kms_encryption(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for group in ctx.account.logs.log_groups():
        key = group.get("kmsKeyId")
        evidence = f"kmsKeyId={key}" if key else "no kmsKeyId (service-managed encryption only)"
        yield ctx.finding(check_, bool(key), group["logGroupName"], evidence, group.get("logGroupArn"))
