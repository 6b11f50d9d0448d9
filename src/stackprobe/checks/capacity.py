"""Capacity: production databases do not run on burstable instance classes."""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.aws.environment import is_production
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check


@check(
    "capacity.burstable-database-prod",
    "Production databases run on a fixed-performance instance class",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("rds",),
    why="A db.t* instance earns CPU credits while idle and is throttled to a fraction of a core when they run "
    "out, which is exactly what sustained production load (a match day, a batch import) does.",
    fix="Use an m-class or r-class instance (e.g. db.m7g.large) for production, and keep t-classes for development.",
    reference="terraform/environments/prod.tfvars",
)
def burstable_database(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    rds = ctx.client("rds")
    for page in rds.get_paginator("describe_db_instances").paginate():
        for instance in page["DBInstances"]:
            if not is_production(instance.get("TagList")):
                continue
            klass = str(instance.get("DBInstanceClass", ""))
            burstable = klass.startswith("db.t")
            evidence = f"{instance['DBInstanceIdentifier']}: {klass}" + (" (burstable)" if burstable else "")
            yield ctx.finding(
                check_, not burstable, instance["DBInstanceArn"], evidence, instance["DBInstanceIdentifier"]
            )
