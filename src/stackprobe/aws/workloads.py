"""The deployed ECS services (`Workload`s, read by `stackprobe.aws.readers.ecs`) and how many tasks each can run.

`discover_workloads` is the door for code without an account snapshot (live probes): it reads through
the same ECS reader a snapshot uses, afresh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.aws import Clients
from stackprobe.aws.readers.ecs import EcsReader, Workload

__all__ = ["TaskCeiling", "Workload", "discover_workloads", "task_ceiling"]


def discover_workloads(ctx: Clients) -> list[Workload]:
    """Every active ECS service in the account and region, with its task definition and tags."""
    return list(EcsReader(ctx).workloads())


@dataclass(frozen=True)
class TaskCeiling:
    """The most tasks a service can run at once, and how that number was reached (for evidence)."""

    tasks: int
    explanation: str


def task_ceiling(workload: Workload, target: Mapping[str, Any] | None) -> TaskCeiling:
    """Scalable-target MaxCapacity (else the desired count), times the deployment's maximumPercent.

    During a rolling deployment ECS starts new tasks before stopping old ones, up to maximumPercent of
    the count; that is when a connection pool per task most often exhausts a database.
    """
    if target is not None:
        base, what = int(target.get("MaxCapacity") or 0), "MaxCapacity"
    else:
        base, what = workload.desired_count, "desiredCount (no scalable target)"
    percent = workload.maximum_percent
    tasks = math.ceil(base * percent / 100) if percent > 100 else base
    if percent > 100:
        return TaskCeiling(tasks, f"{base} {what} x {percent}% deployment maximumPercent = {tasks} tasks")
    return TaskCeiling(tasks, f"{tasks} tasks ({what})")
