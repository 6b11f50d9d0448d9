"""Environment contract of the modelserve container.

Every variable the ECS task definition is expected to declare is read here and nowhere else, so
that a task definition which forgets or mangles one fails at process start with a message naming
the variable, instead of failing later on the first request that happens to need it. The variables
read are listed, per container, in stackprobe-contract.yaml (`environment`) and in README.md; a test
(tests/app/test_modelserve_contract.py) derives them from this module and compares.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_APP_PORT = 8080
DEFAULT_HEALTH_PATH = "/health"
# Longer than an ALB's default idle timeout (60 s) and the stack's (65 s): the load balancer, not the
# server, must be the side that closes an idle connection, or it reuses one the server just closed
# and answers 502. The task definition sets HTTP_KEEPALIVE_SECONDS from the ALB's idle timeout.
DEFAULT_KEEPALIVE_SECONDS = 75
# gunicorn worker processes per task (gunicorn_conf.py); each holds its own connection pools.
DEFAULT_WEB_CONCURRENCY = 2
# SQS caps a long poll at 20 s; anything larger is rejected by the service.
MAX_WAIT_SECONDS = 20

# Path characters only: "<" would turn the path into a Flask route variable, and "?"/"#" can never
# match a request path, so either would silently give a health route the ALB cannot reach.
_HEALTH_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
DB_ENGINES = ("postgres", "mysql")


class ConfigError(Exception):
    """The environment does not satisfy the contract; the message names every offending variable."""


@dataclass(frozen=True)
class DbConfig:
    """Where and as whom to connect. There is no password: the role authenticates with an IAM token
    (rds.generate_db_auth_token with the task role), minted per connection, so a rotated secret never
    locks a running task out and the task never holds the master credentials."""

    host: str
    port: int
    name: str
    user: str
    # DB_POOL_SIZE is the task's whole share of the connection budget (the stack's precondition counts
    # it once per task); each server process gets its part, so the task never opens more.
    pool_size: int
    processes: int
    # Read replicas, for reads that may lag the primary (history, statistics), and the role they are read as.
    read_hosts: tuple[str, ...] = ()
    read_user: str = ""
    # postgres or mysql (DB_ENGINE): which driver the pool uses (db.DRIVERS).
    engine: str = "postgres"

    @property
    def pool_size_per_process(self) -> int:
        return self.pool_size // self.processes


@dataclass(frozen=True)
class CacheConfig:
    host: str
    port: int
    # The RBAC user the API logs in as with an IAM token (elasticache:Connect on its task role); "" for none.
    user: str = ""
    # The replication group's id: the IAM token is a signature over it (CACHE_NAME, required with CACHE_USER).
    name: str = ""


@dataclass(frozen=True)
class Config:
    app_port: int
    health_path: str
    models_bucket: str
    uploads_bucket: str
    jobs_queue_url: str
    region: str
    db: DbConfig
    keepalive_seconds: int = DEFAULT_KEEPALIVE_SECONDS
    cache: CacheConfig | None = None


@dataclass(frozen=True)
class WorkerConfig:
    models_bucket: str
    uploads_bucket: str
    jobs_queue_url: str
    region: str
    wait_seconds: int = MAX_WAIT_SECONDS
    max_polls: int | None = None


class _Reader:
    """Collects every problem before failing, so one failed start reports all of them at once."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ
        self.missing: list[str] = []
        self.invalid: list[str] = []

    def get(self, name: str) -> str | None:
        # ECS passes an explicitly empty value through as "", which is as useless as an absent one.
        value = self._env.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            self.missing.append(name)
            return ""
        return value

    def region(self) -> str:
        value = self.get("AWS_REGION") or self.get("AWS_DEFAULT_REGION")
        if value is None:
            self.missing.append("AWS_REGION (or AWS_DEFAULT_REGION)")
            return ""
        return value

    def bucket(self, name: str) -> str:
        value = self.required(name)
        if value.startswith("arn:"):
            # Wiring a bucket ARN instead of its name is the classic Terraform slip (aws_s3_bucket.x.arn
            # instead of .id/.bucket); say so rather than letting S3 answer with a confusing error.
            self.invalid.append(f"{name} looks like an ARN ({value!r}); expected a bare bucket name")
        elif value and not _BUCKET_RE.match(value):
            self.invalid.append(f"{name}={value!r} is not a valid S3 bucket name")
        return value

    def queue_url(self, name: str) -> str:
        value = self.required(name)
        if value and not value.startswith(("https://", "http://")):
            # Queue ARN or bare queue name: SQS APIs need the URL (aws_sqs_queue.x.url / .id).
            self.invalid.append(f"{name}={value!r} is not a queue URL; expected https://sqs.../<account>/<name>")
        return value

    def positive(self, name: str, default: int | None = None) -> int:
        raw = self.get(name)
        if raw is None:
            if default is None:
                self.missing.append(name)
                return 0
            return default
        try:
            value = int(raw)
        except ValueError:
            self.invalid.append(f"{name}={raw!r} is not an integer")
            return 0
        if value < 1:
            self.invalid.append(f"{name}={value} must be at least 1")
        return value

    def port(self, name: str, default: int | None = None) -> int:
        raw = self.get(name)
        if raw is None:
            if default is None:
                self.missing.append(name)
                return 0
            return default
        try:
            value = int(raw)
        except ValueError:
            self.invalid.append(f"{name}={raw!r} is not an integer port")
            return 0
        if not 1 <= value <= 65535:
            self.invalid.append(f"{name}={value} is outside 1-65535")
        return value

    def raise_if_errors(self) -> None:
        problems: list[str] = []
        if self.missing:
            problems.append("missing required environment variable(s): " + ", ".join(self.missing))
        problems.extend(self.invalid)
        if problems:
            raise ConfigError("; ".join(problems))


def _read_health_path(reader: _Reader) -> str:
    path = reader.get("HEALTH_PATH") or DEFAULT_HEALTH_PATH
    if not _HEALTH_PATH_RE.match(path):
        reader.invalid.append(f"HEALTH_PATH={path!r} must be a plain absolute path such as /health")
    return path


def _read_db(reader: _Reader) -> DbConfig:
    host = reader.required("DB_HOST")
    port = reader.port("DB_PORT")
    name = reader.required("DB_NAME")
    user = reader.required("DB_USER")
    pool_size = reader.positive("DB_POOL_SIZE")
    processes = reader.positive("WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY)
    if pool_size and processes and pool_size < processes:
        reader.invalid.append(
            f"DB_POOL_SIZE={pool_size} is less than WEB_CONCURRENCY={processes}: every server process needs at "
            "least one connection, so the task would hold more than its budget"
        )
    read_hosts = tuple(h.strip() for h in (reader.get("DB_READ_HOSTS") or "").split(",") if h.strip())
    # The replicas are read as a role of their own (IAM only, read-only): required with them, unused without.
    read_user = (reader.get("DB_READ_USER") or "") if not read_hosts else reader.required("DB_READ_USER")
    engine = reader.required("DB_ENGINE")
    if engine and engine not in DB_ENGINES:
        reader.invalid.append(f"DB_ENGINE={engine!r} is not one of {', '.join(DB_ENGINES)}")
    return DbConfig(host, port, name, user, pool_size, processes or 1, read_hosts, read_user, engine)


def _read_cache(reader: _Reader) -> CacheConfig | None:
    host = reader.get("CACHE_HOST")
    if host is None and reader.get("CACHE_PORT") is None:
        return None  # the cache is optional: no CACHE_* at all means none
    if host is None:
        reader.missing.append("CACHE_HOST (CACHE_PORT is set)")
    user = reader.get("CACHE_USER") or ""
    name = reader.required("CACHE_NAME") if user else (reader.get("CACHE_NAME") or "")
    return CacheConfig(host=host or "", port=reader.port("CACHE_PORT", 6379), user=user, name=name)


def keepalive_seconds(environ: Mapping[str, str] | None = None) -> int:
    """HTTP_KEEPALIVE_SECONDS, what both servers (gunicorn, and the local one) keep idle connections for."""
    reader = _Reader(os.environ if environ is None else environ)
    value = reader.positive("HTTP_KEEPALIVE_SECONDS", DEFAULT_KEEPALIVE_SECONDS)
    reader.raise_if_errors()
    return value


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the API's configuration; raises ConfigError naming every missing or malformed variable."""
    reader = _Reader(os.environ if environ is None else environ)
    config = Config(
        # PORT, when set, wins: it is how a local runner (stackprobe's live probes) says which port
        # stands in for the container port. A task definition sets APP_PORT.
        app_port=reader.port("PORT") if reader.get("PORT") else reader.port("APP_PORT", DEFAULT_APP_PORT),
        health_path=_read_health_path(reader),
        models_bucket=reader.bucket("MODELS_BUCKET"),
        uploads_bucket=reader.bucket("UPLOADS_BUCKET"),
        jobs_queue_url=reader.queue_url("JOBS_QUEUE_URL"),
        region=reader.region(),
        db=_read_db(reader),
        keepalive_seconds=reader.positive("HTTP_KEEPALIVE_SECONDS", DEFAULT_KEEPALIVE_SECONDS),
        cache=_read_cache(reader),
    )
    reader.raise_if_errors()
    return config


def load_worker_config(environ: Mapping[str, str] | None = None) -> WorkerConfig:
    """Read the worker's configuration.

    The worker never talks to the database, so it does not demand the DB_* variables: requiring
    configuration a process does not use would make the fixture claim a dependency it does not have.
    """
    reader = _Reader(os.environ if environ is None else environ)
    wait_seconds = MAX_WAIT_SECONDS
    raw_wait = reader.get("WORKER_WAIT_SECONDS")
    if raw_wait is not None:
        try:
            wait_seconds = int(raw_wait)
        except ValueError:
            reader.invalid.append(f"WORKER_WAIT_SECONDS={raw_wait!r} is not an integer")
        else:
            if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
                reader.invalid.append(f"WORKER_WAIT_SECONDS={wait_seconds} is outside 0-{MAX_WAIT_SECONDS}")
    max_polls: int | None = None
    raw_polls = reader.get("WORKER_MAX_POLLS")
    if raw_polls is not None:
        try:
            max_polls = int(raw_polls)
        except ValueError:
            reader.invalid.append(f"WORKER_MAX_POLLS={raw_polls!r} is not an integer")
        else:
            if max_polls < 1:
                reader.invalid.append(f"WORKER_MAX_POLLS={max_polls} must be at least 1")
    config = WorkerConfig(
        models_bucket=reader.bucket("MODELS_BUCKET"),
        uploads_bucket=reader.bucket("UPLOADS_BUCKET"),
        jobs_queue_url=reader.queue_url("JOBS_QUEUE_URL"),
        region=reader.region(),
        wait_seconds=wait_seconds,
        max_polls=max_polls,
    )
    reader.raise_if_errors()
    return config
