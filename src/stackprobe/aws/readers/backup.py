"""AWS Backup: plans (with their rules and resource selections) and vaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


@dataclass(frozen=True)
class BackupPlan:
    """A plan's name, its rules (for evidence: name, schedule, retention) and its resource selections."""

    name: str
    rules: tuple[str, ...]
    selections: tuple[Mapping[str, Any], ...] = field(default=())


class BackupReader(ServiceReader):
    service = "backup"

    def plan_summaries(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("plan summaries", lambda: self.paginate("list_backup_plans", "BackupPlansList"))

    def plans(self) -> tuple[BackupPlan, ...]:
        return self.listing("plans", lambda: [self._plan(s["BackupPlanId"]) for s in self.plan_summaries()])

    def _plan(self, plan_id: str) -> BackupPlan:
        client = self.client()
        plan = client.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]
        rules = tuple(
            f"{rule.get('RuleName')} ({rule.get('ScheduleExpression', 'no schedule')}, "
            f"{(rule.get('Lifecycle') or {}).get('DeleteAfterDays', 'kept')} d)"
            for rule in plan.get("Rules") or []
        )
        selections = tuple(
            client.get_backup_selection(BackupPlanId=plan_id, SelectionId=s["SelectionId"])["BackupSelection"]
            for s in client.list_backup_selections(BackupPlanId=plan_id).get("BackupSelectionsList", [])
        )
        return BackupPlan(str(plan.get("BackupPlanName", plan_id)), rules, selections)

    def vaults(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("vaults", lambda: self.paginate("list_backup_vaults", "BackupVaultList"))
