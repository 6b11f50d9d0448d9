"""The default backend: moto's server, in this process, on a loopback port.

In-process matters twice: there is no Docker or network dependency, and the compatibility patches in
`stackprobe.backends.compat` can mend moto's models directly. One server runs per session (per
xdist worker), and `reset()` empties it between stacks.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.error
import urllib.request
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.compat import apply_patches
from stackprobe.backends.request_log import RequestLog
from stackprobe.errors import BackendError

MOTO_ACCOUNT_ID = "123456789012"
# Settings moto reads from the environment; the harness needs these values for a realistic stack:
# AWS-managed IAM policies must exist to be attached, and ACM must not wait before "ISSUED".
MOTO_SETTINGS = {
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    "MOTO_ACM_VALIDATION_WAIT": "0",
}


class _QuietHandler(MotoRequestHandler):
    """werkzeug prints one stderr line per request; the RequestLog keeps them instead."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        return


class _ObservedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer that logs requests and reports a failed bind instead of hanging.

    Upstream, an exception in the server thread (a busy port) leaves `start()` waiting forever on its
    ready event; here the error is kept and the event set, so the caller can raise it.
    """

    def __init__(self, ip_address: str, port: int, request_log: RequestLog) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.request_log = request_log
        self.bind_error: OSError | None = None

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        try:
            self._server = make_server(
                self._ip_address,
                self._port,
                self.request_log.wrap(app),
                threaded=True,
                request_handler=_QuietHandler,
            )
        except (OSError, SystemExit) as exc:
            # werkzeug reports "address in use" by printing and calling sys.exit(1) in this thread.
            self.bind_error = exc if isinstance(exc, OSError) else OSError(98, "Address already in use")
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()


class EmbeddedMoto:
    """A moto server thread bound to 127.0.0.1, with its request log and a reset."""

    def __init__(self, port: int = 0, region: str = "eu-west-1", host: str = "127.0.0.1") -> None:
        self.requested_port = port
        self.region = region
        self.host = host
        self.request_log = RequestLog()
        self._server: _ObservedMotoServer | None = None
        self._lock = threading.Lock()
        self.backend: AwsBackend | None = None

    def start(self) -> AwsBackend:
        for key, value in MOTO_SETTINGS.items():
            os.environ.setdefault(key, value)
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
            raise BackendError(
                f"The embedded moto server could not listen on {self.host}:{self.requested_port}: the port is busy",
                "choose another port with --stackprobe-moto-port, or 0 to let the system pick a free one "
                "(the default).",
            )
        server = _ObservedMotoServer(self.host, self.requested_port, self.request_log)
        server.start()
        if server.bind_error is not None:
            raise BackendError(
                f"The embedded moto server could not listen on {self.host}:{self.requested_port}",
                "choose another port with --stackprobe-moto-port, or 0 to let the system pick a free one "
                "(the default).",
                detail=f"{server.bind_error.strerror or server.bind_error}.",
            )
        self._server = server
        host, port = server.get_host_and_port()
        self.backend = AwsBackend(
            name="moto", endpoint=f"http://{host}:{port}", region=self.region, account_id=MOTO_ACCOUNT_ID
        )
        return self.backend

    @property
    def endpoint(self) -> str:
        if self.backend is None:
            raise BackendError("The embedded moto server is not running", "call start() first.")
        return self.backend.endpoint

    def alive(self, timeout: float = 5.0) -> bool:
        """True when the server answers its management API (a dead thread or closed port does not)."""
        if self._server is None:
            return False
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/config", timeout=timeout) as resp:
                return bool(200 <= resp.status < 300)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def reset(self) -> None:
        """Empty every moto backend, so the next stack starts from a clean account."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def restart(self) -> AwsBackend:
        """Start again on the same port (after the server died), so state files still point at it."""
        self.stop()
        port = int(self.endpoint.rsplit(":", 1)[1])
        self.requested_port = port
        return self.start()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option the server sets: connections in TIME_WAIT from a stopped server do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
