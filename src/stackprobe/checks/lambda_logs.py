"""Every Lambda function writes to a log group the configuration manages.

Lambda writes to `/aws/lambda/<function name>` (or the group its `logging_config` names) and creates that
group itself on the first invocation when it does not exist: with no retention (kept and billed forever),
no KMS key, and outside Terraform (a destroy leaves it behind, and a later apply that adds the group fails
on "already exists"). Read from the plan: the functions and the log groups it creates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from stackprobe.checks._support import known
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check


def _log_group_of(function_name: str, logging_config: object) -> str:
    """The group a function writes to: its logging_config's log_group, else /aws/lambda/<name>."""
    for config in logging_config if isinstance(logging_config, list) else []:
        if isinstance(config, Mapping) and isinstance(config.get("log_group"), str) and config["log_group"]:
            return str(config["log_group"])
    return f"/aws/lambda/{function_name}"


@check(
    "logs.lambda-log-group",
    "Every Lambda function has its log group in the configuration",
    severity=Severity.LOW,
    category=Category.OPERATIONS,
    services=(),
    why="A function without a managed log group gets one from Lambda on its first invocation: no retention "
    "(logs are kept and billed forever), no encryption key, and unknown to Terraform, so a destroy leaves it "
    "behind and adding it later fails on a group that already exists.",
    fix='Add aws_cloudwatch_log_group "/aws/lambda/${function_name}" with retention_in_days (and kms_key_id), '
    "and make the function depend on it (depends_on), or set logging_config { log_group = ... } to a group you "
    "manage.",
    reference="terraform/modules/observability (log groups with retention and the stack's key)",
    plan_level=True,
    reads=("aws_lambda_function",),
)
def lambda_log_group(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    groups: dict[str, str] = {}
    for group in ctx.plan.resources("aws_cloudwatch_log_group"):
        name = known(ctx, group, "name")
        if isinstance(name, str):
            groups[name] = group.address
    for function in ctx.plan.resources("aws_lambda_function"):
        name = known(ctx, function, "function_name")
        if not isinstance(name, str):
            continue  # known only after apply, and not applied: nothing to compare
        wanted = _log_group_of(name, known(ctx, function, "logging_config"))
        if wanted in groups:
            evidence = f"{function.address} ({name}) logs to {wanted}, managed as {groups[wanted]}"
        else:
            evidence = (
                f"{function.address} ({name}) logs to {wanted}, which the configuration does not create: Lambda "
                "creates it on the first invocation with no retention, outside Terraform"
            )
        yield Finding(check_.id, wanted in groups, function.address, evidence, function.address)
