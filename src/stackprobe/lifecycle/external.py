"""Something the stack needs but does not create: seen in the emulator's answers, stopped early.

A configuration written for one AWS account often names what already exists there: a certificate
ARN, a hosted zone, a KMS key of another account. In the emulator none of it exists, and the provider
retries some of those calls for minutes (an IAM eventual-consistency wait on a certificate, say)
before it fails with an error that does not say what was missing. While terraform runs, this watch
reads the emulator's request log; when one operation keeps answering "not found" for an ARN the stack
cannot be creating, it stops terraform and names the ARN, the call, and the remedy. An ARN is known not
to be the stack's own when it is of an account other than the emulator's, or when the configuration
writes it literally (`named`, from the stand-ins' discovery, with the file and line): thousands of
examples use the emulator's own account id (123456789012) in such ARNs, and with stand-ins off the
provider would otherwise retry them for minutes.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stackprobe.backends.request_log import RequestLog
from stackprobe.errors import StackprobeError

NOT_FOUND = re.compile(r"NotFound|NoSuch|not found|does not exist", re.IGNORECASE)
# Answers in a row before the watch calls it: the provider's own short retries stay below this.
REPEATS = 5
POLL_SECONDS = 1.0


class ExternalResourceMissing(StackprobeError):
    """The configuration refers to something outside itself that the emulator does not hold."""


@dataclass(frozen=True)
class MissingDependency:
    arn: str
    operation: str
    error: str
    repeats: int
    where: str = ""

    def error_for(self, stack_name: str) -> ExternalResourceMissing:
        named = f" (named at {self.where})" if self.where else ""
        return ExternalResourceMissing(
            f"{stack_name} refers to {self.arn}{named}, which it does not create and the emulator does not hold: "
            f'{self.operation} answered "{self.error[:200]}" {self.repeats} times, so terraform was stopped',
            "let stackprobe stand it in (drop --no-stand-ins / stackprobe_stand_ins = false), or "
            "create it in the emulator before the apply (a prerequisites configuration: --prerequisites DIR / "
            "ini stackprobe_prerequisites, whose outputs become the stack's variables; or the "
            "pytest_stackprobe_prerequisites hook, which gets boto3 clients), or make the ARN a variable and "
            "give the emulator's own in a test var file.",
        )


def missing_dependency(
    log: RequestLog, since: float, account_id: str, named: Mapping[str, str] | None = None
) -> MissingDependency | None:
    """The first ARN of another account, or `named` by the configuration (ARN -> file and line), that one
    operation keeps answering "not found" for."""
    named = named or {}
    counts: Counter[tuple[str, str]] = Counter()
    errors: dict[tuple[str, str], str] = {}
    for record in log.tail(500):
        if record.at < since or not record.error or not NOT_FOUND.search(record.error):
            continue
        for arn in record.arns:
            account = arn.split(":")[4]
            foreign = len(account) == 12 and account.isdigit() and account != account_id
            if foreign or arn in named:
                key = (arn, record.operation)
                counts[key] += 1
                errors[key] = record.error
    for (arn, operation), repeats in counts.most_common(1):
        if repeats >= REPEATS:
            return MissingDependency(arn, operation, errors[(arn, operation)], repeats, (named or {}).get(arn, ""))
    return None


class Watch:
    """Polls `log` in a thread while terraform runs; on a missing dependency, calls `stop` once."""

    def __init__(
        self,
        log: RequestLog,
        since: float,
        account_id: str,
        stop: Callable[[], None],
        named: Mapping[str, str] | None = None,
    ) -> None:
        self.log = log
        self.since = since
        self.account_id = account_id
        self.named = dict(named or {})
        self.stop = stop
        self.found: MissingDependency | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackprobe-external-watch", daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            found = missing_dependency(self.log, self.since, self.account_id, self.named)
            if found is not None:
                self.found = found
                self.stop()
                return
