"""Privilege escalation through IAM itself: a principal that can rewrite its own permissions, or hand a more
privileged role to a service it controls.

The classic paths (each a single API call away from more access):
- self-modification: PutRolePolicy, AttachRolePolicy, UpdateAssumeRolePolicy, DeleteRolePermissionsBoundary...
  allowed on its own ARN, typically through a name pattern its own name matches (`role/${prefix}*`);
- policy version rewrite: CreatePolicyVersion or SetDefaultPolicyVersion on a managed policy attached to it;
- iam:PassRole of a role that can do what the passer cannot, to a service that role trusts (the passer then
  runs code, a task or a function, as that role).

Evaluated with `stackprobe.aws.policy` over every policy record attached to the principal (the IAM checks'
engine), unconditional Denies included. An IAM write that requires a permissions boundary
(`iam:PermissionsBoundary`) reaches the principal only if it carries that boundary, and then cannot lift it
above the boundary: not an escalation. Service-linked roles are AWS's and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.aws.policy import grants_everything, wildcard_match
from stackprobe.checks._principals import Grant, Principal, boundary_condition, principals
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

REFERENCE = "terraform/bootstrap (the apply role: /ci/ path, workload boundary) and terraform/modules/iam"
# Calls that change what a role may do (or who may be it), when they name the role itself.
ROLE_SELF_WRITES = (
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
)
USER_SELF_WRITES = (
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:DetachUserPolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
)
VERSION_WRITES = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
# What makes one role more privileged than another: IAM writes (the road to everything) and data access on
# every resource of a service.
IAM_WRITES = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:PassRole",
    "sts:AssumeRole",
)
BROAD_DATA = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "kms:Decrypt",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Scan",
    "lambda:InvokeFunction",
    "ec2:RunInstances",
    "ecs:RunTask",
)
PASSED_TO_SERVICE = "iam:passedtoservice"


def _self_writes(principal: Principal) -> list[str]:
    """How `principal` may change its own permissions: one line per path, empty when it cannot."""
    actions = ROLE_SELF_WRITES if principal.kind == "role" else USER_SELF_WRITES
    boundary = principal.bounded()

    def within_boundary(action: str, resource: str) -> bool:
        return boundary is None or bool(boundary.allowing(action, resource))

    paths: list[str] = []
    for action in actions:
        # A write that requires a permissions boundary reaches the principal only if it carries that boundary,
        # and then cannot lift it above the boundary: no escalation through such a grant.
        grants = [g for g in principal.allowing(action, principal.arn) if boundary_condition(g.statement) is None]
        if grants and within_boundary(action, principal.arn):
            paths.append(f"{action} on itself ({_named(grants, principal.arn)})")
    for record in principal.records:
        if not record.customer_managed or not record.resource.startswith("arn:"):
            continue  # inline policies have no versions; AWS-managed ones cannot be rewritten
        for action in VERSION_WRITES:
            grants = principal.allowing(action, record.resource)
            if grants and within_boundary(action, record.resource):
                paths.append(f"{action} on {record.resource}, attached to itself ({_named(grants, record.resource)})")
    return paths


def _named(grants: list[Grant], arn: str) -> str:
    return "; ".join(
        f"{g.describe()} allows it on {g.statement.render_resources()}, which matches {arn}" for g in grants
    )


@check(
    "iam.self-escalation",
    "No IAM principal can rewrite its own permissions",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=("iam",),
    why="A role or user that may put a policy on itself, attach one, replace its trust policy, drop its "
    "permissions boundary or rewrite a managed policy it holds is an administrator one API call away: whoever "
    "gets its credentials (a CI job, a compromised task) attaches AdministratorAccess. A name pattern "
    "(role/${prefix}*) that its own name matches is the usual way this happens.",
    fix="Keep the principal's own ARN out of its IAM writes (another path such as /ci/, or an explicit Deny on "
    "itself), require a permissions boundary (iam:PermissionsBoundary) on every role it may write, and deny "
    "iam:DeleteRolePermissionsBoundary and writes to the boundary policy.",
    reference=REFERENCE,
    reads=("aws_iam_role", "aws_iam_user"),
)
def self_escalation(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for principal in principals(ctx):
        paths = _self_writes(principal)
        label = f"{principal.kind} {principal.name}"
        if paths:
            evidence = f"{label} can change its own permissions: " + "; ".join(paths)
        else:
            evidence = f"{label}: no statement lets it change its own policies, trust, boundary or policy versions"
        yield ctx.finding(check_, not paths, principal.arn, evidence, principal.name)


def _capabilities(principal: Principal) -> set[str]:
    found: set[str] = set()
    if any(grants_everything(g.statement) for g in principal.grants):
        found.add("every action on every resource")
    for action in IAM_WRITES:
        if principal.allows_anywhere(action):
            found.add(action)
    for action in BROAD_DATA:
        if principal.broadly(action):
            found.add(f"{action} on every resource")
    return found


def privileges(principal: Principal) -> set[str]:
    """What makes `principal` powerful: administrator, IAM writes (on anything), data access on every resource;
    within its permissions boundary, when the account holds that policy."""
    found = _capabilities(principal)
    boundary = principal.bounded()
    return found if boundary is None else found & _capabilities(boundary)


def _passable_to(grant: Grant, role: Principal) -> list[str]:
    """The services `grant` lets its holder pass `role` to, that `role` trusts (empty: passing it is useless)."""
    trusted = role.trusted_services()
    wanted: tuple[str, ...] | None = None
    for condition in grant.statement.conditions:
        if condition.key.lower() == PASSED_TO_SERVICE and not condition.negated and not condition.if_exists:
            wanted = condition.values
    if wanted is None:
        return sorted(trusted)
    return sorted(s for s in trusted if any(wildcard_match(w, s, case_sensitive=False) for w in wanted))


@check(
    "iam.pass-role-escalation",
    "No principal can pass a role more privileged than itself",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("iam",),
    why="iam:PassRole hands a role to a service (an ECS task, a Lambda function, an instance) that then runs "
    "as it. A principal that may pass a role with IAM writes or data access it lacks itself, to a service "
    "that role trusts, gets that access by starting something: the role's permissions, not the passer's, "
    "are what it really holds.",
    fix="Scope iam:PassRole to the exact role ARNs the principal deploys, with an iam:PassedToService "
    "condition, and keep those roles no more privileged than the principal (or bound them with a "
    "permissions boundary).",
    reference=REFERENCE,
    reads=("aws_iam_role", "aws_iam_user"),
)
def pass_role_escalation(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    everyone = principals(ctx)
    roles = [p for p in everyone if p.kind == "role"]
    power = {p.arn: privileges(p) for p in everyone}
    for principal in everyone:
        if not principal.allows_anywhere("iam:PassRole"):
            continue
        escalations: list[str] = []
        passable: list[str] = []
        for role in roles:
            if role.arn == principal.arn:
                continue
            grants = principal.allowing("iam:PassRole", role.arn)
            services = sorted({s for g in grants for s in _passable_to(g, role)})
            if not services:
                continue
            passable.append(role.name)
            gained = sorted(power[role.arn] - power[principal.arn])
            if gained:
                escalations.append(
                    f"may pass {role.name} to {', '.join(services)} ({grants[0].describe()}), and {role.name} "
                    f"holds what it lacks: {', '.join(gained)}"
                )
        label = f"{principal.kind} {principal.name}"
        if escalations:
            yield ctx.finding(check_, False, principal.arn, f"{label} " + "; ".join(escalations), principal.name)
        elif passable:
            evidence = f"{label} may pass {', '.join(passable)}, none of which can do more than it can"
            yield ctx.finding(check_, True, principal.arn, evidence, principal.name)
