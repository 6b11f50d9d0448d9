"""SQS: RedriveAllowPolicy is returned, and setting it keeps the queue policy."""

from __future__ import annotations

import json

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("sqs-redrive-allow-policy", "sqs-redrive-policy-json")


def test_redrive_allow_policy_reads_back(backend: AwsBackend) -> None:
    sqs = backend.client("sqs")
    dlq = sqs.create_queue(QueueName="compat-dlq")["QueueUrl"]
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:eu-west-1:123456789012:src"]})

    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": allow})

    by_name = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    everything = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert json.loads(by_name["RedriveAllowPolicy"]) == json.loads(allow)
    assert json.loads(everything["RedriveAllowPolicy"]) == json.loads(allow)


def test_redrive_allow_policy_on_create_and_removal(backend: AwsBackend) -> None:
    sqs = backend.client("sqs")
    allow = json.dumps({"redrivePermission": "allowAll"})
    url = sqs.create_queue(QueueName="compat-dlq-create", Attributes={"RedriveAllowPolicy": allow})["QueueUrl"]

    created = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": ""})
    removed = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    assert json.loads(created["RedriveAllowPolicy"]) == {"redrivePermission": "allowAll"}
    assert "RedriveAllowPolicy" not in removed


def test_queue_without_redrive_allow_policy_does_not_report_one(backend: AwsBackend) -> None:
    sqs = backend.client("sqs")
    url = sqs.create_queue(QueueName="compat-plain")["QueueUrl"]

    assert "RedriveAllowPolicy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_setting_another_attribute_keeps_the_queue_policy(backend: AwsBackend) -> None:
    sqs = backend.client("sqs")
    url = sqs.create_queue(QueueName="compat-policy")["QueueUrl"]
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]}
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})

    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})}
    )
    kept = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    cleared = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    assert json.loads(kept["Policy"]) == json.loads(policy)
    assert "Policy" not in cleared


def test_redrive_policy_reads_back_as_compact_json(backend: AwsBackend) -> None:
    sqs = backend.client("sqs")
    dlq = sqs.create_queue(QueueName="compat-dlq-compact")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sent = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}, separators=(",", ":"))
    url = sqs.create_queue(QueueName="compat-src-compact", Attributes={"RedrivePolicy": sent})["QueueUrl"]

    read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]

    assert read == sent
