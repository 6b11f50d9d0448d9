"""RDS: Performance Insights settings are stored and read back.

CreateDBInstance and ModifyDBInstance take `EnablePerformanceInsights`, but DescribeDBInstances answers
`PerformanceInsightsEnabled`; moto 5.2 drops the create-time settings and stores the modify-time flag
under the request's name, so `performance_insights_enabled` (and its retention period and KMS key) read
back unset and drift on every plan. AWS reports the flag, and while it is on, a retention period
(7 days unless one was given) and the KMS key.
"""

from __future__ import annotations

from typing import Any

from moto.rds.models import DBInstance

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoPatch

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


def _apply() -> None:
    original_init = DBInstance.__init__
    original_update = DBInstance.update

    def __init__(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _store(self, kwargs)

    def update(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original_update(self, *args, **kwargs)
        _store(self, kwargs)

    replace(DBInstance, "__init__", __init__)
    replace(DBInstance, "update", update)


PATCH = MotoPatch(
    name="rds-performance-insights",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.DRIFT,
    resource_types=("aws_db_instance",),
    gap="EnablePerformanceInsights, its retention period and KMS key are dropped on create and stored under "
    "the wrong name on modify, so performance_insights_* read back unset.",
    fix="Stores the settings on the instance under the DescribeDBInstances names, with AWS's 7-day default "
    "retention while Performance Insights is on.",
    install=_apply,
)
