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

from moto.sqs.models import Queue

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoPatch


def _apply() -> None:
    original_attributes: property = vars(Queue)["attributes"]

    def attributes(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original_attributes.__get__(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    replace(Queue, "attributes", property(attributes))


PATCH = MotoPatch(
    name="sqs-redrive-policy-json",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.DRIFT,
    resource_types=("aws_sqs_queue", "aws_sqs_queue_redrive_policy"),
    gap="RedrivePolicy is re-serialised with spaces after ':' and ',', so the provider plans a whitespace "
    "change on every plan.",
    fix="Returns RedrivePolicy as compact JSON, as AWS does.",
    install=_apply,
)
