"""A local datastore in a container, through testcontainers, where a Docker engine answers and the host has no
binaries of the deployed major.

`plan_for` says what the container is (pure data, unit-tested without Docker): the official image of the engine
at the deployed major, its environment and command, the container port published on a free loopback port, and
the commands run inside once it answers to create what RDS or ElastiCache creates (the same SQL as the host
path: `stackprobe.datastores.postgres.bootstrap_sql`, `stackprobe.datastores.mysql.bootstrap_sql`). What the
container path does not do, the plan's `limits` say (TLS is served by the host path only), and the evidence
repeats them. The operator's setup SQL (`--datastore-sql`) is bind-mounted read-only into the container (so the
Docker engine must be this machine's) and run there as the host path runs it: the engine's client as the master
user over TCP with the master's password, into db_name, stopping at the first error (`ContainerPlan.operator`);
its messages name the file by its path on this machine.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.datastores import mysql, postgres, redis
from stackprobe.datastores.engines import HostServer, Runner
from stackprobe.datastores.servers import LOG_LINES, DatastoreStartError, LocalServer, ServerSpec
from stackprobe.datastores.tls import LocalAuthority
from stackprobe.probes.output import last_lines
from stackprobe.probes.process import accepts, free_port

PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306, "redis": 6379}


@dataclass(frozen=True)
class ContainerPlan:
    image: str
    port: int  # the container's port
    environment: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    # Run inside once it answers (argv each), in order.
    setup: tuple[tuple[str, ...], ...] = ()
    ready: tuple[str, ...] = ()  # argv that exits 0 once the server answers
    limits: tuple[str, ...] = ()
    # (path on this machine, path in the container), mounted read-only: the operator's setup SQL.
    mounts: tuple[tuple[str, str], ...] = ()
    # argv run inside after `setup`: the operator's setup SQL, as the master user (empty: none given).
    operator: tuple[str, ...] = ()


# Where the operator's setup SQL is mounted in the container.
SETUP_DIR = "/stackprobe-setup"


def _operator(spec: ServerSpec, flavour: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The mount and the argv that run the operator's setup SQL in the container (see the module docstring)."""
    if spec.setup_sql is None:
        return (), ()
    if not spec.master_user:
        raise DatastoreStartError(
            f"--datastore-sql {spec.setup_sql}: {spec.label} has no master user to run it as", "report this as a bug."
        )
    inside = f"{SETUP_DIR}/{spec.setup_sql.name}"
    mounts = ((str(spec.setup_sql), inside),)
    user = spec.master_user
    password = spec.master_password or ""
    if flavour == "postgres":
        argv = ("env", f"PGPASSWORD={password}", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1")
        return mounts, (*argv, "-U", user, "-d", spec.db_name or "postgres", "-f", inside)
    client = "mariadb" if flavour == "mariadb" else "mysql"
    database = f" --database={shlex.quote(spec.db_name)}" if spec.db_name else ""
    script = (
        f"exec {client} --no-defaults --protocol=TCP -h 127.0.0.1 -u {shlex.quote(user)} --batch{database} "
        f"< {shlex.quote(inside)}"
    )
    return mounts, ("env", f"MYSQL_PWD={password}", "sh", "-c", script)


def plan_for(spec: ServerSpec, runner: Runner, admin_password: str) -> ContainerPlan:
    """The container that stands in for a datastore (see the module docstring)."""
    assert runner.image is not None
    flavour = runner.flavour
    limits = ("TLS is not served by a container here: clients connect without it",) if spec.tls else ()
    if spec.setup_sql is not None and flavour not in ("postgres", "mysql", "mariadb"):
        raise DatastoreStartError(
            f"--datastore-sql {spec.setup_sql}: {spec.label} runs {flavour}, which runs no SQL",
            "give --datastore-sql only for a PostgreSQL or MySQL datastore.",
        )
    mounts, operator = _operator(spec, flavour)
    if flavour == "postgres":
        command: tuple[str, ...] = ("postgres", "-c", "listen_addresses=*")
        if spec.max_connections:
            command += ("-c", f"max_connections={spec.max_connections}")
        sql = "".join(f"{s};\n" for s in postgres.bootstrap_sql(spec.db_name, spec.master_user, spec.master_password))
        hba = "\\n".join([*postgres.hba_lines(spec.iam_users, False, spec.master_user)[1:], "local all all trust"])
        return ContainerPlan(
            runner.image,
            5432,
            {"POSTGRES_USER": postgres.ADMIN, "POSTGRES_PASSWORD": admin_password, "POSTGRES_DB": "postgres"},
            command,
            (
                ("psql", "-v", "ON_ERROR_STOP=1", "-U", postgres.ADMIN, "-d", "postgres", "-c", sql),
                ("sh", "-c", f'printf "{hba}\\n" > "$PGDATA/pg_hba.conf"'),
                ("psql", "-U", postgres.ADMIN, "-d", "postgres", "-c", "SELECT pg_reload_conf()"),
            ),
            ("pg_isready", "-U", postgres.ADMIN, "-h", "127.0.0.1"),
            limits,
            mounts,
            operator,
        )
    if flavour in ("mysql", "mariadb"):
        options = (f"--max-connections={spec.max_connections}",) if spec.max_connections else ()
        client = "mariadb" if flavour == "mariadb" else "mysql"
        sql = "".join(f"{s};\n" for s in mysql.bootstrap_sql(spec.db_name, spec.master_user, spec.master_password))
        root = "MARIADB_ROOT_PASSWORD" if flavour == "mariadb" else "MYSQL_ROOT_PASSWORD"
        return ContainerPlan(
            runner.image,
            3306,
            {root: admin_password},
            options,
            ((client, "-uroot", f"-p{admin_password}", "-e", sql),),
            (client, "-uroot", f"-p{admin_password}", "-e", "SELECT 1"),
            (*limits, "IAM users are not created (no AWSAuthenticationPlugin)") if spec.iam_users else limits,
            mounts,
            operator,
        )
    arguments: list[str] = ["redis-server", "--save", "", "--appendonly", "no"]
    if spec.max_connections:
        arguments += ["--maxclients", str(spec.max_connections)]
    if spec.redis_users:
        for user in spec.redis_users:
            arguments += ["--user", user.name, *redis.acl_rules(user)]
    elif spec.auth_token is not None:
        arguments += ["--requirepass", spec.auth_token]
    return ContainerPlan(runner.image, 6379, {}, tuple(arguments), (), ("redis-cli", "ping"), limits)


class ContainerServer(LocalServer):
    """A datastore run by testcontainers (see the module docstring)."""

    flavour = "container"

    def __init__(self, spec: ServerSpec, runner: Runner, plan: ContainerPlan) -> None:
        # The image stands where a host server's directory would; describe() names the image.
        image_host = HostServer(runner.flavour, runner.major, Path("/"), plan.image)
        super().__init__(spec, image_host, free_port(), None)
        self.plan = plan
        self.container: Any = None

    @classmethod
    def for_image(cls, spec: ServerSpec, runner: Runner, authority: LocalAuthority | None) -> ContainerServer:
        del authority  # TLS is the host path's (see ContainerPlan.limits)
        return cls(spec, runner, plan_for(spec, runner, secrets.token_urlsafe(18)))

    def describe(self) -> str:
        limits = f" ({'; '.join(self.plan.limits)})" if self.plan.limits else ""
        return f"container {self.plan.image} (testcontainers) on 127.0.0.1:{self.port}{limits}"

    def _exec(self, argv: Sequence[str]) -> tuple[int, str]:
        result = self.container.exec(list(argv))
        output = result.output.decode(errors="replace") if isinstance(result.output, bytes) else str(result.output)
        return int(result.exit_code), output

    def start(self) -> None:
        from testcontainers.core.container import DockerContainer

        began = time.monotonic()
        container = DockerContainer(self.plan.image)
        for name, value in self.plan.environment.items():
            container = container.with_env(name, value)
        if self.plan.command:
            container = container.with_command(list(self.plan.command))
        container = container.with_bind_ports(self.plan.port, self.port)
        for here, inside in self.plan.mounts:
            container = container.with_volume_mapping(here, inside, "ro")
        try:
            self.container = container.start()
            deadline = time.monotonic() + 120
            while not (accepts(self.port) and self._exec(self.plan.ready)[0] == 0):
                if time.monotonic() > deadline:
                    raise DatastoreStartError(
                        f"The container {self.plan.image} for {self.spec.label} did not answer within 120 s",
                        "see `docker logs` of the container while it runs, or run with the host's binaries.",
                    )
                time.sleep(0.5)
            for argv in self.plan.setup:
                code, output = self._exec(argv)
                if code != 0:
                    raise DatastoreStartError(
                        f"Initialising the container {self.plan.image} for {self.spec.label} failed (exit {code})",
                        "a value the engine refuses is named in its output.",
                        output[-1500:],
                    )
            if self.plan.operator:
                self._run_operator()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = time.monotonic() - began

    def _run_operator(self) -> None:
        """The operator's setup SQL, as the master user; its failure names the file as it is on this machine."""
        code, output = self._exec(self.plan.operator)
        if code == 0:
            return
        assert self.spec.setup_sql is not None
        for here, inside in self.plan.mounts:
            output = output.replace(inside, here)
        said = last_lines(output, LOG_LINES) or "it printed nothing"
        raise DatastoreStartError(
            f"--datastore-sql: running {self.spec.setup_sql} as master user {self.spec.master_user} in the container "
            f"{self.plan.image} for {self.spec.label} failed (exit {code}): {said}",
            f"fix {self.spec.setup_sql} at the line named: it runs as {self._master_is()}, as on RDS, so a statement "
            "that fails here for want of privilege fails on RDS too.",
        )

    def _master_is(self) -> str:
        return (postgres.PostgresServer if self.host.flavour == "postgres" else mysql.MysqlServer).master_is

    def stop(self) -> str:
        if self.container is not None:
            self.container.stop()
            self.container = None
        return f"{self.describe()}: container removed"

    def facts(self) -> dict[str, str]:
        flavour = self.host.flavour
        if flavour == "postgres":
            query = (
                "SELECT setting FROM pg_settings WHERE name IN ('max_connections', 'superuser_reserved_connections') "
                "ORDER BY name"
            )
            code, output = self._exec(("psql", "-At", "-U", postgres.ADMIN, "-d", "postgres", "-c", query))
            values = output.split()
            if code == 0 and len(values) == 2:
                return {"max_connections": values[0], "superuser_reserved_connections": values[1]}
        return {}
