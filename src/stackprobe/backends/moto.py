"""The default backend: moto's server on a loopback port, in this process or detached in its own.

- `EmbeddedMoto` runs the server in a thread of this process. There is no Docker or network
  dependency, the compatibility patches in `stackprobe.backends.compat` mend moto's models directly,
  and the emulator dies with the process. One per run (per xdist worker); `reset()` empties it.
- `DetachedMoto` runs the same patched server as `stackprobe serve` in a process of its own, so it
  outlives the run that started it: a live session (`stackprobe up`, `--stackprobe-reuse`,
  `--keep-stack`) keeps its stack there between runs. It can also be attached to again by endpoint,
  process id and instance token; the token is what tells our server from another process that took
  the port after ours died.

moto itself is imported only when a server starts: importing this module (and the pytest plugin that
imports it) loads no moto module.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.backends import stand_in_models
from stackprobe.backends.base import AwsBackend, EmulatorRequest
from stackprobe.backends.request_log import RequestLog, WsgiApp
from stackprobe.backends.stand_ins import STAND_INS_PATH, Made, StandInRequest, request_stand_ins
from stackprobe.errors import BackendError

MOTO_ACCOUNT_ID = "123456789012"
# Settings moto reads from the environment; the harness needs these values for a realistic stack:
# AWS-managed IAM policies must exist to be attached, and ACM must not wait before "ISSUED".
MOTO_SETTINGS = {
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    "MOTO_ACM_VALIDATION_WAIT": "0",
}
# stackprobe's own endpoints on a server it started: who the server is, and what it served.
INSTANCE_PATH = "/stackprobe-api/instance"
REQUESTS_PATH = "/stackprobe-api/requests"
# moto's own reset endpoint: every backend emptied.
RESET_PATH = "/moto-api/reset"
# How long a detached server may take to import moto, apply the patches and listen.
DETACHED_START_TIMEOUT = 120.0


def stackprobe_app(request_log: RequestLog, token: str) -> WsgiApp:
    """moto's WSGI app behind the request log, plus stackprobe's own endpoints.

    `INSTANCE_PATH` answers the server's token, process id and idle seconds (what `stackprobe status`
    and an attaching run check); `REQUESTS_PATH` answers the request log's tail, so a run attached to a
    detached server can still print what it served when a test fails. Neither counts as activity.
    `STAND_INS_PATH` makes and lists stand-ins inside this process, where moto's models are, so an embedded
    and a detached server take them alike; moto's reset forgets them with everything else.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    logged = request_log.wrap(DomainDispatcherApplication(create_backend_app))

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path == INSTANCE_PATH:
            body = json.dumps({"token": token, "pid": os.getpid(), "idle_seconds": request_log.idle_seconds()})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body.encode()]
        if path == REQUESTS_PATH:
            text = request_log.render_tail(15) + "\n\x1e\n" + request_log.render_exceptions()
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [text.encode()]
        if path == STAND_INS_PATH:
            return _stand_ins(environ, start_response)
        if path == RESET_PATH:
            stand_in_models.forget()  # the objects go with the reset, so their names must too
        return logged(environ, start_response)

    return application


def _stand_ins(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """`STAND_INS_PATH`: POST makes the stand-ins a JSON list asks for (in this process, where moto's models
    are), GET lists those made (see stackprobe.backends.stand_ins)."""
    if environ.get("REQUEST_METHOD") == "POST":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = stand_in_models.answer(json.loads(environ["wsgi.input"].read(size).decode() or "[]"))
    else:
        body = stand_in_models.holding()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


_SERVER_CLASS: type[Any] | None = None


def _server_class() -> type[Any]:
    """ThreadedMotoServer that serves `stackprobe_app` and reports a failed bind instead of hanging.

    Upstream, an exception in the server thread (a busy port) leaves `start()` waiting forever on its
    ready event; here the error is kept and the event set, so the caller can raise it. Defined on
    first use, so that importing this module imports no moto.
    """
    global _SERVER_CLASS
    if _SERVER_CLASS is not None:
        return _SERVER_CLASS
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):  # type: ignore[misc]
        """werkzeug prints one stderr line per request; the RequestLog keeps them instead."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            return

    class ObservedMotoServer(ThreadedMotoServer):  # type: ignore[misc]
        def __init__(self, ip_address: str, port: int, request_log: RequestLog, token: str) -> None:
            super().__init__(ip_address=ip_address, port=port, verbose=False)
            self.request_log = request_log
            self.token = token
            self.bind_error: OSError | None = None

        def _server_entry(self) -> None:
            try:
                self._server = make_server(
                    self._ip_address,
                    self._port,
                    stackprobe_app(self.request_log, self.token),
                    threaded=True,
                    request_handler=QuietHandler,
                )
            except (OSError, SystemExit) as exc:
                # werkzeug reports "address in use" by printing and calling sys.exit(1) in this thread.
                self.bind_error = exc if isinstance(exc, OSError) else OSError(98, "Address already in use")
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

    _SERVER_CLASS = ObservedMotoServer
    return ObservedMotoServer


def _busy_port(host: str, port: int) -> BackendError:
    return BackendError(
        f"The moto server could not listen on {host}:{port}: the port is busy",
        "choose another port with --stackprobe-moto-port / --moto-port, or 0 to let the system pick a free "
        "one (the default).",
    )


class EmbeddedMoto:
    """A moto server thread bound to 127.0.0.1, with its request log and a reset; dies with the process."""

    def __init__(self, port: int = 0, region: str = "eu-west-1", host: str = "127.0.0.1") -> None:
        self.requested_port = port
        self.region = region
        self.host = host
        self.request_log = RequestLog()
        self.token = uuid.uuid4().hex
        self._server: Any = None
        self._lock = threading.Lock()
        self.backend: AwsBackend | None = None

    def start(self) -> AwsBackend:
        for key, value in MOTO_SETTINGS.items():
            os.environ.setdefault(key, value)
        from stackprobe.backends.compat import apply_patches

        apply_patches()
        # werkzeug's logger would otherwise repeat every request at INFO, and print a full traceback for
        # every call moto does not implement; the request log keeps the last line of each instead.
        werkzeug_log = logging.getLogger("werkzeug")
        werkzeug_log.setLevel(logging.ERROR)
        werkzeug_log.propagate = False
        # The logger is process-wide: the most recently started server's log collects the exceptions.
        for old in [h for h in werkzeug_log.handlers if getattr(h, "_stackprobe", False)]:
            werkzeug_log.removeHandler(old)
        handler = self.request_log.exception_handler()
        handler._stackprobe = True  # type: ignore[attr-defined]
        werkzeug_log.addHandler(handler)
        if self.requested_port and not port_is_free(self.requested_port, self.host):
            raise _busy_port(self.host, self.requested_port)
        server = _server_class()(self.host, self.requested_port, self.request_log, self.token)
        server.start()
        if server.bind_error is not None:
            raise BackendError(
                f"The moto server could not listen on {self.host}:{self.requested_port}",
                "choose another port with --stackprobe-moto-port / --moto-port, or 0 to let the system pick a "
                "free one (the default).",
                detail=f"{server.bind_error.strerror or server.bind_error}.",
            )
        self._server = server
        host, port = server.get_host_and_port()
        self.backend = moto_backend(f"http://{host}:{port}", self.region)
        return self.backend

    @property
    def endpoint(self) -> str:
        if self.backend is None:
            raise BackendError("The embedded moto server is not running", "call start() first.")
        return self.backend.endpoint

    def alive(self, timeout: float = 5.0) -> bool:
        """True when the server answers as itself (a dead thread or closed port does not)."""
        return self._server is not None and instance_token(self.endpoint, timeout) == self.token

    def reset(self) -> None:
        """Empty every moto backend, so the next stack starts from a clean account."""
        reset_moto(self.endpoint)

    def create_stand_ins(self, requests: Sequence[StandInRequest]) -> list[Made]:
        """Have this emulator hold what `requests` name (see stackprobe.backends.stand_ins)."""
        return request_stand_ins(self.endpoint, requests)

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def restart(self) -> AwsBackend:
        """Start again on the same port (after the server died), so state files still point at it."""
        self.stop()
        self.requested_port = int(self.endpoint.rsplit(":", 1)[1])
        return self.start()


def start_embedded(request: EmulatorRequest) -> EmbeddedMoto:
    """The registry's factory (stackprobe.backends.registry): an embedded moto, started."""
    moto = EmbeddedMoto(port=request.port, region=request.region)
    moto.start()
    return moto


def moto_backend(endpoint: str, region: str) -> AwsBackend:
    return AwsBackend(name="moto", endpoint=endpoint, region=region, account_id=MOTO_ACCOUNT_ID)


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}{RESET_PATH}", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def instance_token(endpoint: str, timeout: float = 5.0) -> str | None:
    """The token of the stackprobe moto server at `endpoint`, or None (no answer, or not ours)."""
    try:
        with urllib.request.urlopen(f"{endpoint}{INSTANCE_PATH}", timeout=timeout) as response:
            return str(json.loads(response.read().decode())["token"])
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
        return None


def instance_facts(endpoint: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """What the server at `endpoint` says about itself (token, pid, idle seconds), or None."""
    try:
        with urllib.request.urlopen(f"{endpoint}{INSTANCE_PATH}", timeout=timeout) as response:
            facts = json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


class RemoteRequestLog:
    """The request log of a server in another process, read over its `REQUESTS_PATH` endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def _fetch(self) -> tuple[str, str]:
        try:
            with urllib.request.urlopen(f"{self.endpoint}{REQUESTS_PATH}", timeout=5) as response:
                text = response.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            return f"(the emulator did not answer: {exc})", ""
        tail, _, exceptions = text.partition("\n\x1e\n")
        return tail, exceptions

    def render_tail(self, count: int = 20) -> str:
        """The server's own rendering of its tail, whole: it already chose what to keep (the provider's last
        request and recent error answers beyond the last `count`), and cutting it again here would drop them."""
        return self._fetch()[0]

    def render_exceptions(self) -> str:
        return self._fetch()[1]


@dataclass(frozen=True)
class DetachedFacts:
    """How to find a detached server again: where it listens, which process it is, and its token."""

    endpoint: str
    pid: int
    token: str


class DetachedMoto:
    """A `stackprobe serve` process on loopback that outlives the run that started it.

    `start()` spawns it in a session of its own (a terminal's Ctrl-C then reaches only the run, which
    decides what to do with the server), waits for the ready file it writes, and checks its token.
    `attach()` finds one again from its `DetachedFacts`. `stop()` ends it with SIGTERM (SIGKILL after
    a grace period) and only if its token still answers, so a recycled pid is never signalled.
    """

    kind = "detached"

    def __init__(self, facts: DetachedFacts, region: str, log_file: Path | None = None) -> None:
        self.facts = facts
        self.region = region
        self.log_file = log_file
        self.request_log = RemoteRequestLog(facts.endpoint)
        self.backend = moto_backend(facts.endpoint, region)

    @classmethod
    def start(
        cls, state_dir: Path, *, region: str, port: int = 0, idle_ttl: float = 0.0, host: str = "127.0.0.1"
    ) -> DetachedMoto:
        state_dir.mkdir(parents=True, exist_ok=True)
        ready = state_dir / "emulator.ready.json"
        ready.unlink(missing_ok=True)
        log_file = state_dir / "emulator.log"
        command = [
            sys.executable,
            "-m",
            "stackprobe",
            "serve",
            "--port",
            str(port),
            "--host",
            host,
            "--region",
            region,
            "--ready-file",
            str(ready),
            "--idle-ttl",
            str(idle_ttl),
        ]
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # it must survive the terminal's Ctrl-C and the run's exit
                close_fds=True,
            )
        deadline = time.monotonic() + DETACHED_START_TIMEOUT
        while time.monotonic() < deadline:
            if ready.is_file():
                data = json.loads(ready.read_text(encoding="utf-8"))
                emulator = cls(DetachedFacts(str(data["endpoint"]), process.pid, str(data["token"])), region, log_file)
                if emulator.alive():
                    return emulator
            if process.poll() is not None:
                raise BackendError(
                    f"The detached moto server exited with status {process.returncode} before it was ready",
                    f"read its log at {log_file}; a busy --moto-port is the usual cause (0 picks a free port).",
                    detail=_last_lines(log_file),
                )
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise BackendError(
            f"The detached moto server was not ready within {DETACHED_START_TIMEOUT:.0f} s",
            f"read its log at {log_file}; the machine may be overloaded.",
            detail=_last_lines(log_file),
        )

    @classmethod
    def attach(cls, facts: DetachedFacts, region: str, log_file: Path | None = None) -> DetachedMoto:
        return cls(facts, region, log_file)

    @property
    def endpoint(self) -> str:
        return self.facts.endpoint

    def alive(self, timeout: float = 5.0) -> bool:
        return instance_token(self.endpoint, timeout) == self.facts.token

    def reset(self) -> None:
        reset_moto(self.endpoint)

    def create_stand_ins(self, requests: Sequence[StandInRequest]) -> list[Made]:
        """Have this emulator hold what `requests` name (see stackprobe.backends.stand_ins)."""
        return request_stand_ins(self.endpoint, requests)

    def restart(self) -> AwsBackend:
        raise BackendError(
            f"The detached moto server at {self.endpoint} (pid {self.facts.pid}) stopped answering",
            "its state is gone with it: `stackprobe down DIR --force` forgets the session, then `stackprobe "
            "up` starts a new one.",
        )

    def stop(self, grace: float = 10.0) -> None:
        """End the server if it is still ours; a no-op when it is already gone."""
        if not self.alive(timeout=2.0):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.facts.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_exists(self.facts.pid):
            time.sleep(0.1)
        if pid_exists(self.facts.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.facts.pid, signal.SIGKILL)


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still "exists" to kill(0): ask /proc.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        return "\nState:\tZ" not in status
    return True


def _last_lines(path: Path, count: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-count:])
    return ""


def serve(port: int, host: str, region: str, ready_file: Path | None, idle_ttl: float) -> int:
    """Run an embedded moto until SIGTERM/SIGINT, or until idle for `idle_ttl` seconds (0: never).

    The body of `stackprobe serve`. The ready file (written atomically once the server answers) holds
    the endpoint and token that `DetachedMoto.start` waits for.
    """
    emulator = EmbeddedMoto(port=port, region=region, host=host)
    backend = emulator.start()
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if ready_file is not None:
        staging = ready_file.with_name(ready_file.name + ".tmp")
        staging.write_text(json.dumps({"endpoint": backend.endpoint, "token": emulator.token}), encoding="utf-8")
        staging.replace(ready_file)
    sys.stdout.write(f"{backend.endpoint}\n")
    sys.stdout.flush()
    reason = "stopped"
    while not stopping.wait(timeout=5.0):
        if idle_ttl > 0 and emulator.request_log.idle_seconds() > idle_ttl:
            reason = f"idle for more than {idle_ttl:.0f} s"
            break
    sys.stderr.write(f"stackprobe serve: {reason}; exiting\n")
    emulator.stop()
    return 0


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option the server sets: connections in TIME_WAIT from a stopped server do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
