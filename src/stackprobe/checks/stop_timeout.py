"""A job outlasting the stop timeout dies on scale-in unless the task protects itself.

When ECS stops a task (a scale-in, a deployment), it sends SIGTERM and, `stopTimeout` seconds later (30 by
default, 120 at most on Fargate), SIGKILL. A queue consumer whose jobs can run longer loses the job in
progress: the message reappears after its visibility timeout, one receive closer to the dead-letter queue,
and the work is done again. ECS task scale-in protection (the worker asks the ECS agent to protect its task
while it holds a message) keeps busy tasks out of scale-in; the task role needs ecs:UpdateTaskProtection
for that.

How long a job may run is read from the deployment: the visibility timeout of each queue the task role may
receive from (a message is held at most that long) and, where the container declares it, a job-length
variable (`MAX_JOB_SECONDS`, `JOB_TIMEOUT_SECONDS`...). Whether the app really calls the agent is the app's
to prove (its own tests); what the configuration can show is whether it may.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from stackprobe.checks._principals import principals, role_named
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

DEFAULT_STOP_TIMEOUT = 30
PROTECTION_ACTION = "ecs:UpdateTaskProtection"
# MAX_JOB_SECONDS, MAX_JOB_DURATION_SECONDS, JOB_TIMEOUT_SECONDS, JOB_MAX_SECONDS...
_JOB_LENGTH = re.compile(r"^(MAX_)?JOB_((MAX|DURATION|TIMEOUT|LENGTH)_)?SECONDS$", re.I)


def _stop_timeout(containers: list[Mapping[str, Any]]) -> int:
    """The shortest stop timeout of the essential containers (the first one killed ends the task)."""
    essential = [c for c in containers if c.get("essential", True)] or containers
    values = [int(c.get("stopTimeout") or DEFAULT_STOP_TIMEOUT) for c in essential]
    return min(values) if values else DEFAULT_STOP_TIMEOUT


def _documented_lengths(environment: Mapping[str, str]) -> list[tuple[str, int]]:
    found = []
    for name, value in environment.items():
        if _JOB_LENGTH.match(name) and value.strip().isdigit():
            found.append((name, int(value)))
    return found


@check(
    "ecs.stop-timeout-covers-jobs",
    "Queue consumers outlive their longest job when stopped, or protect themselves from scale-in",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("ecs", "sqs", "iam"),
    why="ECS kills a stopping task stopTimeout seconds after SIGTERM (30 s by default, 120 s at most on "
    "Fargate). A worker whose jobs run longer loses the job in progress on every scale-in: the message "
    "comes back after its visibility timeout, the work is repeated, and a job that keeps being interrupted "
    "ends in the dead-letter queue.",
    fix="Give the container a stopTimeout above the longest job where it fits (Fargate: at most 120 s), and "
    "otherwise protect busy tasks from scale-in: the worker sets ECS task scale-in protection through the "
    "agent ($ECS_AGENT_URI/task-protection/v1/state) while it holds a message, and its task role may "
    "ecs:UpdateTaskProtection on its cluster's tasks.",
    reference="terraform/modules/iam (worker_task_protection), app/modelserve/protection.py",
    reads=("aws_ecs_service",),
)
def stop_timeout_covers_jobs(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    everyone = principals(ctx)
    queues = [(q, q.attributes.get("QueueArn", "")) for q in ctx.account.sqs.queues()]
    for workload in ctx.account.ecs.workloads():
        role = role_named(everyone, workload.task_definition.get("taskRoleArn"))
        if role is None:
            continue
        consumed = [(q, arn) for q, arn in queues if arn and role.allowing("sqs:ReceiveMessage", arn)]
        if not consumed:
            continue  # not a queue consumer: nothing says how long its work lasts
        lengths = [
            (f"visibility timeout of {q.name}", int(q.attributes.get("VisibilityTimeout", "30"))) for q, _ in consumed
        ]
        documented = _documented_lengths(workload.all_environment())
        lengths += [(f"{name} of its container", value) for name, value in documented]
        source, longest = max(lengths, key=lambda item: item[1])
        stop = _stop_timeout(workload.containers)
        task_arn = f"arn:aws:ecs:{ctx.account.region}:{ctx.backend.account_id}:task/{workload.cluster_name}/0"
        # The partition of the role's own ARN, so that a pattern naming arn:aws-cn: matches there.
        task_arn = task_arn.replace("arn:aws:", f"arn:{role.arn.split(':')[1]}:", 1)
        protection = role.allowing(PROTECTION_ACTION, task_arn)
        head = f"{workload.label}: a job may run {longest} s ({source}), stopTimeout is {stop} s"
        if stop >= longest:
            evidence = f"{head}: a stopping task finishes its job"
        elif protection:
            evidence = (
                f"{head}, and its task role {role.name} may protect the task from scale-in while busy "
                f"({protection[0].describe()})"
            )
        else:
            evidence = (
                f"{head}, and its task role {role.name} may not {PROTECTION_ACTION}: a scale-in or deployment "
                "kills the job in progress"
            )
        yield ctx.finding(check_, stop >= longest or bool(protection), workload.arn, evidence, workload.name)
