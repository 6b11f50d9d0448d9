"""Job worker: long-polls the jobs queue and classifies uploaded images (``python -m modelserve.worker``).

Failure handling relies on the queue's redrive policy rather than on bookkeeping of its own: a
message that cannot be processed is handed straight back to the queue, every receive increments
its ApproximateReceiveCount, and once that exceeds maxReceiveCount SQS moves it to the dead-letter
queue. That is the whole mechanism by which poison messages end up in the DLQ.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import error_code, make_s3_client, make_sqs_client
from .config import ConfigError, WorkerConfig, load_worker_config
from .jobs import InvalidMessageError, JobMessage, put_state
from .model import ModelNotFoundError, load_model
from .protection import TaskProtection, expiry_minutes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("modelserve.worker")

# Pause after a failed receive so a broken network path or revoked permission does not become a
# tight loop of API calls and log lines.
RECEIVE_ERROR_BACKOFF_SECONDS = 5.0


class JobFailedError(Exception):
    """Processing failed in a way a later attempt might not repeat, or that the DLQ should keep."""


class Worker:
    def __init__(
        self,
        config: WorkerConfig,
        s3: S3Client | None = None,
        sqs: SQSClient | None = None,
        protection: TaskProtection | None = None,
    ) -> None:
        self.config = config
        # Scale-in protection while a job runs (a no-op outside ECS): see protection.py.
        self.protection = protection if protection is not None else TaskProtection.from_environment()
        self.s3 = s3 if s3 is not None else make_s3_client(config.region)
        # The read timeout must outlast the long poll, or every empty poll would end in a timeout.
        self.sqs = sqs if sqs is not None else make_sqs_client(config.region, read_timeout=config.wait_seconds + 10)
        self._stop = threading.Event()
        self._stop_signal: int | None = None
        self._max_receive_count: int | None = None
        self._visibility_timeout = 30  # SQS's default, until the queue says
        self._redrive_known = False

    def request_stop(self, signum: int | None = None) -> None:
        # Called from a signal handler: set a flag and nothing else (see main()).
        self._stop_signal = signum
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def max_receive_count(self) -> int | None:
        """maxReceiveCount of the queue's redrive policy (None without one), looked up once.

        Raises ClientError when the queue is unreachable, which main() turns into a start-up failure.
        """
        if not self._redrive_known:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.config.jobs_queue_url, AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
            ).get("Attributes", {})
            policy = json.loads(attributes.get("RedrivePolicy", "{}"))
            count = policy.get("maxReceiveCount")
            self._max_receive_count = int(count) if count is not None else None
            self._visibility_timeout = int(attributes.get("VisibilityTimeout", self._visibility_timeout))
            self._redrive_known = True
        return self._max_receive_count

    def process_once(self, max_messages: int = 1) -> int:
        """One receive call; returns how many messages it handled, whether completed or handed back."""
        response = self.sqs.receive_message(
            QueueUrl=self.config.jobs_queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=self.config.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        for index, message in enumerate(messages):
            if index and self.stop_requested:
                # Stopping: give the rest back at once instead of making them wait out the visibility
                # timeout. Their receive count has already gone up; that is the price of batching.
                for remaining in messages[index:]:
                    self._release(remaining)
                break
            self._handle(message)
        return len(messages)

    def _protection_minutes(self) -> int:
        """How long to protect the task for one job: the queue's visibility timeout (read with the redrive policy)."""
        if not self._redrive_known and self.protection.available:
            try:
                self.max_receive_count()
            except (ClientError, BotoCoreError) as exc:
                log.warning("cannot read the queue's visibility timeout: %s", error_code(exc))
        return expiry_minutes(self._visibility_timeout)

    def _handle(self, message: MessageTypeDef) -> None:
        # Protected from scale-in while the job runs: a job may outlast the stop timeout (see protection.py).
        with self.protection.held(self._protection_minutes()):
            self._process(message)

    def _process(self, message: MessageTypeDef) -> None:
        receipt = message["ReceiptHandle"]
        attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        job: JobMessage | None = None
        try:
            job = JobMessage.from_json(message.get("Body", ""))
            result = self._classify(job)
            put_state(self.s3, self.config.uploads_bucket, job.state("done", result=result, attempts=attempts))
        except Exception as exc:
            # Broad on purpose: whatever goes wrong with one message (including a bug) must not kill
            # the loop; the message goes back to the queue and the redrive policy decides its fate.
            reason = str(exc) if isinstance(exc, JobFailedError | InvalidMessageError) else repr(exc)
            log.warning("job message %s failed (attempt %d): %s", message.get("MessageId"), attempts, reason)
            if job is not None:
                self._record_failure(job, reason, attempts)
            self._release(message)
            return
        # Deleted only after the result is stored: if the delete fails the job simply runs again,
        # which is harmless because processing is deterministic and the write idempotent.
        self.sqs.delete_message(QueueUrl=self.config.jobs_queue_url, ReceiptHandle=receipt)
        log.info("job %s done: %s", job.job_id, result["label"])

    def _classify(self, job: JobMessage) -> dict[str, Any]:
        try:
            obj = self.s3.get_object(Bucket=self.config.uploads_bucket, Key=job.image_key)
        except (ClientError, BotoCoreError) as exc:
            raise JobFailedError(f"cannot read image {job.image_key!r}: {error_code(exc)}") from exc
        data = obj["Body"].read()
        try:
            model = load_model(self.s3, self.config.models_bucket, job.model)
        except ModelNotFoundError as exc:
            raise JobFailedError(f"model {job.model!r} not found") from exc
        except Exception as exc:
            raise JobFailedError(f"cannot load model {job.model!r}: {error_code(exc)}: {exc}") from exc
        return model.classify_bytes(data)

    def _record_failure(self, job: JobMessage, reason: str, attempts: int) -> None:
        try:
            limit = self.max_receive_count()
            # On the last delivery the redrive policy will move the message to the DLQ instead of
            # delivering it again, so this is the moment the job is definitively failed.
            final = limit is not None and attempts >= limit
            state = job.state("failed" if final else "queued", error=reason, attempts=attempts)
            put_state(self.s3, self.config.uploads_bucket, state)
        except Exception:
            log.exception("could not record failure of job %s", job.job_id)

    def _release(self, message: MessageTypeDef) -> None:
        # Visibility 0 instead of waiting out the queue's visibility timeout, so the retry (and with
        # it the redrive to the DLQ after maxReceiveCount) happens promptly. Not deleting is the point.
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.config.jobs_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        except (ClientError, BotoCoreError) as exc:
            # The message still reappears once its visibility timeout lapses; only the retry is slower.
            log.warning("could not release message %s: %s", message.get("MessageId"), error_code(exc))

    def run(self) -> int:
        polls = 0
        while not self.stop_requested:
            try:
                self.process_once()
            except (ClientError, BotoCoreError) as exc:
                log.error("receive from %s failed: %s", self.config.jobs_queue_url, error_code(exc))
                self._stop.wait(RECEIVE_ERROR_BACKOFF_SECONDS)
            polls += 1
            if self.config.max_polls is not None and polls >= self.config.max_polls:
                break
        if self._stop_signal is not None:
            log.info("signal %d received: stopped after the current message", self._stop_signal)
        return 0


def process_once(max_messages: int = 1, config: WorkerConfig | None = None) -> int:
    """One poll with configuration from the environment (test and one-shot convenience)."""
    return Worker(config if config is not None else load_worker_config()).process_once(max_messages)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = load_worker_config()
    except ConfigError as exc:
        print(f"modelserve.worker: configuration error: {exc}", file=sys.stderr)
        return 2
    worker = Worker(config)
    try:
        # Fail fast on a queue that does not exist or that the task role may not read, rather than
        # logging receive errors forever while the service looks healthy.
        limit = worker.max_receive_count()
    except (ClientError, BotoCoreError) as exc:
        print(f"modelserve.worker: cannot access JOBS_QUEUE_URL: {error_code(exc)}", file=sys.stderr)
        return 1
    if limit is None:
        log.warning("queue has no redrive policy: failing messages will be retried forever")

    def stop(signum: int, frame: FrameType | None) -> None:
        # ECS sends SIGTERM on scale-in and deploys, then SIGKILL after stopTimeout (30 s by default).
        # The current message is finished and the loop exits; a long poll in flight returns within
        # WaitTimeSeconds (<= 20 s), inside that window. No logging here: a signal that lands while
        # the main thread is writing a log line makes a second write re-enter stderr's buffer, which
        # raises inside the handler before the stop is recorded, and logging swallows the error: the
        # worker then polled on until SIGKILL (seen under load in the test suite).
        worker.request_stop(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("polling %s (wait %ds)", config.jobs_queue_url, config.wait_seconds)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
