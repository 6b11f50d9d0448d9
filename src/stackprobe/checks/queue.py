"""SQS queues: failed messages go to a dead-letter queue, messages are encrypted, and a job is not
handed to a second consumer while the first is still working on it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from stackprobe.aws.readers.messaging import Queue
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

REFERENCE = "terraform/modules/queue"


def _dead_letter_targets(queues: Sequence[Queue]) -> set[str]:
    targets = set()
    for queue in queues:
        if queue.attributes.get("RedrivePolicy"):
            targets.add(str(json.loads(queue.attributes["RedrivePolicy"]).get("deadLetterTargetArn")))
    return targets


@check(
    "queue.dead-letter",
    "Work queues move poison messages to a dead-letter queue",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("sqs",),
    why="Without a redrive policy a message that always fails is retried forever: it burns worker time, "
    "hides in the backlog and is never looked at.",
    fix="Give the queue a redrive_policy with a deadLetterTargetArn and a maxReceiveCount of 3-5, and alarm "
    "on the dead-letter queue's depth.",
    reference=REFERENCE,
    reads=("aws_sqs_queue",),
)
def dead_letter(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    queues = ctx.account.sqs.queues()
    dead_letters = _dead_letter_targets(queues)
    for queue in queues:
        url, attributes = queue.url, queue.attributes
        if attributes.get("QueueArn") in dead_letters:
            continue  # a dead-letter queue itself needs no redrive
        policy = attributes.get("RedrivePolicy")
        if policy:
            parsed = json.loads(policy)
            evidence = f"redrive to {parsed.get('deadLetterTargetArn')} after {parsed.get('maxReceiveCount')} receives"
            yield ctx.finding(check_, True, url, evidence, attributes.get("QueueArn"))
        else:
            yield ctx.finding(
                check_, False, url, "no RedrivePolicy: failing messages are retried forever", attributes.get("QueueArn")
            )


@check(
    "queue.encryption",
    "Queues encrypt messages at rest",
    severity=Severity.LOW,
    category=Category.SECURITY,
    services=("sqs",),
    why="Job messages carry object keys and user identifiers; unencrypted queues fail most data-handling "
    "policies for no gain.",
    fix="Set kms_master_key_id (a customer key) or sqs_managed_sse_enabled = true.",
    reference=REFERENCE,
    reads=("aws_sqs_queue",),
)
def encryption(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for queue in ctx.account.sqs.queues():
        url, attributes = queue.url, queue.attributes
        key = attributes.get("KmsMasterKeyId")
        managed = attributes.get("SqsManagedSseEnabled") == "true"
        evidence = f"KmsMasterKeyId={key}" if key else ("SQS-managed SSE" if managed else "no server-side encryption")
        yield ctx.finding(check_, bool(key) or managed, url, evidence, attributes.get("QueueArn"))
