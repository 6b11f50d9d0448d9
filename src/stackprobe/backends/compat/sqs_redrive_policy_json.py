"""SQS: `RedrivePolicy` reads back as compact JSON, as AWS returns it.

moto 5.2 parses the redrive policy and re-serialises it with Python's default separators
(`{"deadLetterTargetArn": "...", "maxReceiveCount": 4}`). AWS answers compact JSON
(`{"deadLetterTargetArn":"...","maxReceiveCount":4}`), which is also what Terraform's `jsonencode`
sends, so with moto every `aws_sqs_queue` with a `redrive_policy` shows a "whitespace changes" update on
every plan.
"""

from __future__ import annotations

import json
from typing import Any

from stackprobe.backends.compat._monkey import ShapeMismatch, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.sqs.models import Queue

    original_attributes = vars(Queue).get("attributes")
    if not isinstance(original_attributes, property):
        raise ShapeMismatch("moto.sqs.models.Queue.attributes is no longer a property")

    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original_attributes.__get__(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    replace(Queue, "attributes", property(attributes))


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A queue created with a compact RedrivePolicy (what jsonencode sends), read back."""
    sqs = moto.client("sqs")
    dlq = sqs.create_queue(QueueName="canary-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sent = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}, separators=(",", ":"))
    url = sqs.create_queue(QueueName="canary-source", Attributes={"RedrivePolicy": sent})["QueueUrl"]
    read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    return [Symptom("RedrivePolicy reads back re-serialised, not as sent", read != sent, f"sent {sent}, read {read}")]


PATCH = MotoPatch(
    name="sqs-redrive-policy-json",
    kind=GapKind.DRIFT,
    resource_types=("aws_sqs_queue", "aws_sqs_queue_redrive_policy"),
    gap="RedrivePolicy is re-serialised with spaces after ':' and ',', so the provider plans a whitespace "
    "change on every plan.",
    fix="Returns RedrivePolicy as compact JSON, as AWS does.",
    install=_apply,
    canary=reproduce,
)
