"""What a particular service must provide, as declared in `stackprobe-requirements.yaml`.

Read replicas, a cache or a CDN are not universal best practice (flagging every stack without them
would be noise), but a service whose brief demands them must have them. A configuration declares its
requirements next to its .tf files; without the file these checks are not applicable.

    database_read_replicas: 1   # at least this many read replicas of each primary database
    cache: true                 # an ElastiCache cluster or replication group, encrypted in transit
    static_assets_cdn: true     # a CloudFront distribution in front of static assets
    error_rate_slo_percent: 5   # the error-rate objective (alarms.error-rate-below-slo, checks/alarm_gaps.py)
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.aws.readers.rds import DbInstance
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check


def _primaries(ctx: CheckContext) -> list[DbInstance]:
    return [db for db in ctx.account.rds.instances() if not db.replica]


@check(
    "requirements.read-replicas",
    "Each primary database has the read replicas the service requires",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("rds",),
    why="The service's brief requires read capacity beyond one instance: without replicas, history and "
    "statistics queries compete with writes on the primary at peak.",
    fix="Add aws_db_instance replicas with replicate_source_db set to the primary (and point read-only "
    "queries at them).",
    reference="terraform/environments/sports-commentary.tfvars (db_replica_count)",
    reads=("aws_db_instance",),
)
def read_replicas(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    required = int(ctx.requirements.get("database_read_replicas", 0) or 0)
    if required <= 0:
        return
    for primary in _primaries(ctx):
        replicas = primary.raw.get("ReadReplicaDBInstanceIdentifiers") or []
        yield ctx.finding(
            check_,
            len(replicas) >= required,
            primary.arn,
            f"{primary.identifier}: {len(replicas)} read replica(s), {required} required",
            primary.identifier,
        )


@check(
    "requirements.cache",
    "The service has the encrypted cache its brief requires",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("elasticache", "rds"),
    why="The service's brief puts a cache in front of the database (thousands of clients polling every few "
    "seconds); without it every poll is a database query.",
    fix="Add an aws_elasticache_replication_group with transit and at-rest encryption, and serve hot reads from it.",
    reference="terraform/modules/cache",
    reads=("aws_db_instance",),
)
def cache(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    if not ctx.requirements.get("cache"):
        return
    groups = ctx.account.elasticache.replication_groups()
    encrypted = [g for g in groups if g.get("TransitEncryptionEnabled") and g.get("AtRestEncryptionEnabled")]
    for primary in _primaries(ctx):
        evidence = (
            f"{primary.identifier}: cache {encrypted[0]['ReplicationGroupId']} in front"
            if encrypted
            else f"{primary.identifier}: no encrypted ElastiCache replication group; every read hits the database"
        )
        yield ctx.finding(check_, bool(encrypted), primary.arn, evidence, primary.identifier)


@check(
    "requirements.static-assets-cdn",
    "Static assets are served through the CDN the service requires",
    severity=Severity.LOW,
    category=Category.BEST_PRACTICE,
    services=("cloudfront", "ecs"),
    why="Serving static files from the application tasks spends their CPU and connections on bytes a CDN "
    "would cache at the edge, closer to the users.",
    fix="Put the assets in an S3 bucket behind a CloudFront distribution with origin access control.",
    reference="terraform/modules/edge (aws_cloudfront_distribution.assets)",
    reads=("aws_ecs_service",),
)
def static_assets_cdn(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    if not ctx.requirements.get("static_assets_cdn"):
        return
    distributions = ctx.account.cloudfront.distributions()
    for workload in ctx.account.ecs.workloads():
        if not workload.load_balancers:
            continue
        evidence = (
            f"{workload.label}: assets through CloudFront {distributions[0]['DomainName']}"
            if distributions
            else f"{workload.label}: no CloudFront distribution; the tasks serve the static assets themselves"
        )
        yield ctx.finding(check_, bool(distributions), workload.arn, evidence)
