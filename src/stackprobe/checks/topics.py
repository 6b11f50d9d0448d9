"""Alarm topics notify someone: an SNS topic an alarm acts on has a subscription.

An alarm whose action is a topic nobody subscribes to changes state in silence: the stack looks monitored
and nobody is told. Read from the Terraform state: the topics this configuration creates that its alarms
name in alarm, OK or insufficient-data actions, and the aws_sns_topic_subscription resources that subscribe
to them. A topic the configuration only names (another stack's, by ARN) is not judged here: its
subscriptions live with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Holder, Severity, check

ACTIONS = ("alarm_actions", "ok_actions", "insufficient_data_actions")


@check(
    "alarms.topic-subscribed",
    "Every SNS topic an alarm notifies has a subscription",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=(),
    why="An alarm that publishes to a topic with no subscriber notifies nobody: the outage it was written for "
    "goes unnoticed, while the stack looks monitored. AWS accepts a topic without subscriptions, and so does "
    "every plan.",
    fix="Add an aws_sns_topic_subscription for the topic (protocol email, https to the paging tool, or lambda "
    "to a chat integration), with the endpoint from a variable per environment; or point the alarms at a "
    "topic that has one.",
    reference="terraform/modules/observability (aws_sns_topic_subscription.email)",
    reads=("aws_sns_topic",),
    holder=Holder.STATE,
)
def topic_subscribed(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    alarms: dict[str, list[str]] = {}
    for alarm in ctx.state_resources("aws_cloudwatch_metric_alarm") + ctx.state_resources(
        "aws_cloudwatch_composite_alarm"
    ):
        name = str(alarm.attributes.get("alarm_name") or alarm.address)
        for key in ACTIONS:
            for arn in alarm.attributes.get(key) or []:
                alarms.setdefault(str(arn), []).append(name)
    subscribed: dict[str, list[str]] = {}
    for subscription in ctx.state_resources("aws_sns_topic_subscription"):
        topic = str(subscription.attributes.get("topic_arn") or "")
        protocol = subscription.attributes.get("protocol") or "?"
        subscribed.setdefault(topic, []).append(f"{subscription.address} ({protocol})")
    for topic_resource in ctx.state_resources("aws_sns_topic"):
        arn = str(topic_resource.attributes.get("arn") or "")
        named_by = sorted(set(alarms.get(arn, [])))
        if not named_by:
            continue
        shown = ", ".join(named_by[:5]) + (f" and {len(named_by) - 5} more" if len(named_by) > 5 else "")
        by = subscribed.get(arn)
        if by:
            evidence = f"{topic_resource.address}: notified by {shown}; subscribed by {', '.join(by)}"
        else:
            evidence = (
                f"{topic_resource.address}: {len(named_by)} alarm(s) publish to it ({shown}) and no "
                "aws_sns_topic_subscription subscribes to it: when they fire, nobody is told"
            )
        yield Finding(check_.id, bool(by), topic_resource.address, evidence, topic_resource.address)
