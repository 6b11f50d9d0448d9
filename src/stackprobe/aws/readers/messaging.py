"""SQS queues (with all their attributes) and SNS topics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


@dataclass(frozen=True)
class Queue:
    """A queue's URL and every attribute GetQueueAttributes reports (QueueArn, RedrivePolicy, ...)."""

    url: str
    attributes: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


class SqsReader(ServiceReader):
    service = "sqs"

    def queue_urls(self) -> tuple[str, ...]:
        return self.listing("queue urls", lambda: self.paginate("list_queues", "QueueUrls"))

    def queues(self) -> tuple[Queue, ...]:
        def read() -> list[Queue]:
            sqs = self.client()
            return [
                Queue(url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {}))
                for url in self.queue_urls()
            ]

        return self.listing("queues", read)


class SnsReader(ServiceReader):
    service = "sns"

    def topics(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("topics", lambda: self.paginate("list_topics", "Topics"))

    def topic_attributes(self, arn: str) -> Mapping[str, str] | None:
        """A topic's attributes; None when SNS does not know it (another account's topic, or gone)."""

        def read() -> Mapping[str, str] | None:
            sns = self.client()
            try:
                return sns.get_topic_attributes(TopicArn=arn)["Attributes"]  # type: ignore[no-any-return]
            except sns.exceptions.NotFoundException:
                return None

        return self.read(("topic attributes", arn), read)
