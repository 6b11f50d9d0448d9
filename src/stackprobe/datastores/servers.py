"""A local server of a datastore: its specification, its life (start, stop) and how a failed start is reported.

`ServerSpec` is what the server is initialised with, as the stack creates the datastore: the database name, the
master user and password (PostgreSQL and MySQL), the AUTH token or the RBAC users (Redis), `max_connections`
as the deployed instance class and parameter group set it, and whether only TLS connections are accepted.
Nothing else: an extension, a role or a table that the stack does not create is not there, so a migration that
only works on a database it created itself fails here as it would on RDS. What an operator runs once by hand
against a new database (`--datastore-sql ADDRESS=FILE`: the application's roles, grants, extensions) is the
spec's `setup_sql`: run after the bootstrap as the master user, over TCP with its password (and TLS where the
datastore requires it), so a statement RDS's master may not run fails here too, with the client's own message
(`psql:FILE:LINE: ERROR: ...`), and the server is stopped as after any failed start.

A `LocalServer` runs in a directory of its own (its data and its log), as a process group of its own. When it
fails to start (the port is taken, initialisation fails, it exits) everything it started is stopped and its
directory removed; only its log is kept, at a path the `DatastoreStartError` names with its last lines. `stop()`
ends it and removes the directory, and says how it ended. As root (CI, containers), PostgreSQL and MySQL refuse
to run: they run as the `postgres` (or `mysql`) system user when there is one, else as `nobody`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from stackprobe.child_process import OWN_PROCESS_GROUP
from stackprobe.datastores.engines import HostServer
from stackprobe.datastores.tls import LocalAuthority, ServerCertificate
from stackprobe.errors import StackprobeError
from stackprobe.probes.output import last_lines

LOG_LINES = 12
READY_SECONDS = 60.0
STOP_SECONDS = 15.0
# How long the operator's setup SQL may run.
SETUP_SECONDS = 300.0


class DatastoreStartError(StackprobeError):
    """A local server could not be started; nothing of it is left running, its log is kept and named."""


@dataclass(frozen=True)
class RedisUser:
    """A Redis ACL user as the stack declares it (aws_elasticache_user): its access string, and how it logs in."""

    name: str
    access_string: str
    passwords: tuple[str, ...] = ()
    # IAM authentication: the token is a SigV4 signature this server cannot check; the user logs in with any.
    iam: bool = False


@dataclass(frozen=True)
class ServerSpec:
    """What a local server is initialised with (see the module docstring)."""

    label: str  # what it stands in for, for messages: "aws_db_instance.main (PostgreSQL 15)"
    hostnames: tuple[str, ...] = ()  # the endpoints it serves (for its certificate)
    db_name: str | None = None
    master_user: str | None = None
    master_password: str | None = None
    # Users that log in with an IAM token (members of rds_iam, RDS Proxy users with IAM required): the token is
    # a signature this server cannot check, so they log in without a password check.
    iam_users: tuple[str, ...] = ()
    max_connections: int | None = None
    tls: bool = False
    # Redis: the AUTH token (requirepass), or the RBAC users of its user group.
    auth_token: str | None = None
    redis_users: tuple[RedisUser, ...] = ()
    # The operator's one-off setup (`--datastore-sql`): SQL run as the master user once the server is made.
    setup_sql: Path | None = None


def system_user(*names: str) -> pwd.struct_passwd | None:
    """The first of `names` this machine has, else `nobody`; None when not root (the server runs as us)."""
    if os.geteuid() != 0:
        return None
    for name in (*names, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, user.pw_uid, user.pw_gid)


class LocalServer:
    """The life of one local server (see the module docstring); a subclass says how its engine starts."""

    flavour: ClassVar[str] = ""
    # The system users it runs as when started as root (the first that exists, else nobody).
    users: ClassVar[tuple[str, ...]] = ()
    # What RDS's master user of this engine may do, for the remedy of setup SQL it may not run.
    master_is: ClassVar[str] = "RDS's master user, no superuser"

    def __init__(
        self,
        spec: ServerSpec,
        host: HostServer,
        port: int,
        authority: LocalAuthority | None = None,
        *,
        keep_logs_in: Path | None = None,
    ) -> None:
        self.spec = spec
        self.host = host
        self.port = port
        self.authority = authority
        self.keep_logs_in = keep_logs_in or Path(tempfile.gettempdir())
        self.work = Path()
        self.process: subprocess.Popen[bytes] | None = None
        self.certificate: ServerCertificate | None = None
        self.user: pwd.struct_passwd | None = None
        self.started_seconds = 0.0
        self._log_handle: IO[bytes] | None = None

    # -- what a subclass says ------------------------------------------------------------------------

    def _initialise(self) -> None:
        """Create the server's data (before it starts)."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        """Whether the started server answers."""
        raise NotImplementedError

    def _bootstrap(self) -> None:
        """Create what the stack creates (the database, the master user), once the server answers."""

    def _run_setup(self, file: Path) -> None:
        """Run the operator's setup SQL as the master user (see the module docstring)."""
        raise DatastoreStartError(
            f"--datastore-sql {file}: the local server for {self.spec.label} runs no SQL",
            "give --datastore-sql only for a PostgreSQL or MySQL datastore.",
        )

    def facts(self) -> dict[str, str]:
        """What the running engine says of itself (version, max_connections, ...)."""
        return {}

    # -- the life --------------------------------------------------------------------------------------
    @property
    def log(self) -> Path:
        return self.work / "server.log"

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def describe(self) -> str:
        tls = ", TLS only" if self.spec.tls else ""
        return f"{self.host.describe()} on 127.0.0.1:{self.port}{tls}"

    def start(self) -> None:
        """Start the server and create what the stack creates; raises DatastoreStartError (nothing left behind)."""
        began = time.monotonic()
        self.work = Path(tempfile.mkdtemp(prefix=f"stackprobe-{self.flavour}-"))
        self.user = system_user(*self.users)
        try:
            if self.spec.tls:
                if self.authority is None:
                    raise DatastoreStartError(
                        f"{self.spec.label}: TLS asked without a certificate authority", "report this as a bug."
                    )
                self.certificate = self.authority.issue(self.spec.hostnames, self.work / "tls")
            self.work.chmod(0o755)
            self._initialise()
            chown_tree(self.work, self.user)
            self._spawn(self._command())
            self._wait_until_ready()
            self._bootstrap()
            if self.spec.setup_sql is not None:
                self._run_setup(self.spec.setup_sql)
        except BaseException as exc:
            kept = self._fail()
            if isinstance(exc, DatastoreStartError):
                raise DatastoreStartError(exc.problem, exc.remedy, self._with_log(exc.detail, kept)) from None
            if isinstance(exc, (OSError, subprocess.SubprocessError)):
                raise DatastoreStartError(
                    f"The local server for {self.spec.label} did not start: {exc}",
                    f"see its log, {kept}.",
                    self._with_log("", kept),
                ) from exc
            raise
        self.started_seconds = time.monotonic() - began

    def _with_log(self, detail: str, kept: Path | None) -> str:
        lines = last_lines(kept.read_text(errors="replace"), LOG_LINES) if kept is not None and kept.is_file() else ""
        where = f"Its log: {kept}." if kept is not None else "It wrote no log."
        return " ".join(part for part in (detail, where, f"Last lines: {lines}" if lines else "") if part)

    def _spawn(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self._log_handle = self.log.open("ab")
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=self.work,
            env={**_base_environment(), **(env or {})},
            process_group=OWN_PROCESS_GROUP,
            user=self.user.pw_uid if self.user is not None else None,
            group=self.user.pw_gid if self.user is not None else None,
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise DatastoreStartError(
                    f"The local server for {self.spec.label} exited at start (exit {code})",
                    "see its log: a port taken by another process, or a setting the engine refuses, is named there.",
                )
            if self._ready():
                return
            time.sleep(0.1)
        raise DatastoreStartError(
            f"The local server for {self.spec.label} did not answer within {READY_SECONDS:.0f} s",
            "see its log for what it is waiting on.",
        )

    def run(self, command: Sequence[str], *, input_text: str | None = None, timeout: float = 60.0) -> str:
        """Run one of the engine's programs (initdb, psql) as the server's user; raises DatastoreStartError."""
        completed = subprocess.run(
            list(command),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.work,
            env=_base_environment(),
            user=self.user.pw_uid if self.user is not None else None,
            group=self.user.pw_gid if self.user is not None else None,
            check=False,
        )
        with self.log.open("a") as log:
            log.write(f"$ {Path(command[0]).name} ...\n{completed.stdout}{completed.stderr}")
        if completed.returncode != 0:
            said = last_lines(completed.stderr or completed.stdout, LOG_LINES)
            raise DatastoreStartError(
                f"Initialising the local server for {self.spec.label} failed: {Path(command[0]).name} exited "
                f"{completed.returncode}: {said}",
                "see its log; a value the engine refuses (a password or name it cannot take) is named there.",
            )
        return completed.stdout

    def run_as_operator(
        self, command: Sequence[str], file: Path, *, env: Mapping[str, str], stdin: Path | None = None
    ) -> str:
        """Run a client as the operator would, from this machine over TCP as the master user (not as the server's
        system user, and with the master's credentials in `env`, never on the command line), for the setup SQL
        `file`; raises DatastoreStartError with the client's own message (its line numbers kept)."""
        master = self.spec.master_user
        with contextlib.ExitStack() as stack:
            given = stack.enter_context(stdin.open("rb")) if stdin is not None else subprocess.DEVNULL
            try:
                completed = subprocess.run(
                    list(command),
                    stdin=given,
                    capture_output=True,
                    timeout=SETUP_SECONDS,
                    cwd=self.work,
                    env={**_base_environment(), **env},
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise DatastoreStartError(
                    f"--datastore-sql: running {file} as master user {master} on the local server for "
                    f"{self.spec.label} did not end within {SETUP_SECONDS:.0f} s",
                    f"see what {file} waits on (a lock, a long load): it is the operator's one-off setup, not data.",
                ) from None
        out = completed.stdout.decode(errors="replace")
        err = completed.stderr.decode(errors="replace")
        with self.log.open("a") as log:
            log.write(f"$ {Path(command[0]).name} {file} (as master user {master})\n{out}{err}")
        if completed.returncode != 0:
            said = last_lines(err or out, LOG_LINES) or "it printed nothing"
            raise DatastoreStartError(
                f"--datastore-sql: running {file} as master user {master} on the local server for {self.spec.label} "
                f"failed: {Path(command[0]).name} exited {completed.returncode}: {said}",
                f"fix {file} at the line named: it runs as {self.master_is}, as on RDS, so a statement that fails "
                "here for want of privilege fails on RDS too; what needs more must be done as RDS allows (a "
                "parameter group, the grants RDS gives its master).",
            )
        return out

    def _terminate(self, first: signal.Signals) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            for sig, wait in ((first, STOP_SECONDS), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            # The server is gone; what it started in its group may not be.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return self.process.returncode

    def stop_signal(self) -> signal.Signals:
        return signal.SIGTERM

    def _fail(self) -> Path | None:
        """After a failed start: stop what runs, keep the log outside the directory, remove the directory."""
        self._terminate(signal.SIGKILL)
        kept: Path | None = None
        if self.log.is_file():
            kept = self.keep_logs_in / f"{self.work.name}.log"
            shutil.copyfile(self.log, kept)
        shutil.rmtree(self.work, ignore_errors=True)
        return kept

    def stop(self) -> str:
        """Stop the server and remove its directory; how it ended, for the report."""
        code = self._terminate(self.stop_signal())
        shutil.rmtree(self.work, ignore_errors=True)
        gone = "" if not self.work.exists() else f"; its directory {self.work} could not be removed"
        how = "stopped" if code is not None and code in (0, -signal.SIGTERM, -signal.SIGINT) else f"ended ({code})"
        return f"{self.host.describe()} on 127.0.0.1:{self.port}: {how}, data directory removed{gone}"


def _base_environment() -> dict[str, str]:
    """What the server's processes are given: a PATH and a C locale, nothing of this process's settings."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}


ServerFactory = Callable[[ServerSpec, HostServer, int, LocalAuthority | None], LocalServer]
