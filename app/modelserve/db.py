"""The API's database: the record of every job submitted, on the primary, and its history, read from the replicas.

The API records a job (id, image, model, when) on the primary before it enqueues it, so a job the queue holds
always has its record, and `GET /job/<id>/results` can say "queued" for it until the worker has written the
result; the recent history (`GET /jobs`) is read from a read replica, where a lag of seconds is harmless.

Connections: SQLAlchemy's pool, `DB_POOL_SIZE // WEB_CONCURRENCY` connections per server process and never
more (no overflow), so the task holds at most the share of the connection budget the stack counted for it. Each
new connection logs in with an IAM token minted for it (`rds.generate_db_auth_token` with the task role: a
signature made locally, no AWS call), as `DB_USER` on the primary (through RDS Proxy) and as `DB_READ_USER` on
the replicas, over TLS with the server's certificate verified against the trust store the process is given
(`sslrootcert=system`: the image's SSL_CERT_FILE, which holds the RDS authorities).

The table is the application role's own: the first process that finds it missing creates it (the operator's
one-off SQL, app/sql/, gives the role CREATE on the schema and the reader SELECT on what it creates).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, Engine, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from .config import DbConfig

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

# Seconds to wait for a connection: longer than a proxy's usual borrow latency, short enough that a request
# fails (503) well within the load balancer's timeout instead of hanging on an exhausted pool.
POOL_TIMEOUT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 5
# An IAM token is valid for 15 minutes; connections older than that are renewed before RDS Proxy's idle
# client timeout or a rotation could cut them mid-request.
POOL_RECYCLE_SECONDS = 14 * 60
HISTORY_LIMIT_MAX = 100

DRIVERS = {"postgres": "postgresql+psycopg", "mysql": "mysql+pymysql"}

metadata = MetaData()
jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("image_key", String(1024), nullable=False),
    Column("model", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", String(256)),
    Column("submitted_at", DateTime(timezone=True), nullable=False, index=True),
)

# Mints the password of one new connection: (host, port, user) -> IAM token.
TokenSource = Callable[[str, int, str], str]


class DatabaseUnavailableError(Exception):
    """The database could not be reached or refused the statement; the message says which and why."""


def iam_token_source(rds: RDSClient, region: str) -> TokenSource:
    def token(host: str, port: int, user: str) -> str:
        return rds.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)

    return token


def _tls_arguments(engine: str) -> dict[str, Any]:
    if engine == "postgres":
        # verify-full: the certificate must be signed by a trusted authority and name the host connected to.
        return {"sslmode": "verify-full", "sslrootcert": "system", "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    import ssl

    # PyMySQL: a verifying context from the process's trust store (SSL_CERT_FILE); IAM tokens are only ever
    # sent over TLS (RDS's mysql_clear_password plugin requires it).
    return {"ssl": ssl.create_default_context(), "connect_timeout": CONNECT_TIMEOUT_SECONDS}


class _Pool:
    """One engine (pool) per server process: gunicorn builds the app in its master and forks the workers,
    and a pooled connection must never be shared across a fork."""

    def __init__(self, config: DbConfig, host: str, user: str, tokens: TokenSource) -> None:
        self.host, self.user = host, user
        self._config, self._tokens = config, tokens
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._pid = 0

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._engine, self._pid = self._create(), os.getpid()
            return self._engine

    def _create(self) -> Engine:
        cfg = self._config
        url = URL.create(DRIVERS[cfg.engine], username=self.user, host=self.host, port=cfg.port, database=cfg.name)
        engine = create_engine(
            url,
            pool_size=cfg.pool_size_per_process,
            max_overflow=0,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            pool_recycle=POOL_RECYCLE_SECONDS,
            pool_pre_ping=True,
            connect_args=_tls_arguments(cfg.engine),
        )

        # SQLAlchemy's documented hook for credentials that expire: a fresh token for each new connection.
        @event.listens_for(engine, "do_connect")
        def _password(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["password"] = self._tokens(self.host, cfg.port, self.user)

        return engine


class JobStore:
    def __init__(self, config: DbConfig, tokens: TokenSource) -> None:
        self.config = config
        self._primary = _Pool(config, config.host, config.user, tokens)
        self._replicas = [_Pool(config, host, config.read_user, tokens) for host in config.read_hosts]
        self._schema_ready = False
        self._next_replica = 0

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        engine = self._primary.engine()
        try:
            metadata.create_all(engine, checkfirst=True)
        except SQLAlchemyError:
            # Another process created it between the check and the CREATE: the check now finds it.
            metadata.create_all(engine, checkfirst=True)
        self._schema_ready = True

    def record(self, job_id: str, image_key: str, model: str) -> None:
        """The job's record, status queued, on the primary; raises DatabaseUnavailableError."""
        try:
            self._ensure_schema()
            with self._primary.engine().begin() as connection:
                connection.execute(
                    insert(jobs).values(
                        job_id=job_id,
                        image_key=image_key,
                        model=model,
                        status="queued",
                        submitted_at=datetime.now(UTC),
                    )
                )
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(_describe("record the job", self._primary, exc)) from exc

    def mark_failed(self, job_id: str, error: str) -> None:
        try:
            with self._primary.engine().begin() as connection:
                connection.execute(update(jobs).where(jobs.c.job_id == job_id).values(status="failed", error=error))
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(_describe("mark the job failed", self._primary, exc)) from exc

    def submitted(self, job_id: str) -> dict[str, Any] | None:
        """The job's record from the primary (read-your-writes: a poll right after the submission finds it)."""
        try:
            self._ensure_schema()
            with self._primary.engine().connect() as connection:
                row = connection.execute(select(jobs).where(jobs.c.job_id == job_id)).mappings().first()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(_describe("read the job", self._primary, exc)) from exc
        return _state(row) if row is not None else None

    def recent(self, limit: int) -> tuple[list[dict[str, Any]], str]:
        """The most recent submissions, newest first, from a replica (round robin; the primary without any),
        and the host they were read from."""
        pool = self._reader()
        try:
            self._ensure_schema()
            with pool.engine().connect() as connection:
                rows = connection.execute(
                    select(jobs).order_by(jobs.c.submitted_at.desc()).limit(min(limit, HISTORY_LIMIT_MAX))
                ).mappings()
                return [_history_entry(row) for row in rows], pool.host
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(_describe("read the job history", pool, exc)) from exc

    def _reader(self) -> _Pool:
        if not self._replicas:
            return self._primary
        pool = self._replicas[self._next_replica % len(self._replicas)]
        self._next_replica += 1
        return pool

    def check(self) -> dict[str, Any]:
        """For /ready: `SELECT 1` on the primary and on every replica, each as the role the API uses there."""
        results: dict[str, Any] = {}
        for role, pool in [("primary", self._primary), *(("replica", p) for p in self._replicas)]:
            try:
                with pool.engine().connect() as connection:
                    connection.exec_driver_sql("SELECT 1").scalar_one()
            except SQLAlchemyError as exc:
                results[f"{role} {pool.host}"] = {"ok": False, "error": _describe("connect", pool, exc)}
            else:
                results[f"{role} {pool.host}"] = {"ok": True, "user": pool.user}
        return results


def _state(row: RowMapping) -> dict[str, Any]:
    state = {key: row[key] for key in ("job_id", "status", "image_key", "model")}
    state["submitted_at"] = row["submitted_at"].isoformat()
    if row["error"]:
        state["error"] = row["error"]
    return state


def _history_entry(row: RowMapping) -> dict[str, Any]:
    # Not the job's current status: the worker writes that beside the result (S3), never here.
    return {
        "job_id": row["job_id"],
        "image_key": row["image_key"],
        "model": row["model"],
        "submitted_at": row["submitted_at"].isoformat(),
        "enqueued": row["status"] != "failed",
        "results": f"/job/{row['job_id']}/results",
    }


def _describe(action: str, pool: _Pool, exc: SQLAlchemyError) -> str:
    # The driver's own message (refused, no such role, TLS), without SQLAlchemy's statement and link lines.
    original = getattr(exc, "orig", None) or exc
    detail = " ".join(str(original).split())
    return f"could not {action} on {pool.host} as {pool.user}: {type(original).__name__}: {detail}"
