"""The two roles of an ECS task, kept apart: the execution role starts the task, the task role is the app's.

ECS uses the execution role to pull the image, write the log stream and fetch the secrets it injects; the
application's AWS calls use the task role. Two habits of inherited stacks blur them:
- one role for both (often AWS Academy's pre-existing `LabRole`, or a role named `ecs-role`): the app's
  credentials can pull any image and read every injected secret, and the start-up permissions cannot be
  narrowed without breaking the app;
- data permissions (S3, SQS, DynamoDB...) on the execution role while the task role has none: the app's
  SDK calls use the task role and are refused, or someone "fixes" it by reusing the execution role.

`iam.task-role-separate` reads the plan (a role the configuration looks up or creates: the same ARN, or the
same reference when both are known only after apply); `iam.execution-role-scope` reads the deployed task
definitions and the policies attached to their roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackprobe.aws.readers.iam import PolicyRecord
from stackprobe.checks._support import configured_references, known
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.checks.iam import DATA_ACTIONS
from stackprobe.terraform.plan import Unknown

REFERENCE = "terraform/modules/iam (api/worker task roles apart from the execution role)"
# What an execution role needs to inject secrets: not data access of the application's.
INJECTION_ACTIONS = frozenset({"secretsmanager:GetSecretValue", "kms:Decrypt"})


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@check(
    "iam.task-role-separate",
    "ECS task definitions use a task role apart from their execution role",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=(),
    why="The execution role pulls images, writes logs and reads every secret the task injects; when the task "
    "role is the same role, the application's credentials (what a compromised container gets) can do all of "
    "that too, and neither role can be narrowed without breaking the other's job.",
    fix="Create two roles: an execution role with AmazonECSTaskExecutionRolePolicy (plus GetSecretValue on the "
    "injected secrets), and a task role with only the application's actions on its own resources; set "
    "execution_role_arn and task_role_arn to each.",
    reference=REFERENCE,
    plan_level=True,
    reads=("aws_ecs_task_definition",),
)
def task_role_separate(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    for definition in ctx.plan.resources("aws_ecs_task_definition"):
        task: Any = known(ctx, definition, "task_role_arn")
        execution: Any = known(ctx, definition, "execution_role_arn")
        if task in (None, "") or execution in (None, ""):
            missing = "no task role" if task in (None, "") else "no execution role"
            evidence = f"{definition.address}: {missing}, so nothing is shared between the two"
            yield Finding(check_.id, True, definition.address, evidence, definition.address)
            continue
        if task is Unknown or execution is Unknown:
            task_refs = configured_references(ctx, definition.address, "task_role_arn")
            execution_refs = configured_references(ctx, definition.address, "execution_role_arn")
            if not task_refs or not execution_refs:
                continue  # neither the values nor the expressions tell: nothing to judge
            same = task_refs == execution_refs
            shown = ", ".join(sorted(task_refs))
        else:
            same = task == execution
            shown = str(task)
        if same:
            evidence = (
                f"{definition.address}: task_role_arn and execution_role_arn are both {shown}: the application's "
                "credentials can pull images and read every injected secret"
            )
        else:
            evidence = f"{definition.address}: task role and execution role are different roles"
        yield Finding(check_.id, not same, definition.address, evidence, definition.address)


def _data_actions(records: tuple[PolicyRecord, ...], role: str) -> list[str]:
    """The data actions (stackprobe.checks.iam.DATA_ACTIONS) that Allow statements attached to `role` grant."""
    granted: list[str] = []
    for record in records:
        if role not in record.attached_to:
            continue
        for statement in record.statements:
            if statement.is_allow:
                granted += [a for a in DATA_ACTIONS if statement.covers_action(a) and a not in granted]
    return granted


@check(
    "iam.execution-role-scope",
    "Data permissions are on the task role, not on the execution role",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("iam", "ecs"),
    why="The application's SDK calls use the task role; data permissions on the execution role are either "
    "unused (and the app's calls are refused) or a sign that the app runs with the execution role's "
    "credentials, which also pull images and read every injected secret.",
    fix="Move the S3/SQS/DynamoDB/... statements to the task role (task_role_arn), scoped to the stack's own "
    "resources, and leave the execution role with AmazonECSTaskExecutionRolePolicy and GetSecretValue on the "
    "injected secrets.",
    reference=REFERENCE,
    reads=("aws_ecs_task_definition",),
)
def execution_role_scope(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    records = ctx.account.iam.policy_records()
    for arn in ctx.account.ecs.task_definition_arns():
        definition = ctx.account.ecs.task_definition(arn)
        execution = str(definition.get("executionRoleArn") or "")
        if not execution:
            continue
        task = str(definition.get("taskRoleArn") or "")
        family = f"{definition.get('family', '?')}:{definition.get('revision', '?')}"
        needed = set(INJECTION_ACTIONS)
        if any(c.get("environmentFiles") for c in definition.get("containerDefinitions") or []):
            needed.add("s3:GetObject")  # ECS reads the environment files from S3 with the execution role
        granted = [a for a in _data_actions(records, f"role/{_role_name(execution)}") if a not in needed]
        task_granted = _data_actions(records, f"role/{_role_name(task)}") if task else []
        shown = ", ".join(granted[:6]) + (" ..." if len(granted) > 6 else "")
        if granted and not task_granted:
            has = f"task role {_role_name(task)} grants no data action" if task else "the task has no task role"
            evidence = (
                f"{family}: execution role {_role_name(execution)} grants {shown} while {has}: the application's "
                "calls use the task role"
            )
            yield ctx.finding(check_, False, arn, evidence)
        elif granted:
            evidence = (
                f"{family}: execution role {_role_name(execution)} grants {shown}, and task role "
                f"{_role_name(task)} holds the application's own"
            )
            yield ctx.finding(check_, True, arn, evidence)
        else:
            evidence = f"{family}: execution role {_role_name(execution)} holds no data permission"
            yield ctx.finding(check_, True, arn, evidence)
