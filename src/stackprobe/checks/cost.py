"""Cost: large instances that run around the clock outside any scaling or schedule."""

from __future__ import annotations

import re
from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

# Accelerated families (GPU, Inferentia, Trainium) and very large general sizes: what an idle hour
# of costs dollars, not cents.
ACCELERATED = re.compile(r"^(p\d|g\d|inf\d|trn\d|dl\d)")
LARGE_SIZE = re.compile(r"\.(\d+)xlarge$")
LARGE_SIZE_THRESHOLD = 8
SCALED_TAG = "aws:autoscaling:groupName"
# The states in which an instance costs its hourly price.
RUNNING = ("pending", "running")


@check(
    "cost.large-always-on-instance",
    "No large or GPU instance runs around the clock outside a scaling group or schedule",
    severity=Severity.MEDIUM,
    category=Category.COST,
    services=("ec2",),
    why="A GPU or 8xlarge+ instance left running between jobs costs thousands a month for nothing; batch and "
    "training work belongs in something that scales to zero.",
    fix="Run the workload as a scheduled or event-driven job (AWS Batch, ECS tasks, SageMaker training jobs), "
    "or put the instance in an Auto Scaling group with a schedule that stops it outside working hours.",
    reads=("aws_instance",),
)
def large_always_on(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for instance in ctx.account.ec2.instances():
        if instance.get("State", {}).get("Name") not in RUNNING:
            continue
        kind = str(instance.get("InstanceType", ""))
        size = LARGE_SIZE.search(kind)
        large = bool(ACCELERATED.match(kind)) or (size is not None and int(size.group(1)) >= LARGE_SIZE_THRESHOLD)
        scaled = any(t.get("Key") == SCALED_TAG for t in instance.get("Tags") or [])
        if not large:
            continue
        evidence = f"{kind} " + (
            "in an Auto Scaling group" if scaled else "runs always-on, outside any Auto Scaling group or schedule"
        )
        yield ctx.finding(check_, scaled, instance["InstanceId"], evidence)
