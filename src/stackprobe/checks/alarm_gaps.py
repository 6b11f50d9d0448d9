"""Alarms that exist but cannot help: data stores nobody watches, and error alarms that fire too late.

`alarms.coverage` asks for the signals every service has (5xx, latency, CPU, storage, queue age). The
stateful pieces between the tasks and the data fail in ways of their own, and are the ones most often
added later without an alarm: an RDS Proxy whose pool is exhausted (clients wait to borrow a connection),
a Redis node whose engine thread or memory saturates (evictions send every read to the database), a read
replica that falls behind. And an error-rate alarm set at the service level objective itself only fires
once the objective is already missed: nobody is told while there is still error budget left to save.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from stackprobe.checks.alarms import alarm_metrics, notifying_actions, watchers
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.errors import NotApplicable

ERROR_METRICS = ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count")
SLO_KEY = "error_rate_slo_percent"


def _has(**expected: str) -> Callable[[Mapping[str, str]], bool]:
    return lambda dims: all(dims.get(k) == v for k, v in expected.items())


def _stateful_components(ctx: CheckContext) -> Iterator[tuple[str, str, str, Callable[[Mapping[str, str]], bool]]]:
    """(resource, label, namespace, dimension matcher) for every stateful component an alarm should watch."""
    rds, elasticache = ctx.account.rds, ctx.account.elasticache
    for proxy in rds.proxy_records():
        name = str(proxy["DBProxyName"])
        yield str(proxy.get("DBProxyArn", name)), f"RDS Proxy {name}", "AWS/RDS", _has(ProxyName=name)
    for db in rds.instances():
        if db.replica:
            yield db.arn, f"read replica {db.identifier}", "AWS/RDS", _has(DBInstanceIdentifier=db.identifier)
    grouped: set[str] = set()
    for group in elasticache.replication_groups():
        group_id = str(group["ReplicationGroupId"])
        for member in group.get("MemberClusters") or []:
            grouped.add(str(member))
            yield (
                str(group.get("ARN") or group_id),
                f"cache {group_id} node {member}",
                "AWS/ElastiCache",
                _has(CacheClusterId=str(member)),
            )
    for cluster in elasticache.cache_clusters():
        cluster_id = str(cluster["CacheClusterId"])
        if cluster_id not in grouped and not cluster.get("ReplicationGroupId"):
            yield (
                str(cluster.get("ARN") or cluster_id),
                f"cache {cluster_id}",
                "AWS/ElastiCache",
                _has(CacheClusterId=cluster_id),
            )


def _watching(
    alarms: Sequence[Mapping[str, Any]], namespace: str, match: Callable[[Mapping[str, str]], bool]
) -> list[Mapping[str, Any]]:
    names = sorted({m.name for alarm in alarms for m in alarm_metrics(alarm) if m.namespace == namespace})
    return watchers(alarms, namespace, names, match)


@check(
    "alarms.stateful-components",
    "Every proxy, cache node and read replica has an alarm that notifies someone",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("cloudwatch",),
    why="RDS Proxy, ElastiCache and read replicas fail on their own: a proxy whose pool is exhausted makes "
    "clients wait for connections, a Redis node that runs out of memory evicts keys and sends every read to "
    "the database, a lagging replica serves stale data. None of it shows on the ALB, ECS or primary "
    "database alarms until users feel it.",
    fix="Add aws_cloudwatch_metric_alarm for each: RDS Proxy DatabaseConnectionsBorrowLatency (ProxyName), "
    "ElastiCache EngineCPUUtilization and DatabaseMemoryUsagePercentage per node (CacheClusterId), RDS "
    "ReplicaLag per replica, with alarm_actions pointing at an SNS topic.",
    reference="terraform/modules/database (proxy_borrow_latency), modules/cache (node alarms), "
    "modules/observability (replica alarms)",
    reads=("aws_db_proxy", "aws_db_instance", "aws_elasticache_replication_group", "aws_elasticache_cluster"),
)
def stateful_components(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    alarms = ctx.account.cloudwatch.metric_alarms()
    for resource, label, namespace, match in _stateful_components(ctx):
        found = _watching(alarms, namespace, match)
        notifying = [a for a in found if notifying_actions(a)]
        if notifying:
            evidence = f"{label}: " + "; ".join(
                f"{a['AlarmName']} → {', '.join(x.rsplit(':', 1)[-1] for x in notifying_actions(a))}" for a in notifying
            )
        elif found:
            evidence = f"{label}: alarm {', '.join(str(a['AlarmName']) for a in found)} notifies no one"
        else:
            evidence = f"{label}: no alarm on any {namespace} metric of it"
        yield ctx.finding(check_, bool(notifying), resource, evidence)


def _rate_percent(alarm: Mapping[str, Any]) -> float | None:
    """The alarm's threshold as a percentage of requests, when it alarms on a 5xx *rate* (metric math over
    RequestCount); None for a count alarm, whose threshold cannot be compared with a share."""
    metrics = {m.name for m in alarm_metrics(alarm)}
    if not metrics & set(ERROR_METRICS) or "RequestCount" not in metrics:
        return None
    expressions = " ".join(
        str(q.get("Expression") or "") for q in alarm.get("Metrics") or [] if q.get("ReturnData", True)
    )
    threshold = float(alarm.get("Threshold") or 0)
    scaled = "100" in expressions.replace(" ", "")
    return threshold if scaled else threshold * 100


@check(
    "alarms.error-rate-below-slo",
    "The error-rate alarm fires below the stated service level objective, not at it",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("cloudwatch",),
    why="An alarm at the objective itself (5xx above 5% when the objective is fewer than 5% errors) fires only "
    "once the objective is already missed: the error budget is spent before anyone is told. The alarm exists "
    "to give time to act.",
    fix="Set the alarm's threshold below the objective (for example 40% of it), and state the objective "
    f"(`{SLO_KEY}` in stackprobe-requirements.yaml, the same number the stack's alarm is derived from).",
    reference="terraform/modules/observability (alb_5xx_rate_threshold_percent < error_rate_slo_percent)",
    reads=("aws_cloudwatch_metric_alarm",),
)
def error_rate_below_slo(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    stated = ctx.requirements.get(SLO_KEY)
    if stated is None:
        raise NotApplicable(f"no service level objective is stated ({SLO_KEY} in stackprobe-requirements.yaml)")
    slo = float(stated)
    for alarm in ctx.account.cloudwatch.metric_alarms():
        percent = _rate_percent(alarm)
        if percent is None:
            continue
        operator = str(alarm.get("ComparisonOperator", ""))
        below = percent < slo and operator.startswith("GreaterThan")
        evidence = (
            f"{alarm['AlarmName']} fires at a 5xx rate {'≥' if 'OrEqual' in operator else '>'} {percent:g}%, "
            + (
                f"below the objective of {slo:g}%"
                if below
                else f"not below the objective of {slo:g}%: it fires only once the objective is missed"
            )
        )
        yield ctx.finding(check_, below, str(alarm.get("AlarmArn") or alarm["AlarmName"]), evidence)
