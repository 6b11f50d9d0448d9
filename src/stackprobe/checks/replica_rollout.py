"""Read replicas created in the same apply that changes their primary's master password.

RDS refuses a read replica of a primary whose master password it manages. A configuration that adds
replicas to a live primary therefore has to switch the primary to a password of its own first; RDS applies
that switch asynchronously (it sits in PendingModifiedValues, or waits for the maintenance window), so a
replica created in the same apply races with it and is refused, or is made from a primary still in the old
state. The plan shows both halves: an update of the primary that changes manage_master_user_password (or
writes a new password, password_wo_version) and the creation of a replica of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.terraform.plan import ResourceChange


def _value(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, Mapping) else None


def _password_switch(change: ResourceChange) -> str | None:
    """What the update changes about the master password, or None."""
    if "update" not in change.actions:
        return None
    before, after = change.before, change.after
    managed_before = _value(before, "manage_master_user_password") is True
    managed_after = _value(after, "manage_master_user_password") is True
    if managed_before != managed_after:
        return f"manage_master_user_password {str(managed_before).lower()} → {str(managed_after).lower()}"
    if _value(before, "password_wo_version") != _value(after, "password_wo_version"):
        return f"password_wo_version {_value(before, 'password_wo_version')} → {_value(after, 'password_wo_version')}"
    return None


@check(
    "database.replica-after-password-switch",
    "Read replicas are not created in the apply that switches their primary's master password",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=(),
    why="RDS applies a change of the master password's management asynchronously; a read replica created "
    "by the same apply is requested while the primary still manages its password in Secrets Manager (RDS "
    "refuses it) or is mid-modification. The apply fails half-way, with the primary changed and no replica.",
    fix="Switch the primary first (stack_managed_master_password = true) and apply; add the replicas "
    "(db_replica_count) in a later apply, once the primary is available with no pending modification.",
    reference="terraform/modules/database (stack_managed_master_password, the replicas' precondition), "
    "docs/RUNBOOK.md (Adding read replicas)",
    plan_level=True,
    reads=("aws_db_instance",),
)
def replica_after_password_switch(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    changes = [c for c in ctx.plan.changes() if c.type == "aws_db_instance"]
    by_identifier = {
        str(_value(c.after, "identifier") or _value(c.before, "identifier")): c
        for c in changes
        if _value(c.after, "identifier") or _value(c.before, "identifier")
    }
    for replica in changes:
        source = _value(replica.after, "replicate_source_db")
        if "create" not in replica.actions or not isinstance(source, str) or not source:
            continue
        primary = by_identifier.get(source) or by_identifier.get(source.rsplit(":", 1)[-1])
        switch = _password_switch(primary) if primary is not None else None
        if primary is not None and switch is not None:
            evidence = (
                f"{replica.address} is created in the plan that updates its primary {primary.address} ({switch}): "
                "RDS is still switching the primary's password when the replica is requested"
            )
        else:
            evidence = f"{replica.address} is created with its primary's master password left as it is"
        yield Finding(check_.id, switch is None, replica.address, evidence, replica.address)
