"""How long a running HTTP server keeps an idle keep-alive connection open, measured on the wire.

An ALB reuses its connections to a target: after a response it keeps the connection for its idle
timeout (60 s by default) and sends the next request down it. A server whose own keep-alive is shorter
closes the connection first, and a request the ALB sends as the server closes is answered 502 by the
ALB. Nothing in the configuration of either side shows it; the server's behaviour does.

The probe sends one HTTP/1.1 request (`Connection: keep-alive`), reads the whole response, and then
keeps the connection idle, watching the socket: the server closing it shows as end-of-file (or a reset,
or a late answer such as a 408, which comes with the close). The wait is bounded (`idle_for`): the
measurement is exact when the server closes within it, and says only "open for at least `idle_for`"
otherwise. The caller decides what that lower bound is worth: against a 65 s idle timeout, a server
still open after a few seconds has not shown its keep-alive yet, and only what it says of itself (a
`Keep-Alive: timeout=N` header, or what its application declares) can complete the judgement.
There is no race in either verdict: a close is observed or it is not, and whatever the scheduling, a
server that closes earlier than the bound is never reported open.
"""

from __future__ import annotations

import http.client
import re
import select
import socket
import time
from dataclasses import dataclass

_TIMEOUT = re.compile(r"(?:^|[,;\s])timeout\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class KeepAliveMeasurement:
    """One idle connection, observed."""

    status: int
    # The server answered `Connection: close` (or HTTP/1.0 without keep-alive): no keep-alive at all.
    refused: bool
    # Seconds the connection stayed idle before the server closed it; None: still open after `waited`.
    closed_after: float | None
    waited: float
    # `Keep-Alive: timeout=N` from the response, when the server advertises it.
    advertised: int | None

    def describe(self) -> str:
        said = f"; it advertises Keep-Alive timeout={self.advertised}" if self.advertised is not None else ""
        if self.refused:
            return f"HTTP {self.status} with Connection: close: no keep-alive at all{said}"
        if self.closed_after is not None:
            return (
                f"HTTP {self.status}, then the server closed the idle connection after {self.closed_after:.1f} s{said}"
            )
        return f"HTTP {self.status}, and the idle connection was still open after {self.waited:.1f} s{said}"


def advertised_timeout(header: str | None) -> int | None:
    """N of a `Keep-Alive: timeout=N, max=M` header."""
    match = _TIMEOUT.search(header or "")
    return int(match.group(1)) if match else None


def measure_keepalive(
    port: int, path: str = "/", *, idle_for: float, host: str = "127.0.0.1", request_timeout: float = 10.0
) -> KeepAliveMeasurement:
    """Request `path` on `host:port` over a keep-alive connection, then keep it idle up to `idle_for` seconds."""
    connection = http.client.HTTPConnection(host, port, timeout=request_timeout)
    try:
        connection.request("GET", path, headers={"Connection": "keep-alive", "User-Agent": "stackprobe-keepalive"})
        response = connection.getresponse()
        response.read()
        advertised = advertised_timeout(response.getheader("Keep-Alive"))
        # http.client closes its socket itself when the response ends the connection (will_close).
        sock = connection.sock
        if response.will_close or sock is None:
            return KeepAliveMeasurement(response.status, True, 0.0, 0.0, advertised)
        return KeepAliveMeasurement(response.status, False, _idle_until_closed(sock, idle_for), idle_for, advertised)
    finally:
        connection.close()


def _idle_until_closed(sock: socket.socket, idle_for: float) -> float | None:
    """Seconds until the peer closes `sock` (nothing is sent), or None when it is still open at `idle_for`."""
    started = time.monotonic()
    sock.setblocking(False)
    while True:
        remaining = idle_for - (time.monotonic() - started)
        if remaining <= 0:
            return None
        readable, _, _ = select.select([sock], [], [], remaining)
        if not readable:
            continue  # woken early: wait out the rest
        elapsed = time.monotonic() - started
        try:
            if not sock.recv(65536):
                return elapsed  # end of file: the server closed it
        except (ConnectionResetError, BrokenPipeError):
            return elapsed
        except BlockingIOError:
            continue
        # Bytes on an idle connection: an unsolicited answer (e.g. 408 Request Timeout), which servers
        # send as they close; the close follows.
        return elapsed
