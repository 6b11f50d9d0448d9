"""Environment contract of the modelserve container.

Every variable the ECS task definition is expected to declare is read here and nowhere else, so
that a task definition which forgets or mangles one fails at process start with a message naming
the variable, instead of failing later on the first request that happens to need it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_APP_PORT = 8080
DEFAULT_HEALTH_PATH = "/health"
# SQS caps a long poll at 20 s; anything larger is rejected by the service.
MAX_WAIT_SECONDS = 20

# Path characters only: "<" would turn the path into a Flask route variable, and "?"/"#" can never
# match a request path, so either would silently give a health route the ALB cannot reach.
_HEALTH_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ConfigError(Exception):
    """The environment does not satisfy the contract; the message names every offending variable."""


@dataclass(frozen=True)
class DbConfig:
    host: str
    port: int
    name: str
    username: str
    # Kept out of repr so that logging or printing a Config can never leak the credential.
    password: str = field(repr=False)


@dataclass(frozen=True)
class Config:
    app_port: int
    health_path: str
    models_bucket: str
    uploads_bucket: str
    jobs_queue_url: str
    region: str
    db: DbConfig


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
    secret = reader.required("DB_SECRET")
    username = password = ""
    if secret:
        # The secret's value is never echoed in an error: these messages end up in CloudWatch Logs.
        try:
            parsed = json.loads(secret)
        except ValueError:
            parsed = None
            reader.invalid.append("DB_SECRET is not valid JSON (expected an object with username and password)")
        if parsed is not None:
            if not isinstance(parsed, dict):
                reader.invalid.append("DB_SECRET must be a JSON object with username and password")
            else:
                absent = [k for k in ("username", "password") if not isinstance(parsed.get(k), str) or not parsed[k]]
                if absent:
                    reader.invalid.append("DB_SECRET JSON lacks non-empty string field(s): " + ", ".join(absent))
                else:
                    username, password = parsed["username"], parsed["password"]
    return DbConfig(host=host, port=port, name=name, username=username, password=password)


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the API's configuration; raises ConfigError naming every missing or malformed variable."""
    reader = _Reader(os.environ if environ is None else environ)
    config = Config(
        app_port=reader.port("APP_PORT", DEFAULT_APP_PORT),
        health_path=_read_health_path(reader),
        models_bucket=reader.bucket("MODELS_BUCKET"),
        uploads_bucket=reader.bucket("UPLOADS_BUCKET"),
        jobs_queue_url=reader.queue_url("JOBS_QUEUE_URL"),
        region=reader.region(),
        db=_read_db(reader),
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
