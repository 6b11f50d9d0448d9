"""Capacity: production databases do not run on burstable instance classes."""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.aws.environment import relaxed_reason
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.errors import NotApplicable


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
    reads=("aws_db_instance",),
)
def burstable_database(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    relaxed = []
    for db in ctx.account.rds.instances():
        environment = ctx.decision.for_resource(db.tags)
        if not environment.production:
            relaxed.append(environment)
            continue
        klass = str(db.raw.get("DBInstanceClass", ""))
        burstable = klass.startswith("db.t")
        shown = f"{klass} (burstable)" if burstable else klass
        evidence = f"{db.identifier}: {shown} ({environment.rule})"
        yield ctx.finding(check_, not burstable, db.arn, evidence, db.identifier)
    if relaxed and len(relaxed) == len(ctx.account.rds.instances()):
        # Every instance was left out for its environment: the result says so, not "nothing deployed".
        raise NotApplicable(relaxed_reason(relaxed))
