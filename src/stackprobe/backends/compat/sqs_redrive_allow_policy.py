"""SQS: `RedriveAllowPolicy` is stored and returned, and setting it leaves the queue policy alone.

moto 5.2 accepts `RedriveAllowPolicy` in SetQueueAttributes but never returns it (it is not one of the
attributes GetQueueAttributes knows, and asking for it by name is an InvalidAttributeName), so
`aws_sqs_queue_redrive_allow_policy` waits forever for it to appear. moto also resets `Policy` on every
SetQueueAttributes that does not carry one, so setting the redrive allow policy silently removed an
`aws_sqs_queue_policy`; AWS changes only the attributes a request names. An empty value removes the
attribute, as in AWS.
"""

from __future__ import annotations

import json
from typing import Any

from stackprobe.backends.compat._monkey import add, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

ATTRIBUTE = "RedriveAllowPolicy"


def _apply() -> None:
    from moto.sqs.models import Queue

    original_set_attributes = Queue._set_attributes

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        previous_policy = getattr(self, "policy", None)
        original_set_attributes(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = previous_policy
        if not getattr(self, "redrive_allow_policy", None):
            self.redrive_allow_policy = None

    # A class default, so queues created before the patch (or without the attribute) answer None,
    # which GetQueueAttributes leaves out of its answer.
    add(Queue, "redrive_allow_policy", None)
    if ATTRIBUTE not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES.append(ATTRIBUTE)
    replace(Queue, "_set_attributes", _set_attributes)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A queue with a policy gets a RedriveAllowPolicy; both are read back with GetQueueAttributes(All)."""
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName="canary-dlq")["QueueUrl"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={ATTRIBUTE: json.dumps({"redrivePermission": "allowAll"})})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return [
        Symptom(
            "RedriveAllowPolicy is not returned once set",
            ATTRIBUTE not in attributes,
            f"{ATTRIBUTE}={attributes.get(ATTRIBUTE)!r}",
        ),
        Symptom(
            "SetQueueAttributes without Policy clears the queue policy",
            "Policy" not in attributes,
            f"Policy={attributes.get('Policy')!r}",
        ),
    ]


PATCH = MotoPatch(
    name="sqs-redrive-allow-policy",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_sqs_queue_redrive_allow_policy", "aws_sqs_queue", "aws_sqs_queue_policy"),
    gap="RedriveAllowPolicy is accepted but never returned, so the provider waits for it forever; any "
    "SetQueueAttributes without Policy also clears the queue policy.",
    fix="Returns RedriveAllowPolicy from GetQueueAttributes (All or by name) once set, removes it when set "
    "empty, and keeps Policy unless the request changes it.",
    install=_apply,
    canary=reproduce,
)
