"""SQS: `RedriveAllowPolicy` is stored and returned, and setting it leaves the queue policy alone.

moto 5.2 accepts `RedriveAllowPolicy` in SetQueueAttributes but never returns it (it is not one of the
attributes GetQueueAttributes knows, and asking for it by name is an InvalidAttributeName), so
`aws_sqs_queue_redrive_allow_policy` waits forever for it to appear. moto also resets `Policy` on every
SetQueueAttributes that does not carry one, so setting the redrive allow policy silently removed an
`aws_sqs_queue_policy`; AWS changes only the attributes a request names. An empty value removes the
attribute, as in AWS.
"""

from __future__ import annotations

from typing import Any

from moto.sqs.models import Queue

from stackprobe.backends.compat._monkey import add, replace
from stackprobe.backends.compat.base import GapKind, MotoPatch

ATTRIBUTE = "RedriveAllowPolicy"


def _apply() -> None:
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


PATCH = MotoPatch(
    name="sqs-redrive-allow-policy",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_sqs_queue_redrive_allow_policy", "aws_sqs_queue", "aws_sqs_queue_policy"),
    gap="RedriveAllowPolicy is accepted but never returned, so the provider waits for it forever; any "
    "SetQueueAttributes without Policy also clears the queue policy.",
    fix="Returns RedriveAllowPolicy from GetQueueAttributes (All or by name) once set, removes it when set "
    "empty, and keeps Policy unless the request changes it.",
    install=_apply,
)
