"""CloudWatch alarms: every failure signal of the stack's resources is watched, and someone is told.

The checks discover the resources (ALBs, target groups, ECS services, RDS instances, SQS queues and
their dead-letter queues) and look, for each signal that matters, for a metric alarm on that
resource's dimension (plain metric or metric math) with an action that notifies (SNS, Lambda, SSM
incident). Application Auto Scaling's own TargetTracking-* alarms do not count: they scale, they tell
no one. Each signal is only required when its resource exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

# Percentiles that show the tail; an Average latency alarm hides the slow requests users feel.
TAIL_PERCENTILES = ("p90", "p95", "p99", "p99.9", "tm99", "tm95")


@dataclass(frozen=True)
class Metric:
    """One metric an alarm reads: namespace, name, dimensions and statistic."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    statistic: str


def alarm_metrics(alarm: Mapping[str, Any]) -> list[Metric]:
    """Every metric an alarm reads, whether it is a plain metric alarm or metric math."""
    found: list[Metric] = []
    if alarm.get("MetricName"):
        found.append(
            Metric(
                str(alarm.get("Namespace", "")),
                str(alarm["MetricName"]),
                {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []},
                str(alarm.get("ExtendedStatistic") or alarm.get("Statistic") or ""),
            )
        )
    for query in alarm.get("Metrics") or []:
        stat = query.get("MetricStat") or {}
        metric = stat.get("Metric") or {}
        if metric.get("MetricName"):
            found.append(
                Metric(
                    str(metric.get("Namespace", "")),
                    str(metric["MetricName"]),
                    {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []},
                    str(stat.get("Stat", "")),
                )
            )
    return found


def notifying_actions(alarm: Mapping[str, Any]) -> list[str]:
    """Alarm actions that reach a person or a runbook; Application Auto Scaling policy ARNs excluded."""
    if alarm.get("ActionsEnabled") is False:
        return []
    return [action for action in alarm.get("AlarmActions") or [] if ":autoscaling:" not in action]


def _describe(alarm: Mapping[str, Any]) -> str:
    actions = notifying_actions(alarm)
    target = ", ".join(a.rsplit(":", 1)[-1] for a in actions) if actions else "no notifying action"
    return f"{alarm['AlarmName']} → {target}"


def watchers(
    alarms: Sequence[Mapping[str, Any]],
    namespace: str,
    names: Sequence[str],
    dimensions: Callable[[Mapping[str, str]], bool],
    statistic: Callable[[str], bool] | None = None,
) -> list[Mapping[str, Any]]:
    """The alarms that read one of `names` in `namespace` with matching dimensions (and statistic)."""
    return [
        alarm
        for alarm in alarms
        if any(
            m.namespace == namespace
            and m.name in names
            and dimensions(m.dimensions)
            and (statistic is None or statistic(m.statistic))
            for m in alarm_metrics(alarm)
        )
    ]


@dataclass(frozen=True)
class Signal:
    """One resource and one signal on it that needs an alarm."""

    resource: str
    label: str
    namespace: str
    metrics: tuple[str, ...]
    dimensions: Callable[[Mapping[str, str]], bool]
    statistic: Callable[[str], bool] | None = None


def _equals(**expected: str) -> Callable[[Mapping[str, str]], bool]:
    return lambda dims: all(dims.get(k) == v for k, v in expected.items())


def _is_tail(stat: str) -> bool:
    return stat.lower() in TAIL_PERCENTILES


def signals(ctx: CheckContext) -> Iterator[Signal]:
    """Every (resource, signal) of the account that an alarm should watch."""
    yield from _load_balancer_signals(ctx)
    for workload in ctx.account.ecs.workloads():
        for metric, what in (("CPUUtilization", "CPU"), ("MemoryUtilization", "memory")):
            yield Signal(
                workload.arn,
                f"{workload.label} {what}",
                "AWS/ECS",
                (metric,),
                _equals(ClusterName=workload.cluster_name, ServiceName=workload.name),
            )
    for db in ctx.account.rds.instances():
        yield Signal(
            db.arn, f"{db.identifier} CPU", "AWS/RDS", ("CPUUtilization",), _equals(DBInstanceIdentifier=db.identifier)
        )
        if db.standalone:  # Aurora storage is the cluster's and grows by itself
            yield Signal(
                db.arn,
                f"{db.identifier} free storage",
                "AWS/RDS",
                ("FreeStorageSpace",),
                _equals(DBInstanceIdentifier=db.identifier),
            )
    yield from _queue_signals(ctx)


def _load_balancer_signals(ctx: CheckContext) -> Iterator[Signal]:
    elbv2 = ctx.account.elbv2
    for lb in elbv2.load_balancers():
        if lb.get("Type") != "application":
            continue
        suffix = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
        yield Signal(
            lb["LoadBalancerArn"],
            f"{lb['LoadBalancerName']} 5xx",
            "AWS/ApplicationELB",
            ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"),
            _equals(LoadBalancer=suffix),
        )
        yield Signal(
            lb["LoadBalancerArn"],
            f"{lb['LoadBalancerName']} tail latency",
            "AWS/ApplicationELB",
            ("TargetResponseTime",),
            _equals(LoadBalancer=suffix),
            _is_tail,
        )
        for group in elbv2.target_groups():
            if lb["LoadBalancerArn"] not in (group.get("LoadBalancerArns") or []):
                continue
            tg_suffix = group["TargetGroupArn"].split(":", 5)[-1]
            yield Signal(
                group["TargetGroupArn"],
                f"{group['TargetGroupName']} unhealthy hosts",
                "AWS/ApplicationELB",
                ("UnHealthyHostCount",),
                _equals(LoadBalancer=suffix, TargetGroup=tg_suffix),
            )


def _queue_signals(ctx: CheckContext) -> Iterator[Signal]:
    queues = ctx.account.sqs.queues()
    dead_letter_arns = {
        json.loads(queue.attributes["RedrivePolicy"]).get("deadLetterTargetArn")
        for queue in queues
        if queue.attributes.get("RedrivePolicy")
    }
    for queue in queues:
        arn = queue.attributes.get("QueueArn", queue.url)
        if arn in dead_letter_arns:
            yield Signal(
                arn,
                f"{queue.name} dead-letter depth",
                "AWS/SQS",
                ("ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessages"),
                _equals(QueueName=queue.name),
            )
        else:
            yield Signal(
                arn,
                f"{queue.name} age of oldest message",
                "AWS/SQS",
                ("ApproximateAgeOfOldestMessage",),
                _equals(QueueName=queue.name),
            )


@check(
    "alarms.coverage",
    "Each failure signal of each resource has an alarm that notifies someone",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("cloudwatch",),
    why="Without alarms, 5xx bursts, slow tails, unhealthy targets, saturated tasks or databases, a filling "
    "disk, a stuck queue or a growing dead-letter queue are found by users. An alarm without an action "
    "changes colour in a console nobody watches.",
    fix="Add aws_cloudwatch_metric_alarm per signal (ALB 5xx and p99 TargetResponseTime, UnHealthyHostCount, "
    "ECS CPU/memory, RDS CPU/FreeStorageSpace, SQS ApproximateAgeOfOldestMessage, DLQ depth) with "
    "alarm_actions pointing at an SNS topic.",
    reference="terraform/modules/observability, terraform/modules/queue (alarms)",
    reads=("aws_lb", "aws_ecs_service", "aws_db_instance", "aws_sqs_queue"),
)
def coverage(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    alarms = ctx.account.cloudwatch.metric_alarms()
    for signal in signals(ctx):
        found = watchers(alarms, signal.namespace, signal.metrics, signal.dimensions, signal.statistic)
        notifying = [alarm for alarm in found if notifying_actions(alarm)]
        if notifying:
            yield ctx.finding(
                check_, True, signal.resource, f"{signal.label}: " + "; ".join(_describe(a) for a in notifying)
            )
        elif found:
            yield ctx.finding(
                check_, False, signal.resource, f"{signal.label}: " + "; ".join(_describe(a) for a in found)
            )
        else:
            extra = ""
            if signal.statistic is not None and watchers(alarms, signal.namespace, signal.metrics, signal.dimensions):
                extra = " (only alarms on a non-percentile statistic, which hides the tail)"
            yield ctx.finding(
                check_,
                False,
                signal.resource,
                f"{signal.label}: no alarm on {signal.namespace} {'/'.join(signal.metrics)}{extra}",
            )


@check(
    "alarms.topic-encrypted",
    "SNS topics that alarms notify are encrypted with KMS",
    severity=Severity.LOW,
    category=Category.SECURITY,
    services=("cloudwatch", "sns"),
    why="Alarm notifications carry resource names, metric values and sometimes request details; an "
    "unencrypted topic stores them in plaintext.",
    fix="Set kms_master_key_id on the aws_sns_topic (a customer key whose policy lets CloudWatch use it).",
    reference="terraform/modules/observability (aws_sns_topic.alarms)",
    reads=("aws_cloudwatch_metric_alarm",),
)
def topic_encrypted(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    topics: set[str] = set()
    for alarm in ctx.account.cloudwatch.metric_alarms():
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            topics.update(a for a in alarm.get(key) or [] if a.startswith("arn:") and ":sns:" in a)
    for topic in sorted(topics):
        attributes = ctx.account.sns.topic_attributes(topic)
        if attributes is None:
            continue  # another account's topic, or gone: nothing of this stack to judge
        encryption_key = attributes.get("KmsMasterKeyId")
        yield ctx.finding(
            check_,
            bool(encryption_key),
            topic,
            f"KmsMasterKeyId={encryption_key}"
            if encryption_key
            else "no KmsMasterKeyId: notifications stored unencrypted",
        )
