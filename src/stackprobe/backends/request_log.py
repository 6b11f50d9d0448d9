"""A bounded log of the requests an emulator served, for failure reports.

When an apply fails, the last requests the provider made (and what the emulator answered) usually
name the gap faster than terraform's own error does, so the tail of this log is printed with every
failure. Only the operation and who asked (terraform's provider, boto3, ...) are kept, never bodies: they
can be large and may contain secrets.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_FORM = "application/x-www-form-urlencoded"
_MAX_BODY_PEEK = 64 * 1024
# The client name of requests made by terraform's providers (their user agent names Terraform).
TERRAFORM = "terraform"
# How many error answers older than the tail it still shows: a failed command's error answer is often
# followed by many other calls (other resources kept creating, or stackprobe read the account after it).
ERRORS_KEPT = 5


@dataclass(frozen=True)
class RequestRecord:
    at: float
    method: str
    host: str
    path: str
    operation: str
    status: int
    seconds: float
    # For an error answer: the emulator's error code and message, and the ARNs the request named
    # (together they say what was not found; bodies are never kept, ARNs are not secrets).
    error: str = ""
    arns: tuple[str, ...] = ()
    # Who asked, from the user agent (`TERRAFORM`, "boto3", ...; see `_client`).
    client: str = ""

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at))
        error = f" {self.error}" if self.error else ""
        client = f" [{self.client}]" if self.client else ""
        return (
            f"{stamp} {self.status} {self.method} {self.host}{self.path} {self.operation} ({self.seconds:.2f}s)"
            f"{client}{error}"
        )


class RequestLog:
    """Thread-safe ring buffer of RequestRecord, plus a WSGI middleware that fills it."""

    def __init__(self, size: int = 500) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=size)
        # Last lines of the tracebacks moto raised (an unimplemented action, a bug): kept here rather
        # than printed, because they name the gap precisely and belong in the failure report.
        self.exceptions: deque[str] = deque(maxlen=20)
        self._lock = threading.Lock()
        self.total = 0
        self.errors = 0
        self._last_activity = time.monotonic()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)
            self.total += 1
            self._last_activity = time.monotonic()
            if record.status >= 500:
                self.errors += 1

    def idle_seconds(self) -> float:
        """Seconds since the last request served (or since the log was created)."""
        with self._lock:
            return time.monotonic() - self._last_activity

    def tail(self, count: int = 20) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)[-count:]

    def last_request(self, client: str) -> RequestRecord | None:
        """The newest request `client` made (None when it made none the log still holds)."""
        with self._lock:
            return next((record for record in reversed(self._records) if record.client == client), None)

    def render_tail(self, count: int = 20) -> str:
        """The last `count` requests, preceded by those older ones a failure is usually about.

        Terraform's last request is the answer its provider was reading when a command failed or the
        provider crashed, and stackprobe's own reads after a failed apply (the partial stack is judged
        before the failure is reported) push it out of the tail; error answers name what was missing or
        unimplemented. Both are kept (the last `ERRORS_KEPT` errors), in order, a line marking each gap.
        """
        with self._lock:
            records = list(self._records)
        if not records:
            return "(the emulator served no requests)"
        start = max(len(records) - count, 0)
        shown = [*_kept_before(records, start), *range(start, len(records))]
        lines: list[str] = []
        for previous, index in zip([None, *shown], shown, strict=False):
            if previous is not None and index - previous > 1:
                lines.append(_gap(records[previous + 1 : index]))
            lines.append(records[index].line())
        return "\n".join(lines)

    def exception_handler(self) -> logging.Handler:
        """A logging handler for werkzeug's logger that keeps each traceback's last line."""
        log = self

        class _Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                text = record.getMessage()
                if record.exc_info and record.exc_info[1] is not None:
                    text = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
                elif "Traceback" in text:
                    text = text.strip().splitlines()[-1]
                log.exceptions.append(text[:300])

        return _Keep(level=logging.ERROR)

    def render_exceptions(self) -> str:
        return "\n".join(self.exceptions)

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            started = time.monotonic()
            request_body = _peek(environ)
            operation = _operation(environ, request_body)
            status_holder: list[int] = [0]

            def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                status_holder[0] = int(status.split(" ", 1)[0])
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            body: Iterable[bytes] = []
            error = ""
            arns: tuple[str, ...] = ()
            try:
                body = app(environ, recording_start_response)
                if 400 <= status_holder[0] < 500:
                    # Error answers are small: read them to keep the code and message (which name the
                    # missing thing), and hand the same bytes on.
                    chunks = list(body)
                    body, error = chunks, _error_text(b"".join(chunks))
                    arns = _arns(environ, request_body)
                return body
            finally:
                self.add(
                    RequestRecord(
                        at=time.time(),
                        method=str(environ.get("REQUEST_METHOD", "")),
                        host=str(environ.get("HTTP_HOST", "")),
                        path=str(environ.get("PATH_INFO", ""))[:120],
                        operation=operation,
                        status=status_holder[0] or 500,
                        seconds=time.monotonic() - started,
                        error=error,
                        arns=arns,
                        client=_client(str(environ.get("HTTP_USER_AGENT", ""))),
                    )
                )

        return middleware


def _kept_before(records: list[RequestRecord], start: int) -> list[int]:
    """Indexes before `start` that `RequestLog.render_tail` shows: the last error answers, and terraform's last
    request when it is older than the tail."""
    kept = set([index for index in range(start) if records[index].status >= 400][-ERRORS_KEPT:])
    last_terraform = max((i for i, record in enumerate(records) if record.client == TERRAFORM), default=None)
    if last_terraform is not None and last_terraform < start:
        kept.add(last_terraform)
    return sorted(kept)


def _gap(skipped: list[RequestRecord]) -> str:
    clients = Counter(record.client or "unknown client" for record in skipped)
    return f"  ... {len(skipped)} requests not shown ({', '.join(f'{c}: {n}' for c, n in clients.most_common())})"


def _client(user_agent: str) -> str:
    """Who made a request, from its user agent: `TERRAFORM` for a provider terraform runs (the AWS provider
    sends "... Terraform/1.11.4 ... terraform-provider-aws/5.100.0 ..."), else the agent's first product
    name, lower-cased ("boto3" for "Boto3/1.35.0 md/Botocore#1.35.0 ..."), "" without one."""
    if "Terraform/" in user_agent or "terraform-provider-" in user_agent:
        return TERRAFORM
    return user_agent.split("/", 1)[0].split(" ", 1)[0].lower()[:40]


_XML_CODE = re.compile(rb"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,400})</Message>")


def _error_text(body: bytes) -> str:
    """`Code: message` of an AWS error answer (query/XML or JSON protocol), else ""."""
    code, message = _XML_CODE.search(body), _XML_MESSAGE.search(body)
    if code is not None:
        text = code.group(1).decode("utf-8", "replace")
        return text + (": " + message.group(1).decode("utf-8", "replace") if message else "")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    kind = str(data.get("__type") or data.get("code") or data.get("Code") or "").rsplit("#", 1)[-1]
    text = str(data.get("message") or data.get("Message") or "")
    return f"{kind}: {text}"[:500] if kind else ""


def _peek(environ: dict[str, Any]) -> bytes:
    """The request body, when small (put back, so moto reads exactly what the client sent)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not 0 < length <= _MAX_BODY_PEEK:
        return b""
    body = bytes(environ["wsgi.input"].read(length))
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _operation(environ: dict[str, Any], body: bytes) -> str:
    """The API operation: X-Amz-Target (JSON protocols) or Action= (query protocols), else ''."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if "Action" in query:
        return query["Action"][0]
    if body and str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return str(action[0])
    return ""


_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9a-z*]*:[^\s\"'<>,&)]+")


def _arns(environ: dict[str, Any], body: bytes) -> tuple[str, ...]:
    """The ARNs a request names (URL, query or body): an error answer's subject is usually one of them."""
    text = unquote_plus(f"{environ.get('PATH_INFO', '')} {environ.get('QUERY_STRING', '')} ") + unquote_plus(
        body.decode("utf-8", "replace")
    )
    return tuple(dict.fromkeys(_ARN.findall(text)))[:5]
