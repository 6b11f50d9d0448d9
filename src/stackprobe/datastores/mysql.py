"""A local MySQL or MariaDB, created as RDS creates one: an empty server, the master user, the database.

RDS's master user is no `root`: it gets the privileges RDS grants it (below, `MASTER_PRIVILEGES`, with grant
option), not SUPER; the database `db_name` is created empty. Superuser work is done as the server's own `root`
over its private socket; the operator's setup SQL (`--datastore-sql`) is not: the client runs it as the master
user over TCP with the master's password, into `db_name` (`setup_command`). `max_connections` is the deployed
instance's. A deployed `mysql` needs a MySQL server of its major (`mysqld`); a deployed `mariadb` a MariaDB
(`mariadbd`): one is not the other.

IAM database authentication (AWSAuthenticationPlugin) has no counterpart here: an IAM user of a MySQL
datastore is not created, and the evidence says so.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from stackprobe.datastores.servers import DatastoreStartError, LocalServer, ServerSpec, chown_tree

# What RDS grants the master user of a MySQL or MariaDB instance (RDS User Guide, "Master user account privileges").
MASTER_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, "
    "CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, "
    "CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER"
)


def literal(value: str) -> str:
    """A quoted MySQL string literal (backslashes and quotes escaped)."""
    if "\x00" in value:
        raise DatastoreStartError("A value holds a NUL character", "MySQL cannot take it here; change the value.")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def bootstrap_sql(db_name: str | None, master_user: str | None, master_password: str | None) -> list[str]:
    statements: list[str] = []
    if master_user:
        user = f"{literal(master_user)}@'%'"
        statements.append(f"CREATE USER {user} IDENTIFIED BY {literal(master_password or '')}")
        statements.append(f"GRANT {MASTER_PRIVILEGES} ON *.* TO {user} WITH GRANT OPTION")
    if db_name:
        statements.append(f"CREATE DATABASE {identifier(db_name)}")
    return statements


def setup_command(
    client: str, port: int, spec: ServerSpec, file: Path, *, mariadb: bool = False
) -> tuple[list[str], dict[str, str]]:
    """How the operator runs the setup SQL `file` (given on the client's standard input): the client as the master
    user over TCP into db_name, in batch mode (it stops at the first error, naming its line); the password in
    the environment (MYSQL_PWD), never on the command line."""
    if not spec.master_user:
        raise DatastoreStartError(
            f"--datastore-sql {file}: {spec.label} has no master user to run it as", "report this as a bug."
        )
    command = [client, "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", str(port), "-u", spec.master_user]
    command.append("--batch")
    if spec.tls:
        command.append("--ssl" if mariadb else "--ssl-mode=REQUIRED")
    if spec.db_name:
        command.append(f"--database={spec.db_name}")
    return command, {"MYSQL_PWD": spec.master_password or ""}


class MysqlServer(LocalServer):
    flavour = "mysql"
    users = ("mysql",)
    master_is = (
        "the master user, with the privileges RDS grants it and not SUPER (SET GLOBAL, a SUPER grant are refused)"
    )

    @property
    def data(self) -> Path:
        return self.work / "data"

    @property
    def socket(self) -> Path:
        return self.work / "mysqld.sock"

    @property
    def mariadb(self) -> bool:
        return self.host.flavour == "mariadb"

    def _server(self) -> str:
        return str(self.host.bin_dir / self.host.program)

    def _client(self) -> str:
        for name in ("mariadb", "mysql") if self.mariadb else ("mysql",):
            found = shutil.which(name) or (
                str(self.host.bin_dir / name) if (self.host.bin_dir / name).is_file() else None
            )
            if found:
                return found
        raise DatastoreStartError(
            f"No MySQL client next to {self._server()}", "install the client package of the server (mysql or mariadb)."
        )

    def _user_option(self) -> list[str]:
        return [f"--user={self.user.pw_name}"] if self.user is not None else []

    def _initialise(self) -> None:
        self.data.mkdir(mode=0o750)
        chown_tree(self.work, self.user)
        if self.mariadb:
            install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
            if install is None:
                raise DatastoreStartError("mariadb-install-db is not installed", "install mariadb-server.")
            self.run(
                [install, "--no-defaults", f"--datadir={self.data}", "--auth-root-authentication-method=normal",
                 "--skip-test-db", *self._user_option()]
            )  # fmt: skip
        else:
            self.run([self._server(), "--no-defaults", "--initialize-insecure", f"--datadir={self.data}",
                      *self._user_option()])  # fmt: skip

    def _command(self) -> list[str]:
        command = [
            self._server(),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.socket}",
            f"--pid-file={self.work / 'mysqld.pid'}",
            "--skip-log-bin",
            *self._user_option(),
        ]
        if not self.mariadb:
            command.append("--mysqlx=OFF")
        if self.spec.max_connections:
            command.append(f"--max-connections={self.spec.max_connections}")
        return command

    def _sql(self, sql: str, *, database: str | None = None) -> str:
        command = [self._client(), "--no-defaults", "-uroot", f"--socket={self.socket}", "-N", "-B"]
        if database:
            command.append(database)
        return self.run(command, input_text=sql)

    def _ready(self) -> bool:
        if not self.socket.exists():
            return False
        completed = subprocess.run(
            [self._client(), "--no-defaults", "-uroot", f"--socket={self.socket}", "-e", "SELECT 1"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return completed.returncode == 0

    def _bootstrap(self) -> None:
        statements = bootstrap_sql(self.spec.db_name, self.spec.master_user, self.spec.master_password)
        self._sql("".join(f"{statement};\n" for statement in statements))

    def _run_setup(self, file: Path) -> None:
        command, env = setup_command(self._client(), self.port, self.spec, file, mariadb=self.mariadb)
        self.run_as_operator(command, file, env=env, stdin=file)

    def stop_signal(self) -> signal.Signals:
        return signal.SIGTERM

    def facts(self) -> dict[str, str]:
        rows = self._sql("SELECT @@version, @@max_connections;\n").split("\t")
        return {"server_version": rows[0].strip(), "max_connections": rows[1].strip()} if len(rows) > 1 else {}
