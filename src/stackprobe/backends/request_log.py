"""A bounded log of the requests an emulator served, for failure reports.

When an apply fails, the last requests the provider made (and what the emulator answered) usually
name the gap faster than terraform's own error does, so the tail of this log is printed with every
failure. Only the operation is kept, never bodies: they can be large and may contain secrets.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_FORM = "application/x-www-form-urlencoded"
_MAX_FORM_PEEK = 64 * 1024


@dataclass(frozen=True)
class RequestRecord:
    at: float
    method: str
    host: str
    path: str
    operation: str
    status: int
    seconds: float

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at))
        return f"{stamp} {self.status} {self.method} {self.host}{self.path} {self.operation} ({self.seconds:.2f}s)"


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

    def render_tail(self, count: int = 20) -> str:
        records = self.tail(count)
        if not records:
            return "(the emulator served no requests)"
        return "\n".join(record.line() for record in records)

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
            operation = _operation(environ)
            status_holder: list[int] = [0]

            def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                status_holder[0] = int(status.split(" ", 1)[0])
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            try:
                return app(environ, recording_start_response)
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
                    )
                )

        return middleware


def _operation(environ: dict[str, Any]) -> str:
    """The API operation: X-Amz-Target (JSON protocols) or Action= (query protocols), else ''."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if "Action" in query:
        return query["Action"][0]
    if str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if 0 < length <= _MAX_FORM_PEEK:
            body = environ["wsgi.input"].read(length)
            # Put the body back so moto reads exactly what the client sent.
            environ["wsgi.input"] = io.BytesIO(body)
            action = parse_qs(body.decode("utf-8", "replace")).get("Action")
            if action:
                return str(action[0])
    return ""
