"""A local PostgreSQL, created as RDS creates one: `initdb`, then the master user and the database.

What RDS makes and this server makes the same way:
- the master user (`username`) logs in with its password; it is no superuser: it is a member of
  `rds_superuser`, may create databases and roles, and owns the database `db_name` (none without one);
- the roles RDS predefines that a stack's SQL may grant: `rds_superuser`, `rds_iam`, `rds_replication`,
  `rds_password`;
- a member of `rds_iam`, or a user an RDS Proxy in front of the instance requires IAM for, logs in with an IAM
  token: a signature this server cannot check, so such a user logs in without a password check here;
- PostgreSQL 15 and later accept TLS connections only, as RDS's default `rds.force_ssl = 1` does;
- `max_connections` as the instance class and parameter group set it.
Nothing more: no extension, role, schema or table the stack does not create. Superuser work is done as an
internal `rdsadmin` over the server's private Unix socket, as RDS keeps its own `rdsadmin`. The operator's
setup SQL (`--datastore-sql`) is not superuser work: `psql -f FILE` runs it as the master user, over TCP with the
master's password, TLS where the instance requires it, into `db_name` (`setup_command`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from stackprobe.datastores.servers import DatastoreStartError, LocalServer, ServerSpec, chown_tree

ADMIN = "rdsadmin"
RDS_ROLES = ("rds_superuser", "rds_iam", "rds_replication", "rds_password")


def identifier(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings is on)."""
    if "\x00" in value:
        raise DatastoreStartError("A value holds a NUL character", "PostgreSQL cannot store it; change the value.")
    return "'" + value.replace("'", "''") + "'"


def bootstrap_sql(db_name: str | None, master_user: str | None, master_password: str | None) -> list[str]:
    """The statements that make what RDS makes (each run on its own: CREATE DATABASE cannot run in a transaction)."""
    statements = [f"CREATE ROLE {identifier(role)} NOLOGIN" for role in RDS_ROLES]
    statements.append("GRANT pg_monitor, pg_signal_backend TO rds_superuser WITH ADMIN OPTION")
    if master_user:
        password = f" PASSWORD {literal(master_password)}" if master_password is not None else ""
        statements.append(
            f"CREATE ROLE {identifier(master_user)} LOGIN CREATEDB CREATEROLE{password} IN ROLE rds_superuser"
        )
        statements.append(
            f"GRANT rds_iam, rds_replication, rds_password TO {identifier(master_user)} WITH ADMIN OPTION"
        )
    if db_name:
        owner = f" OWNER {identifier(master_user)}" if master_user else ""
        statements.append(f"CREATE DATABASE {identifier(db_name)}{owner}")
    return statements


def hba_lines(iam_users: tuple[str, ...], tls: bool, master_user: str | None = None) -> list[str]:
    """pg_hba.conf: the internal admin on the socket; the master by password (first: it holds rds_iam with admin
    option to grant it, as RDS's master may); IAM users without a password check; everyone else by password."""
    kind = "hostssl" if tls else "host"
    lines = [f"local all {ADMIN} trust"]
    if master_user:
        lines.append(f"{kind} all {identifier(master_user)} 127.0.0.1/32 scram-sha-256")
    lines.append(f"{kind} all +rds_iam 127.0.0.1/32 trust")
    lines += [f"{kind} all {identifier(user)} 127.0.0.1/32 trust" for user in iam_users]
    lines.append(f"{kind} all all 127.0.0.1/32 scram-sha-256")
    return lines


def setup_command(psql: str, port: int, spec: ServerSpec, file: Path) -> tuple[list[str], dict[str, str]]:
    """How the operator runs the setup SQL `file`: psql as the master user over TCP into db_name (the `postgres`
    database without one), stopping at the first error; the password (and TLS) in the environment."""
    if not spec.master_user:
        raise DatastoreStartError(
            f"--datastore-sql {file}: {spec.label} has no master user to run it as", "report this as a bug."
        )
    command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port)]
    command += ["-U", spec.master_user, "-d", spec.db_name or "postgres", "-f", str(file)]
    env = {
        "PGPASSWORD": spec.master_password or "",
        "PGSSLMODE": "require" if spec.tls else "prefer",
        "PGPASSFILE": os.devnull,
        "PGCONNECT_TIMEOUT": "10",
        "PGAPPNAME": "stackprobe-datastore-sql",
    }
    return command, env


class PostgresServer(LocalServer):
    flavour = "postgres"
    users = ("postgres",)
    master_is = (
        "the master user, a member of rds_superuser and no superuser (ALTER SYSTEM, a superuser role and a setting "
        "only a superuser may change are refused)"
    )

    @property
    def data(self) -> Path:
        return self.work / "data"

    @property
    def socket_dir(self) -> Path:
        return self.work / "socket"

    def _program(self, name: str) -> str:
        return str(self.host.bin_dir / name)

    def _initialise(self) -> None:
        self.socket_dir.mkdir()
        self.data.mkdir(mode=0o700)
        chown_tree(self.work, self.user)
        self.run(
            [
                self._program("initdb"),
                "-D",
                str(self.data),
                "-U",
                ADMIN,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C.UTF-8",
            ]
        )
        lines = hba_lines(self.spec.iam_users, self.spec.tls, self.spec.master_user)
        (self.data / "pg_hba.conf").write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "password_encryption": "scram-sha-256",
            # A throwaway server: what makes a crash safe only costs time here.
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "logging_collector": "off",
            "shared_buffers": "32MB",
        }
        if self.spec.max_connections:
            settings["max_connections"] = str(self.spec.max_connections)
        if self.spec.tls and self.certificate is not None:
            settings.update(
                ssl="on", ssl_cert_file=str(self.certificate.certificate), ssl_key_file=str(self.certificate.key)
            )
        command = [self._program("postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        return command

    def _psql(self, sql: str, database: str = "postgres", *, tuples: bool = False) -> str:
        command = [self._program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir)]
        command += ["-p", str(self.port), "-U", ADMIN, "-d", database]
        if tuples:
            command += ["-A", "-t", "-F", "\t"]
        return self.run(command, input_text=sql)

    def _ready(self) -> bool:
        if not (self.socket_dir / f".s.PGSQL.{self.port}").exists():
            return False
        completed = subprocess.run(
            [self._program("pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port), "-U", ADMIN],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return completed.returncode == 0

    def _bootstrap(self) -> None:
        statements = bootstrap_sql(self.spec.db_name, self.spec.master_user, self.spec.master_password)
        self._psql("".join(f"{statement};\n" for statement in statements))

    def _run_setup(self, file: Path) -> None:
        command, env = setup_command(self._program("psql"), self.port, self.spec, file)
        try:
            self.run_as_operator(command, file, env=env)
        except DatastoreStartError as exc:
            untrusted = re.search(r'permission denied to create extension "([^"]+)"', exc.problem)
            if untrusted is not None:
                # RDS lets rds_superuser create the extensions it supports, trusted or not; PostgreSQL only a superuser.
                raise DatastoreStartError(
                    exc.problem,
                    f"{untrusted.group(1)} is no trusted extension: here only a superuser may create it. On RDS the "
                    "master (rds_superuser) may create the extensions RDS supports for this major (`SHOW "
                    f"rds.extensions` there): if {untrusted.group(1)} is not one, fix {file}; if it is, the refusal "
                    "is this local server's, not RDS's: move that statement out of the file for this run.",
                    exc.detail,
                ) from None
            missing = re.search(r'extension "([^"]+)" is not available', exc.problem)
            if missing is None:
                raise
            # Not RDS's refusal: this machine lacks the extension's files (RDS may well ship it).
            major = self.host.major()
            raise DatastoreStartError(
                exc.problem,
                f"install the extension {missing.group(1)} for PostgreSQL {major} on this machine (Debian: its "
                f"postgresql-{major}-... package; contrib's are in postgresql-contrib), or run where it is; check "
                "that RDS supports it for this major and that rds_superuser may create it.",
                exc.detail,
            ) from None

    def stop_signal(self) -> signal.Signals:
        return signal.SIGINT  # PostgreSQL's fast shutdown: clients are disconnected, nothing is waited for

    def facts(self) -> dict[str, str]:
        names = ("server_version", "max_connections", "superuser_reserved_connections")
        sql = "SELECT name, setting FROM pg_settings WHERE name IN (" + ", ".join(literal(n) for n in names) + ");\n"
        rows = [line.split("\t", 1) for line in self._psql(sql, tuples=True).splitlines() if "\t" in line]
        return {name: value for name, value in rows}

    def sql(self, statement: str, database: str | None = None) -> str:
        """Run SQL as the internal admin (tests, and what an operator's setup would run); rows tab-separated."""
        return self._psql(
            statement.rstrip().rstrip(";") + ";\n", database or self.spec.db_name or "postgres", tuples=True
        )
