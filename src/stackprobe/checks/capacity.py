"""Capacity: production databases do not run on burstable instance classes."""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.aws.environment import environment_decision
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
    stack = environment_decision(ctx)
    for page in rds.get_paginator("describe_db_instances").paginate():
        for instance in page["DBInstances"]:
            environment = stack.for_resource(instance.get("TagList"))
            if not environment.production:
                continue
            klass = str(instance.get("DBInstanceClass", ""))
            burstable = klass.startswith("db.t")
            shown = f"{klass} (burstable)" if burstable else klass
            evidence = f"{instance['DBInstanceIdentifier']}: {shown} ({environment.rule})"
            yield ctx.finding(
                check_, not burstable, instance["DBInstanceArn"], evidence, instance["DBInstanceIdentifier"]
            )
