"""alarms.topic-subscribed on hand-written states: the topics the stack's alarms publish to, and the
subscriptions the stack makes to them."""

from __future__ import annotations

from typing import Any

import pytest
from plan_builders import context, state, stateful

from stackprobe.checks.base import Status
from stackprobe.checks.topics import topic_subscribed
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

TOPIC = "arn:aws:sns:eu-west-1:123456789012:{name}"


def topic(name: str) -> dict[str, Any]:
    return stateful("aws_sns_topic", name, {"arn": TOPIC.format(name=name), "name": name})


def alarm(name: str, *topics: str, key: str = "alarm_actions") -> dict[str, Any]:
    return stateful(
        "aws_cloudwatch_metric_alarm", name, {"alarm_name": name, key: [TOPIC.format(name=t) for t in topics]}
    )


def test_a_topic_alarms_publish_to_without_a_subscription_fails() -> None:
    defective = state(
        topic("alerts"),
        topic("paged"),
        topic("unused"),
        alarm("cpu-high", "alerts"),
        alarm("5xx", "alerts", "paged"),
        alarm("recovered", "paged", key="ok_actions"),
        alarm("elsewhere", "another-stacks-topic"),
        stateful(
            "aws_sns_topic_subscription", "oncall", {"topic_arn": TOPIC.format(name="paged"), "protocol": "https"}
        ),
    )
    result = assert_check(context(state=defective), topic_subscribed, Status.FAIL)

    by = {str(f.address): f for f in result.findings}
    assert sorted(by) == ["aws_sns_topic.alerts", "aws_sns_topic.paged"]  # "unused": no alarm names it
    assert by["aws_sns_topic.alerts"].evidence == (
        "aws_sns_topic.alerts: 2 alarm(s) publish to it (5xx, cpu-high) and no aws_sns_topic_subscription "
        "subscribes to it: when they fire, nobody is told"
    )
    assert by["aws_sns_topic.paged"].passed
    assert "aws_sns_topic_subscription.oncall (https)" in by["aws_sns_topic.paged"].evidence


def test_topics_no_alarm_names_are_not_judged() -> None:
    result = assert_check(context(state=state(topic("news"))), topic_subscribed, Status.NOT_APPLICABLE)
    assert result.findings == []
