"""A local Redis, configured as ElastiCache configures one: AUTH token or RBAC users, TLS when in transit.

- an AUTH token (`auth_token`) is `requirepass`: a client must AUTH with it;
- RBAC (a user group of `aws_elasticache_user`s) becomes ACL users with the same access strings; a user that
  authenticates with IAM logs in with any password here (its token is a signature this server cannot check);
  a user with passwords needs one of them; the `default` user is what the group says (ElastiCache requires one);
- with transit encryption, TLS only (`port 0`, `tls-port`), as ElastiCache accepts no plain connection then.
No persistence: nothing is written but the log.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence

from stackprobe.datastores.servers import DatastoreStartError, LocalServer, RedisUser


def config_string(value: str) -> str:
    """A redis.conf string argument, quoted."""
    if any(ch in value for ch in "\r\n\x00"):
        raise DatastoreStartError(
            "A Redis setting holds a line break or NUL", "Redis cannot take it; change the value."
        )
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def acl_rules(user: RedisUser) -> list[str]:
    """The ACL rules of a user: the access string, then how it logs in: its passwords, else no password (an IAM
    user, whose token this server cannot check, or one with `no_password_required`)."""
    rules = ["reset", *(part for part in user.access_string.split() if part)]
    return rules + ([f">{password}" for password in user.passwords] or ["nopass"])


def acl_line(user: RedisUser) -> str:
    """`user NAME ...` for redis.conf."""
    return f"user {user.name} " + " ".join(config_string(rule) if " " in rule else rule for rule in acl_rules(user))


def encode(*parts: str) -> bytes:
    """A command in RESP."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def _read_reply(stream: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = stream.recv(1)
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    line = data[:-2].decode(errors="replace")
    if line.startswith("$"):
        length = int(line[1:])
        if length < 0:
            return ""
        body = b""
        while len(body) < length + 2:
            chunk = stream.recv(length + 2 - len(body))
            if not chunk:
                raise ConnectionError("connection closed")
            body += chunk
        return body[:-2].decode(errors="replace")
    return line


def command(
    port: int,
    *commands: Sequence[str],
    tls_ca: str | None = None,
    timeout: float = 3.0,
) -> list[str]:
    """Send `commands` to 127.0.0.1:`port` (over TLS when `tls_ca` names the authority) and return each reply line
    (`+OK`, `-ERR ...`, `:1`, or a bulk string)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    stream: socket.socket = raw
    try:
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=tls_ca)
            stream = context.wrap_socket(raw, server_hostname="127.0.0.1")
        replies = []
        for parts in commands:
            stream.sendall(encode(*parts))
            replies.append(_read_reply(stream))
        return replies
    finally:
        stream.close()


class RedisServer(LocalServer):
    flavour = "redis"

    def _config(self) -> list[str]:
        lines = ["bind 127.0.0.1", "daemonize no", 'save ""', "appendonly no", f"dir {self.work}", 'logfile ""']
        if self.spec.tls and self.certificate is not None:
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {self.certificate.certificate}",
                f"tls-key-file {self.certificate.key}",
                f"tls-ca-cert-file {self.certificate.authority}",
                "tls-auth-clients no",
            ]
        else:
            lines.append(f"port {self.port}")
        if self.spec.max_connections:
            lines.append(f"maxclients {self.spec.max_connections}")
        if self.spec.redis_users:
            lines += [acl_line(user) for user in self.spec.redis_users]
            if not any(user.name == "default" for user in self.spec.redis_users):
                lines.append("user default off")
        elif self.spec.auth_token is not None:
            lines.append(f"requirepass {config_string(self.spec.auth_token)}")
        return lines

    def _initialise(self) -> None:
        (self.work / "redis.conf").write_text("\n".join(self._config()) + "\n")

    def _command(self) -> list[str]:
        return [str(self.host.bin_dir / self.host.program), str(self.work / "redis.conf")]

    def _login(self) -> list[str]:
        """The AUTH a client of this server sends first (none when it needs none)."""
        if self.spec.redis_users:
            user = next((u for u in self.spec.redis_users if u.iam or u.passwords), None)
            if user is None:
                return []
            return ["AUTH", user.name, user.passwords[0] if user.passwords else "iam-token-not-checked-here"]
        if self.spec.auth_token is not None:
            return ["AUTH", self.spec.auth_token]
        return []

    def ask(self, *parts: str) -> str:
        """One command, after logging in as the stack's own user (tests; the reply line)."""
        ca = str(self.certificate.authority) if self.spec.tls and self.certificate is not None else None
        login = self._login()
        replies = command(self.port, *([login] if login else []), list(parts), tls_ca=ca)
        return replies[-1]

    def _ready(self) -> bool:
        try:
            return self.ask("PING") == "+PONG"
        except (OSError, ConnectionError, ssl.SSLError):
            return False

    def facts(self) -> dict[str, str]:
        info = self.ask("INFO", "server")
        facts = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        return {"redis_version": facts.get("redis_version", "").strip()}
