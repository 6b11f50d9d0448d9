"""Where an address a task's environment names is served on this machine: the rewrite applied before a start.

On AWS a container reaches its sibling containers at `localhost:<containerPort>` (awsvpc networking: one
network namespace per task) and its data stores at their endpoints. Here each container port of the task
is stood in for by a free loopback port (`PORT_<n>`, see `stackprobe.probes.task`), so an address in a
container's environment is rewritten before it starts: an `AddressMap` says, for each `host:port` a task
may name, which local `host:port` serves it and what that is.

- `AddressMap.loopback`: `localhost:<n>`, `127.0.0.1:<n>` and `0.0.0.0:<n>` for each container port `n`
  of the task, served by the sibling (or the container itself) that maps it.
- The extension point for local data stores: whatever starts a PostgreSQL, MySQL or Redis behind an
  emulated RDS or ElastiCache endpoint builds an `AddressMap` of `endpoint:port -> 127.0.0.1:<its port>`
  and merges it (`merged`) into the map a launch is given (`TaskLaunch.from_task_definition(addresses=)`).

What is rewritten, each listed in the launch's notes (variable name and address, never the rest of the
value: it may be a secret):
- a `host:port` spelling anywhere in a value (a URL's authority, a HOST:PORT value);
- a value that is a mapped host alone (`DB_HOST=db.x.rds.amazonaws.com`), or a comma-separated list of them,
  with the port variable beside it (`DB_PORT`: the name with HOST, HOSTNAME, HOSTS, ADDRESS, ENDPOINT or
  SERVER replaced by PORT) when it holds the mapped port; without one, the host alone is rewritten and the
  note says the program's default port will not find the local server;
- the same inside a JSON object value (a secret such as `{"host": ..., "port": 5432, ...}`): a host field
  and the port field beside it.
An address written in the program is left as it is. `trust` names the certificate authorities of the servers
the map points at over TLS (local datastores, see stackprobe.datastores.tls): a container given the map trusts
them besides its network guard's (`stackprobe.probes.app.TaskLaunch.process`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

LOOPBACK_SPELLINGS = ("localhost", "127.0.0.1", "0.0.0.0")


@dataclass(frozen=True)
class Served:
    """The local address that serves one the task names, and what listens there (for notes)."""

    host: str
    port: int
    by: str


@dataclass(frozen=True)
class AddressMap:
    """(host, port) as the task names it -> the local address that serves it. Hosts compare case-insensitively."""

    entries: Mapping[tuple[str, int], Served] = field(default_factory=dict)
    # CA certificates (PEM files) of the TLS servers the map points at, for the containers to trust.
    trust: tuple[str, ...] = ()

    @classmethod
    def loopback(cls, owners: Mapping[int, tuple[str, int]]) -> AddressMap:
        """Every loopback spelling of each container port; `owners` maps it to (container, local port)."""
        return cls(
            {
                (spelling, container_port): Served("127.0.0.1", local, f"container {owner}'s port {container_port}")
                for container_port, (owner, local) in owners.items()
                for spelling in LOOPBACK_SPELLINGS
            }
        )

    def merged(self, other: AddressMap) -> AddressMap:
        """This map with `other`'s entries added (`other` wins where both name an address)."""
        return AddressMap({**self.entries, **other.entries}, tuple(dict.fromkeys((*self.trust, *other.trust))))

    def rewrite(self, environment: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
        """`environment` with every mapped address replaced by its local one (see the module docstring), and a
        note per rewrite."""
        if not self.entries:
            return dict(environment), []
        rewriter = _Rewriter(self.entries)
        rewritten: dict[str, str] = {}
        notes: list[str] = []
        for name, value in environment.items():
            rewritten[name] = rewriter.spelled(name, value, notes)
        for name, value in environment.items():
            if rewritten[name] == value:
                rewriter.host_alone(name, rewritten, environment, notes)
        for name, value in environment.items():
            if rewritten[name] == value and value.lstrip().startswith("{"):
                rewritten[name] = rewriter.json_fields(name, value, notes)
        return rewritten, notes


# A host variable's port variable: the name with one of these replaced by PORT (DB_HOST -> DB_PORT, PGHOST -> PGPORT).
_HOST_WORDS = ("HOSTNAME", "HOSTS", "HOST", "ADDRESS", "ADDR", "ENDPOINT", "SERVER")
_PORT_KEYS = ("port", "dbport", "db_port")


def port_variable(name: str, environment: Mapping[str, str]) -> str | None:
    """The variable that holds the port of host variable `name`, when the environment has one."""
    upper = name.upper()
    for word in _HOST_WORDS:
        if word in upper:
            index = upper.rindex(word)
            candidate = name[:index] + ("port" if name[index : index + len(word)].islower() else "PORT")
            candidate += name[index + len(word) :]
            if candidate in environment and candidate != name:
                return candidate
    return None


class _Rewriter:
    def __init__(self, entries: Mapping[tuple[str, int], Served]) -> None:
        self.served = {(host.lower(), port): local for (host, port), local in entries.items()}
        self.hosts: dict[str, dict[int, Served]] = {}
        for (host, port), local in self.served.items():
            self.hosts.setdefault(host, {})[port] = local
        alternatives = "|".join(sorted({re.escape(host) for host, _ in self.served}, key=len, reverse=True))
        # Not inside a longer name (db.localhost.example) nor a longer port (6379 in 63790).
        self.pattern = (
            re.compile(rf"(?<![\w.-])(?P<host>{alternatives}):(?P<port>\d+)(?!\d)", re.IGNORECASE)
            if alternatives
            else None
        )

    def spelled(self, name: str, value: str, notes: list[str]) -> str:
        """`value` with each mapped host:port spelling replaced."""
        if self.pattern is None:
            return value

        def swap(match: re.Match[str]) -> str:
            local = self.served.get((match["host"].lower(), int(match["port"])))
            if local is None:
                return match.group(0)
            notes.append(f"{name}: {match.group(0)} → {local.host}:{local.port} ({local.by})")
            return f"{local.host}:{local.port}"

        return self.pattern.sub(swap, value)

    def _pick(self, host: str, port: int | None) -> Served | None:
        candidates = self.hosts.get(host.lower(), {})
        if port is not None:
            return candidates.get(port)
        return next(iter(candidates.values())) if len(candidates) == 1 else None

    def host_alone(
        self, name: str, rewritten: dict[str, str], environment: Mapping[str, str], notes: list[str]
    ) -> None:
        """A value that is a mapped host (or a comma-separated list of them): the hosts, and the port variable."""
        value = environment[name]
        tokens = [token.strip() for token in value.split(",")]
        if not tokens or not all(token.lower() in self.hosts for token in tokens):
            return
        port_name = port_variable(name, environment)
        port_text = environment.get(port_name, "").strip() if port_name else ""
        port = int(port_text) if port_text.isdigit() else None
        locals_ = [self._pick(token, port) for token in tokens]
        if any(local is None for local in locals_):
            return
        served = [local for local in locals_ if local is not None]
        rewritten[name] = ",".join(local.host for local in served)
        ports = {local.port for local in served}
        where = ", ".join(dict.fromkeys(local.by for local in served))
        if port_name is not None and port is not None and len(ports) == 1:
            rewritten[port_name] = str(served[0].port)
            notes.append(f"{name}, {port_name}: {value}:{port} → {served[0].host}:{served[0].port} ({where})")
        elif port_name is not None and port is not None:
            notes.append(
                f"{name}: {value} → {rewritten[name]} ({where}); {port_name} cannot name their different local "
                f"ports ({', '.join(map(str, sorted(ports)))}): left at {port}"
            )
        else:
            notes.append(
                f"{name}: {value} → {rewritten[name]} ({where}); no port variable beside it: a program that uses "
                f"its default port does not find the local server on {', '.join(map(str, sorted(ports)))}"
            )

    def json_fields(self, name: str, value: str, notes: list[str]) -> str:
        """A JSON object value with its host field and the port field beside it rewritten."""
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            return value
        if not isinstance(document, dict):
            return value
        port_key = next((key for key in document if key.lower() in _PORT_KEYS), None)
        port_value = document.get(port_key) if port_key is not None else None
        port = int(str(port_value)) if str(port_value).isdigit() else None
        changed = False
        for key, field_value in list(document.items()):
            if not isinstance(field_value, str):
                continue
            spelled = self.spelled(f"{name} (JSON field {key})", field_value, notes)
            if spelled != field_value:
                document[key], changed = spelled, True
                continue
            local = self._pick(field_value.strip(), port) if field_value.strip().lower() in self.hosts else None
            if local is None:
                continue
            document[key], changed = local.host, True
            if port_key is not None and port is not None:
                document[port_key] = local.port if isinstance(port_value, int) else str(local.port)
                notes.append(
                    f"{name} (JSON fields {key}, {port_key}): {field_value}:{port} → {local.host}:{local.port} "
                    f"({local.by})"
                )
            else:
                notes.append(f"{name} (JSON field {key}): {field_value} → {local.host} ({local.by}); no port field")
        return json.dumps(document) if changed else value
