"""The network guard of a started container: AWS hostnames reach the emulator, everything else is refused.

A stand-in runs on this machine, with this machine's network. Its AWS SDK calls go to the emulator already
(the environment builder sets AWS_ENDPOINT_URL, which every current AWS SDK honours), but applications
also make calls no SDK makes: Cognito's JWKS (`https://cognito-idp.<region>.amazonaws.com/<pool>/
.well-known/jwks.json`), a webhook, a payment API, a telemetry endpoint. Unguarded, those leave the
machine: to real AWS (which refuses the dummy credentials, but the request went out) or to a third party.

The mechanism: a stdlib forward proxy on 127.0.0.1, one per started container (`EgressProxy`), set
as HTTP_PROXY, HTTPS_PROXY, http_proxy and https_proxy (curl reads only the lower-case http_proxy), with
NO_PROXY/no_proxy naming loopback, so that the emulator, the container's siblings and the probes are
reached directly. What goes through it:
- plain HTTP to an AWS hostname (`*.amazonaws.com`, `*.amazonaws.com.cn`, `*.api.aws`) is forwarded to
  the emulator with its Host header kept: moto routes by it, so a JWKS URL reaches moto's Cognito;
- plain HTTP to a loopback address goes where it says (a client that ignores NO_PROXY stays on the machine);
- HTTPS to an AWS hostname (a CONNECT to `cognito-idp.us-east-1.amazonaws.com:443`) is answered here: the
  proxy terminates TLS as that host, with a leaf certificate issued for it by the guard's own CA
  (`stackprobe.probes.tls.TlsAuthority`: made when the guard starts unless a shared one is given,
  name-constrained to AWS's domains, its directory removed when the guard stops), and forwards each
  decrypted request to the emulator over plain HTTP, Host header kept, exactly as it forwards plain HTTP.
  The process is pointed at the CA through SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
  NODE_EXTRA_CA_CERTS and AWS_CA_BUNDLE (`CA_VARIABLES`); the bundle is the CA alone, which is enough since
  every other host is refused. A client that reads none of them (its own trust store, certificate
  pinning) fails the handshake, and the record says so;
- every other request, and every CONNECT to a host that is not AWS's, is answered 403 by the proxy and
  recorded (the proxy never opens a connection to it).
`EgressRecord.describe()` lists every destination refused (and those forwarded), for the findings' evidence.

Why terminate TLS rather than refuse HTTPS to AWS: the URLs applications call outside any SDK (Cognito's
JWKS, above all) are https:// in code and configuration, and telling users to rewrite them to http:// for
a test would test another program. The trust given is as narrow as it can be: only the started process is
given the CA (stackprobe and everything else on the machine keep their own trust store), the CA can vouch
for AWS hostnames only, and its key never leaves stackprobe's memory.

What it cannot do: a program that ignores proxy variables (raw sockets, most database drivers, Node's
built-in http without an agent) connects directly, unseen. An image run through Docker
(`stackprobe.probes.docker`) is given the CA variables, but finds the bundle only if its file is mounted
into the container at the same path; otherwise its HTTPS to AWS fails. Connections to data stores are the
business of the local servers that will stand in for them (`stackprobe.probes.addresses`).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from stackprobe.probes.tls import CA_VARIABLES, TlsAuthority

AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws")
# Loopback traffic (the emulator, siblings, the probes) never goes through the proxy.
NO_PROXY = "127.0.0.1,localhost"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy")
# The guard also sets CA_VARIABLES (stackprobe.probes.tls): every one names the guard's CA bundle.
GUARD_VARIABLES = (*PROXY_VARIABLES, *CA_VARIABLES)
# Connection-level headers a proxy must not pass on (RFC 9110, 7.6.1), and those it sets itself.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
_SET_HERE = {"content-length", "date", "server"}
_FORWARD_TIMEOUT = 30.0
_HANDSHAKE_TIMEOUT = 10.0
NOT_AWS = "not AWS: the application's network stays on this machine"
UNTRUSTED_CA = (
    "HTTPS to AWS whose TLS handshake failed: the client did not accept the certificate stackprobe answers "
    f"AWS hostnames with; it trusts the bundle named by {', '.join(CA_VARIABLES)} only if it reads one of "
    "them (a client with a trust store or pinned certificates of its own does not); point it at that bundle, "
    "or reach the emulator through AWS_ENDPOINT_URL"
)


def is_aws_host(host: str) -> bool:
    name = host.lower().rstrip(".")
    return any(name == domain or name.endswith(f".{domain}") for domain in AWS_DOMAINS)


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Destination:
    """One request the container made through the guard: where to, and what became of it."""

    method: str
    target: str  # the absolute URL, or host:port for a CONNECT
    refused: bool
    why: str = ""

    def describe(self) -> str:
        return f"{self.method} {self.target}"


class EgressRecord:
    """Every destination a container asked the guard for (thread-safe: the proxy serves on many threads)."""

    def __init__(self) -> None:
        self._seen: list[Destination] = []
        self._lock = threading.Lock()

    def add(self, destination: Destination) -> None:
        with self._lock:
            self._seen.append(destination)

    @property
    def destinations(self) -> list[Destination]:
        with self._lock:
            return list(self._seen)

    @property
    def refused(self) -> list[Destination]:
        return [d for d in self.destinations if d.refused]

    def describe(self) -> str:
        """One line for evidence: what was refused and why, what reached the emulator; empty when nothing went out."""
        parts: list[str] = []
        by_reason: dict[str, Counter[str]] = {}
        for destination in self.refused:
            by_reason.setdefault(destination.why, Counter())[destination.describe()] += 1
        for why, refused in by_reason.items():
            parts.append(f"outbound requests refused ({why}): {_listed(refused)}")
        forwarded = Counter(d.describe() for d in self.destinations if not d.refused)
        if forwarded:
            parts.append(f"answered by the emulator: {_listed(forwarded)}")
        return "; ".join(parts)


def _listed(counts: Counter[str]) -> str:
    return ", ".join(f"{what} (x{count})" if count > 1 else what for what, count in counts.items())


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: tuple[str, int], record: EgressRecord, authority: TlsAuthority) -> None:
        self.emulator = emulator
        self.record = record
        self.authority = authority
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer
    # Once a CONNECT to an AWS host is answered: the TLS connection read from, and the authority (host, or
    # host:port off 443) the requests on it are for.
    _tls: ssl.SSLSocket | None = None
    _tunnel: str | None = None

    def do_CONNECT(self) -> None:
        if self._tunnel is not None:
            self._refuse(f"CONNECT {self.path}", "a CONNECT inside a tunnel")
            return
        host, _, port = self.path.rpartition(":")
        if not host or not port.isdigit():
            host, port = self.path, "443"
        host = host.strip("[]")
        if not is_aws_host(host):
            self.server.record.add(Destination("CONNECT", self.path, True, NOT_AWS))
            self._refuse(f"CONNECT {self.path}", NOT_AWS)
            return
        self._open_tunnel(host, port)

    def _open_tunnel(self, host: str, port: str) -> None:
        """Answer the CONNECT, then TLS as `host` with the guard's certificate; requests follow on it."""
        try:
            context = self.server.authority.context_for(host)
        except (OSError, ssl.SSLError) as exc:  # the guard is closing (its CA directory gone), a full disk
            self._answer(502, f"stackprobe could not answer TLS as {host}: {exc}\n".encode())
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        connection: socket.socket = self.connection
        connection.settimeout(_HANDSHAKE_TIMEOUT)
        try:
            # Closes the connection when the handshake fails (a client that does not trust the CA says so then).
            tls = context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.server.record.add(Destination("CONNECT", self.path, True, UNTRUSTED_CA))
            return
        tls.settimeout(None)
        self._tls = self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self._tunnel = host.lower().rstrip(".") + ("" if port == "443" else f":{port}")
        self.close_connection = False

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._tls is not None:
                self._tls.close()  # it took over the accepted socket, which the server would close otherwise

    def _relay(self) -> None:
        if self._tunnel is not None:
            self._relay_decrypted(self._tunnel)
            return
        url = urlsplit(self.path)
        host = url.hostname or ""
        if not url.scheme or not host:
            self._refuse(self.path, "not a proxy request (an absolute URL is expected)")
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        if is_aws_host(host):
            self.server.record.add(Destination(self.command, self.path, False))
            self._forward(self.server.emulator, path)
        elif is_loopback_host(host):
            self._forward((host, url.port or 80), path)
        else:
            self.server.record.add(Destination(self.command, self.path, True, NOT_AWS))
            self._refuse(f"{self.command} {self.path}", NOT_AWS)

    def _relay_decrypted(self, authority: str) -> None:
        """A request inside the TLS of an AWS host: always the emulator's to answer."""
        url = urlsplit(self.path)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self.server.record.add(Destination(self.command, f"https://{authority}{path}", False))
        self._forward(self.server.emulator, path, authority)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _relay

    def _forward(self, target: tuple[str, int], path: str, host: str | None = None) -> None:
        body = self._body()
        # The Host header is kept: the emulator tells services apart by it (cognito-idp.<region>.amazonaws.com).
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        if host is not None and not any(name.lower() == "host" for name in headers):
            headers["Host"] = host
        connection = http.client.HTTPConnection(*target, timeout=_FORWARD_TIMEOUT)
        try:
            connection.request(self.command, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._answer(502, f"stackprobe could not reach {target[0]}:{target[1]}: {exc}\n".encode())
            return
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP | _SET_HERE:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _refuse(self, what: str, why: str) -> None:
        self.close_connection = True
        self._answer(403, f"stackprobe refused {what}: {why}\n".encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # the record is the log


class EgressProxy:
    """The guard of one started container: a proxy on a free loopback port, until closed.

    `emulator` is the emulator's endpoint URL (where AWS hostnames are sent). `start()` returns the
    variables that route the container's HTTP(S) through it and point it at the CA (`GUARD_VARIABLES`);
    `record` keeps what it saw. `authority` is the CA that answers TLS for AWS hostnames: by default one of
    the guard's own, removed with its directory when the guard closes; one given is shared (several guards
    of one run) and closed by whoever made it.
    """

    def __init__(self, emulator: str, authority: TlsAuthority | None = None) -> None:
        endpoint = urlsplit(emulator)
        self.emulator = (endpoint.hostname or "127.0.0.1", endpoint.port or 80)
        self.record = EgressRecord()
        self.authority = authority if authority is not None else TlsAuthority()
        self._owns_authority = authority is None
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EgressProxy:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> dict[str, str]:
        if self._server is None:
            self._server = _ProxyServer(self.emulator, self.record, self.authority)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            self._thread.start()
        url = f"http://127.0.0.1:{self._server.server_address[1]}"
        proxies = dict(zip(PROXY_VARIABLES, [url, url, url, url, NO_PROXY, NO_PROXY], strict=True))
        return {**proxies, **self.authority.variables()}

    def close(self) -> None:
        """Stop the proxy and, when the guard made its CA, remove the CA's directory (the record stays)."""
        server, self._server = self._server, None
        try:
            if server is not None:
                server.shutdown()
                server.server_close()
                if self._thread is not None:
                    self._thread.join(timeout=2.0)
        finally:
            if self._owns_authority:
                self.authority.close()
