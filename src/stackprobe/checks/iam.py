"""IAM checks: administrator and service-wide grants, long-lived keys, and task-role least privilege.

Policies are the account's `PolicyRecord`s (`stackprobe.aws.readers.iam`: every inline, customer-managed
and attached AWS-managed policy, service-linked roles left out), evaluated statement by statement with
`stackprobe.aws.policy`. A task role that is a stand-in for an external one (stackprobe.backends.stand_ins) is
not the stack's: the least-privilege checks call it not applicable, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.aws.policy import Statement, grants_everything
from stackprobe.aws.readers.iam import PolicyRecord
from stackprobe.checks._principals import unscoped
from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.errors import NotApplicable

REFERENCE = "terraform/modules/iam"
# Data-plane actions a compromised task could use to read, change or destroy data. A task role that
# grants any of them on every resource reaches every bucket, queue, secret and key in the account.
DATA_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:GetObjectVersion",
    "s3:DeleteObjectVersion",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:PurgeQueue",
    "sns:Publish",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:PutParameter",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
    "kinesis:GetRecords",
    "lambda:InvokeFunction",
    "states:StartExecution",
)
# Service wildcards that hand over the account, not just one service's data.
ESCALATING_SERVICES = {"iam", "sts", "organizations"}
# What a policy record hangs on: with none of these, the account holds no policy to judge.
POLICY_HOLDERS = ("aws_iam_role", "aws_iam_user", "aws_iam_group", "aws_iam_policy")


def _attached(record: PolicyRecord) -> str:
    return "attached to " + ", ".join(record.attached_to) if record.attached_to else "not attached to anything"


@check(
    "iam.no-wildcard-admin",
    "No policy allows every action on every resource",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=("iam",),
    why='Action "*" on Resource "*" makes the holder an account administrator: compromising the task, '
    "instance or user that has it compromises the whole account.",
    fix="Replace the statement with the specific actions on the specific ARNs the workload uses "
    "(start from the app's documented IAM needs, or IAM Access Analyzer policy generation).",
    reference=REFERENCE,
    reads=POLICY_HOLDERS,
)
def no_wildcard_admin(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for record in ctx.account.iam.policy_records():
        if record.problem:
            yield ctx.finding(
                check_, False, record.resource, f"{record.describe}: {record.problem}", severity=Severity.LOW
            )
            continue
        admin = [s.label for s in record.statements if grants_everything(s)]
        if not admin:
            yield ctx.finding(check_, True, record.resource, f"{record.describe}: no statement allows * on *")
            continue
        evidence = f"{record.describe}: statement {', '.join(admin)} allows * on *; {_attached(record)}"
        boundaries = {who: ctx.account.iam.permissions_boundary(who) for who in record.attached_to}
        # An unattached policy grants nothing yet, and a permissions boundary on every holder caps what it
        # grants: both are one change away from an administrator, not one already.
        severity = None
        if not record.attached_to:
            severity = Severity.MEDIUM
        elif all(boundaries.values()):
            severity = Severity.MEDIUM
            evidence += (
                " (capped by permissions boundaries: "
                + ", ".join(f"{who} → {arn}" for who, arn in boundaries.items())
                + ")"
            )
        yield ctx.finding(check_, False, record.resource, evidence, severity=severity)


def _wildcard_grants(statement: Statement) -> tuple[list[str], Severity] | None:
    """(what the statement grants wholesale, how bad), or None when it grants no service wildcard."""
    if not statement.is_allow or grants_everything(statement):
        return None  # "*" on "*" is iam.no-wildcard-admin's finding, not reported twice
    if statement.not_actions is not None:
        granted = [f"every action except {', '.join(statement.not_actions)}"]
        services = {"*"}
    else:
        granted = statement.service_wildcards()
        services = {pattern.split(":", 1)[0].lower() for pattern in granted}
    if not granted:
        return None
    if not statement.any_resource:
        return granted, Severity.MEDIUM
    return granted, Severity.CRITICAL if services & (ESCALATING_SERVICES | {"*"}) else Severity.HIGH


@check(
    "iam.no-wildcard-actions",
    'No policy grants a whole service (s3:*, iam:*) or "everything except"',
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("iam",),
    why="A service wildcard grants destructive and administrative actions the workload never calls "
    '(s3:* includes DeleteBucket and PutBucketPolicy); on Resource "*" it reaches every resource of '
    "that service, and iam:* or NotAction grants amount to administrator.",
    fix="List the actions the workload calls (s3:GetObject, sqs:SendMessage...) and scope them to its resources' ARNs.",
    reference=REFERENCE,
    reads=POLICY_HOLDERS,
)
def no_wildcard_actions(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # Severity per finding: HIGH for a service wildcard on every resource, CRITICAL when the service is
    # IAM/STS/Organizations or the grant is NotAction on "*" (both lead to administrator), MEDIUM when
    # the wildcard is scoped to specific resources, one step lower again for an unattached policy.
    for record in ctx.account.iam.policy_records():
        if record.problem:
            continue  # reported by iam.no-wildcard-admin
        grants = [(s, g) for s in record.statements if (g := _wildcard_grants(s)) is not None]
        if not grants:
            yield ctx.finding(check_, True, record.resource, f"{record.describe}: no service-wide wildcard action")
            continue
        worst = max(severity for _, (_, severity) in grants)
        if not record.attached_to:
            worst = Severity(max(Severity.LOW, worst - 1))
        described = "; ".join(
            f"statement {s.label} allows {', '.join(granted)} on {s.render_resources()}" for s, (granted, _) in grants
        )
        yield ctx.finding(
            check_, False, record.resource, f"{record.describe}: {described}; {_attached(record)}", severity=worst
        )


@check(
    "iam.no-long-lived-keys",
    "No IAM user has an active access key",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("iam",),
    why="A static access key never expires, is copied into CI secrets and state files, and keeps working "
    "wherever it leaks; short-lived role credentials expire on their own.",
    fix="Let CI assume a role through OIDC federation (aws_iam_openid_connect_provider plus a role whose "
    "trust policy pins the repository and branch), then delete the user's keys.",
    reference=REFERENCE,
    reads=("aws_iam_user",),
)
def no_long_lived_keys(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for user in ctx.account.iam.users():
        name = user["UserName"]
        keys = ctx.account.iam.access_keys(name)
        active = [k for k in keys if k.get("Status") == "Active"]
        if not active:
            yield ctx.finding(check_, True, name, f"user {name} has no active access key ({len(keys)} inactive)")
            continue
        for key in active:
            created = key.get("CreateDate")
            since = f", created {created:%Y-%m-%d}" if created is not None else ""
            yield ctx.finding(
                check_,
                False,
                key["AccessKeyId"],
                f"user {name} has active access key {key['AccessKeyId']}{since}",
                name,
            )


def task_role_arns(ctx: CheckContext) -> dict[str, list[str]]:
    """Task role ARN → the ACTIVE task definitions (family:revision) that use it."""
    roles: dict[str, list[str]] = {}
    for arn in ctx.account.ecs.task_definition_arns():
        role = ctx.account.ecs.task_definition(arn).get("taskRoleArn")
        if role:
            roles.setdefault(role, []).append(arn.rsplit("/", 1)[-1])
    return roles


def _broad_grants(statement: Statement) -> list[str]:
    """Data actions this Allow statement grants on every resource of their service."""
    if not statement.is_allow:
        return []
    actions = [a for a in DATA_ACTIONS if statement.covers_action(a)]
    if statement.not_resources is not None:
        return actions
    return [a for a in actions if any(unscoped(p, a.split(":", 1)[0]) for p in statement.resources)]


@check(
    "iam.task-role-least-privilege",
    "ECS task roles grant data access only on specific resources",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("iam", "ecs"),
    why="The task role is what an attacker gets from a compromised container; if it reads or writes "
    "every bucket, queue, secret or key, one vulnerable endpoint exposes all the account's data.",
    fix="Scope each data action to the ARNs the service uses (bucket/prefix*, the queue, the secret, "
    "the stack's KMS key), as terraform/modules/iam does for the api and worker roles.",
    reference=REFERENCE,
    reads=("aws_ecs_task_definition",),
)
def task_role_least_privilege(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    records = ctx.account.iam.policy_records()
    for role_arn, definitions in sorted(task_role_arns(ctx).items()):
        role = f"role/{role_arn.rsplit('/', 1)[-1]}"
        problems = []
        for record in records:
            if role not in record.attached_to:
                continue
            for statement in record.statements:
                broad = _broad_grants(statement)
                if broad:
                    actions = "every action" if statement.covers_all_actions() else ", ".join(broad)
                    problems.append(
                        f"{record.describe} statement {statement.label} allows {actions} on "
                        f"{statement.render_resources()}"
                    )
        used_by = f"task role of {', '.join(definitions)}"
        if problems:
            yield ctx.finding(check_, False, role_arn, f"{used_by}: " + "; ".join(problems))
        else:
            yield ctx.finding(check_, True, role_arn, f"{used_by}: every data action is scoped to specific ARNs")


@check(
    "iam.enforced-least-privilege",
    "Acting as each ECS task role, the app's own requests succeed and others are refused",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("iam", "sts", "s3", "sqs", "ecs"),
    why="Reading policies can miss what they add up to; assuming the task role with IAM enforced shows "
    "that the app can do its job (read models, accept uploads) and that a compromised task cannot read "
    "another bucket or delete data.",
    fix="Grant the task role exactly the app's documented actions on its own buckets, prefixes and queue "
    "(see app/README.md, IAM the task roles need), and nothing on other resources.",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
)
def enforced_least_privilege(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # Imported here: the probe switches the emulator's IAM enforcement, which config-only runs never need.
    from stackprobe.probes.iam_enforcement import EnforcementNotExercisable, probe_task_roles

    # A stand-in for an external role has none of the policies the real one has: assuming it proves nothing.
    roles = task_role_arns(ctx)
    stood_in = {arn: ctx.stand_ins[arn] for arn in roles if arn in ctx.stand_ins}
    if stood_in and len(stood_in) == len(roles):
        raise NotApplicable("; ".join(stood_in.values()))
    report = probe_task_roles(ctx)
    judged = [outcome for outcome in report.roles if outcome.enforced and outcome.role.arn not in stood_in]
    if report.roles and not judged:
        reasons = "; ".join(
            f"{o.role.arn}: {', '.join(o.unenforceable) or 'no applicable request'}" for o in report.roles
        )
        raise EnforcementNotExercisable(f"nothing could be enforced on this emulator ({reasons})")
    for outcome in judged:
        services = ", ".join(outcome.role.services)
        evidence = f"assumed {outcome.role.arn} (services {services}) with IAM enforced: "
        if outcome.violations:
            evidence += "; ".join(outcome.violations)
        else:
            evidence += "; ".join(outcome.enforced)
        yield ctx.finding(check_, outcome.passed, outcome.role.arn, evidence)
    unenforceable = [f"{o.role.arn.rsplit('/', 1)[-1]}: {item}" for o in report.roles for item in o.unenforceable]
    if judged:
        yield Finding(
            check_.id,
            True,
            "moto IAM enforcement",
            "not enforceable on moto, so not judged: " + "; ".join([*unenforceable, *report.notes]),
            severity=Severity.INFO,
        )
