"""RDS: Performance Insights settings are stored and read back.

CreateDBInstance and ModifyDBInstance take `EnablePerformanceInsights`, but DescribeDBInstances answers
`PerformanceInsightsEnabled`; moto 5.2 stores the modify-time flag under the request's name, and before
5.2.6 it also dropped the create-time settings, so `performance_insights_enabled` (and its retention
period and KMS key) read back unset and drift on every plan. AWS reports the flag, and while it is on, a
retention period (7 days unless one was given) and the KMS key.

Two records, because moto 5.2.6 fixed one half: `CREATE` (fixed upstream in 5.2.6) and `PATCH`, the
modify half, which every supported release still needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom
from stackprobe.backends.compat.rds_instance_identity import create_instance

if TYPE_CHECKING:
    from moto.rds.models import DBInstance

DEFAULT_RETENTION_DAYS = 7


def _store(instance: Any, settings: dict[str, Any]) -> None:
    enabled = settings.get("enable_performance_insights")
    if enabled is not None:
        instance.performance_insights_enabled = bool(enabled)
    for key in ("performance_insights_retention_period", "performance_insights_kms_key_id"):
        if settings.get(key) is not None:
            setattr(instance, key, settings[key])
    if getattr(instance, "performance_insights_enabled", False):
        if getattr(instance, "performance_insights_retention_period", None) is None:
            instance.performance_insights_retention_period = DEFAULT_RETENTION_DAYS
    else:
        instance.performance_insights_enabled = False
        instance.performance_insights_retention_period = None
        instance.performance_insights_kms_key_id = None


def _apply_create() -> None:
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__

    def __init__(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _store(self, kwargs)

    replace(DBInstance, "__init__", __init__)


def _apply_modify() -> None:
    from moto.rds.models import DBInstance

    original_update = DBInstance.update

    def update(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original_update(self, *args, **kwargs)
        _store(self, kwargs)

    replace(DBInstance, "update", update)


def reproduce_create(moto: MotoEndpoint) -> list[Symptom]:
    """Performance Insights turned on at create, with a retention period."""
    created = create_instance(
        moto, "canary-pi-create", EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=31
    )
    return [
        Symptom(
            "EnablePerformanceInsights at create does not read back",
            created.get("PerformanceInsightsEnabled") is not True,
            f"PerformanceInsightsEnabled={created.get('PerformanceInsightsEnabled')!r}",
        ),
        Symptom(
            "PerformanceInsightsRetentionPeriod at create does not read back",
            created.get("PerformanceInsightsRetentionPeriod") != 31,
            f"PerformanceInsightsRetentionPeriod={created.get('PerformanceInsightsRetentionPeriod')!r}",
        ),
    ]


def reproduce_modify(moto: MotoEndpoint) -> list[Symptom]:
    """Performance Insights turned on by ModifyDBInstance on an instance created without it."""
    rds = moto.client("rds")
    create_instance(moto, "canary-pi-modify")
    rds.modify_db_instance(DBInstanceIdentifier="canary-pi-modify", EnablePerformanceInsights=True)
    modified = rds.describe_db_instances(DBInstanceIdentifier="canary-pi-modify")["DBInstances"][0]
    return [
        Symptom(
            "EnablePerformanceInsights by ModifyDBInstance does not read back",
            modified.get("PerformanceInsightsEnabled") is not True,
            f"PerformanceInsightsEnabled={modified.get('PerformanceInsightsEnabled')!r}",
        ),
    ]


PATCH = MotoPatch(
    name="rds-performance-insights",
    kind=GapKind.DRIFT,
    resource_types=("aws_db_instance",),
    gap="EnablePerformanceInsights given to ModifyDBInstance is stored under the request's name, so "
    "performance_insights_enabled (and its retention period) read back unset after a modify.",
    fix="Stores the settings on the instance under the DescribeDBInstances names, with AWS's 7-day default "
    "retention while Performance Insights is on.",
    install=_apply_modify,
    canary=reproduce_modify,
)

CREATE = MotoPatch(
    name="rds-performance-insights-create",
    kind=GapKind.DRIFT,
    resource_types=("aws_db_instance",),
    gap="EnablePerformanceInsights, its retention period and KMS key are dropped on create, so "
    "performance_insights_* read back unset and drift on every plan.",
    fix="Stores the create-time settings under the DescribeDBInstances names, with AWS's 7-day default retention.",
    install=_apply_create,
    canary=reproduce_create,
    # moto 5.2.6 stores and reads back the create-time settings (seen by the canary on 5.2.6).
    fixed_in="5.2.6",
)
