"""What an application lets the live probes ask of it, beyond the load balancer's health check.

`health.live` needs nothing from the application: the target group says what to ask, and the container's
`healthCheck` says what ECS asks. The other live probes exercise an application's own API, and no
library can guess an API: its routes, the variables that name its buckets and queue, what a job looks
like. So an application that wants them declares them in `stackprobe-contract.yaml`, in its app directory
(`--app-dir` / `stackprobe_app_dir`; else the Terraform directory). Every section is optional; a check
whose section is absent is not applicable. This repository's `app/stackprobe-contract.yaml` is a full
example:

    container_health_check:      # health.consistency: what the container healthCheck command asks
      port_variable: APP_PORT    #   the port it reads from the task environment
      path_variable: HEALTH_PATH #   and the path

    presigned_upload:            # s3.presigned-upload
      container: api             #   a container configured with --container
      route: GET /upload-url?filename={filename}   # answers 200 {"url": <pre-signed PUT>, "key": <key>}
      bucket_variable: UPLOADS_BUCKET              # the task variable naming the bucket (optional)

    jobs:                        # jobs.end-to-end, jobs.dead-letter
      api_container: api         #   accepts jobs (behind a load balancer)
      worker_container: worker   #   runs them; runs until it exits by itself
      queue_variable: JOBS_QUEUE_URL
      input_filename: probe.png  #   uploaded through presigned_upload (required); {input_key} is its key
      poison_input_key: uploads/stackprobe-poison/{token}/missing.png   # no object has this key
      submit: {route: POST /start-job, json: {image_key: "{input_key}", model: probe}, status: 202,
               job_id_field: job_id}
      state: {route: "GET /job/{job_id}/results", field: status, done: done, failed: failed}
      worker_environment: {WORKER_MAX_POLLS: "{polls}"}   # how the worker stops after {polls} receives
      seed:                      #   objects written before a job runs (removed afterwards)
        - {bucket_variable: MODELS_BUCKET, key: models/probe.json, json: {...}}

    task_access:                 # iam.enforced-least-privilege: what each task role must be able to do
      MODELS_BUCKET: {access: read, prefix: models/}   # s3:GetObject allowed, s3:DeleteObject refused
      UPLOADS_BUCKET: {access: write, prefix: uploads/, containers: [api]}   # s3:PutObject allowed, ...
      JOBS_QUEUE_URL: queue      #   sqs:GetQueueAttributes allowed (a bare access: every container)

    environment:                 # capacity.unconsumed: the task variables each container's code reads
      api: [APP_PORT, DB_HOST, DB_POOL_SIZE, ...]
      worker: [JOBS_QUEUE_URL, ...]

    keep_alive:                  # edge.keep-alive: how long the server keeps an idle connection open,
      container: api             #   when it does not say so in a Keep-Alive response header
      seconds_variable: HTTP_KEEPALIVE_SECONDS   # the task variable its server reads
      default_seconds: 75                        # what it uses when the variable is unset

A malformed file is an error naming the file, the key and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from stackprobe.errors import StackprobeError

CONTRACT_FILE = "stackprobe-contract.yaml"
ACCESS_KINDS = ("read", "write", "queue")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class ContractError(StackprobeError):
    """The contract file cannot be read as written."""


class ConfiguredAccount(Protocol):
    """Where a deployed stack's configuration and app live (a CheckContext is one)."""

    @property
    def app_dir(self) -> Path | None: ...

    @property
    def source_dir(self) -> Path | None: ...


@dataclass(frozen=True)
class Route:
    """An HTTP method and a path with `{placeholders}`."""

    method: str
    path: str

    def render(self, **values: str) -> str:
        path = self.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        return path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class HealthCheckContract:
    port_variable: str | None
    path_variable: str | None


@dataclass(frozen=True)
class UploadContract:
    container: str
    route: Route
    bucket_variable: str | None
    url_field: str
    key_field: str


@dataclass(frozen=True)
class SeedObject:
    bucket_variable: str
    key: str
    body: bytes


@dataclass(frozen=True)
class JobsContract:
    api_container: str
    worker_container: str
    queue_variable: str
    input_filename: str
    poison_input_key: str
    submit: Route
    submit_json: Any
    accepted_status: int
    job_id_field: str
    state: Route
    state_field: str
    done: str
    failed: str
    worker_environment: Mapping[str, str]
    seed: tuple[SeedObject, ...] = ()


@dataclass(frozen=True)
class TaskAccess:
    """A task role must be able to act on the resource `variable` names: read, write, or queue."""

    variable: str
    access: str
    containers: tuple[str, ...] = ()  # empty: every container that declares the variable
    prefix: str = ""  # the objects the grant covers start with it (e.g. models/)


@dataclass(frozen=True)
class KeepAliveContract:
    """Where a container's HTTP server takes its idle keep-alive from: a task variable, else a default."""

    container: str
    seconds_variable: str | None
    default_seconds: int | None

    def declared_seconds(self, task_env: Mapping[str, str]) -> int | None:
        value = task_env.get(self.seconds_variable, "").strip() if self.seconds_variable else ""
        return int(value) if value.isdigit() else self.default_seconds


@dataclass(frozen=True)
class ProbeContract:
    source: Path | None = None
    health_check: HealthCheckContract | None = None
    upload: UploadContract | None = None
    jobs: JobsContract | None = None
    task_access: tuple[TaskAccess, ...] = field(default=())
    # Container name -> the task variables its code reads (absent: unknown, not "none").
    environment: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keep_alive: KeepAliveContract | None = None

    @classmethod
    def load(cls, directory: Path | None) -> ProbeContract:
        """The contract in `directory`, or an empty one when it has none."""
        path = directory / CONTRACT_FILE if directory is not None else None
        if path is None or not path.is_file():
            return cls()
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ContractError(f"{path} is not valid YAML", "fix the syntax at the line named.", str(exc)) from exc
        reader = _Reader(path)
        sections = ("container_health_check", "presigned_upload", "jobs", "task_access", "environment", "keep_alive")
        top = reader.mapping(document, "", sections)
        if top.get("jobs") is not None and top.get("presigned_upload") is None:
            raise ContractError(
                f"{path}: jobs needs presigned_upload, the route its input is uploaded through",
                "declare presigned_upload for the jobs' api_container.",
            )
        return cls(
            source=path,
            health_check=reader.health_check(top.get("container_health_check")),
            upload=reader.upload(top.get("presigned_upload")),
            jobs=reader.jobs(top.get("jobs")),
            task_access=reader.task_access(top.get("task_access")),
            environment=reader.environment(top.get("environment")),
            keep_alive=reader.keep_alive(top.get("keep_alive")),
        )

    def where(self, key: str) -> str:
        return f"{key} in {self.source}" if self.source else f"{key} (no {CONTRACT_FILE})"


def contract_for(account: ConfiguredAccount) -> ProbeContract:
    """The contract of the app under test: in the app directory, else in the Terraform directory."""
    return ProbeContract.load(account.app_dir or account.source_dir)


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """`template` (JSON-like) with every `{name}` in its strings replaced by `values[name]`."""
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    return template


class _Reader:
    """Reads one contract file; every error names the file, the key and what was expected."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str, got: Any) -> ContractError:
        return ContractError(
            f"{self.path}: {key or 'the document'} must be {expected}, not {json.dumps(got, default=str)}",
            f"write {key or 'it'} as {expected} (the stackprobe.probes.contract docstring shows every key).",
        )

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping", value)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ContractError(
                f"{self.path}: unknown key {', '.join(f'{key}.{u}'.lstrip('.') for u in unknown)}",
                f"use only {', '.join(allowed)} there.",
            )
        return value

    def text(self, section: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = section.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "a non-empty string", value)
        return value.strip()

    def optional_text(self, section: Mapping[str, Any], key: str, where: str) -> str | None:
        return self.text(section, key, where) if section.get(key) is not None else None

    def route(self, section: Mapping[str, Any], key: str, where: str, method: str | None = None) -> Route:
        text = self.text(section, key, where)
        verb, _, path = text.partition(" ")
        if verb.upper() not in _METHODS or not path.strip().startswith("/"):
            raise self.fail(f"{where}.{key}", "'METHOD /path' (e.g. 'GET /health')", text)
        if method is not None and verb.upper() != method:
            raise self.fail(f"{where}.{key}", f"a {method} route", text)
        return Route(verb.upper(), path.strip())

    def health_check(self, value: Any) -> HealthCheckContract | None:
        if value is None:
            return None
        section = self.mapping(value, "container_health_check", ("port_variable", "path_variable"))
        where = "container_health_check"
        return HealthCheckContract(
            self.optional_text(section, "port_variable", where), self.optional_text(section, "path_variable", where)
        )

    def upload(self, value: Any) -> UploadContract | None:
        if value is None:
            return None
        where = "presigned_upload"
        section = self.mapping(value, where, ("container", "route", "bucket_variable", "url_field", "key_field"))
        return UploadContract(
            container=self.text(section, "container", where),
            route=self.route(section, "route", where, "GET"),
            bucket_variable=self.optional_text(section, "bucket_variable", where),
            url_field=self.text(section, "url_field", where, "url"),
            key_field=self.text(section, "key_field", where, "key"),
        )

    def jobs(self, value: Any) -> JobsContract | None:
        if value is None:
            return None
        where = "jobs"
        keys = (
            "api_container",
            "worker_container",
            "queue_variable",
            "input_filename",
            "poison_input_key",
            "submit",
            "state",
            "worker_environment",
            "seed",
        )
        section = self.mapping(value, where, keys)
        submit = self.mapping(section.get("submit"), "jobs.submit", ("route", "json", "status", "job_id_field"))
        state = self.mapping(section.get("state"), "jobs.state", ("route", "field", "done", "failed"))
        status = submit.get("status", 200)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise self.fail("jobs.submit.status", "an HTTP status code", status)
        environment = section.get("worker_environment") or {}
        if not isinstance(environment, dict):
            raise self.fail("jobs.worker_environment", "a mapping of NAME: value", environment)
        return JobsContract(
            api_container=self.text(section, "api_container", where),
            worker_container=self.text(section, "worker_container", where),
            queue_variable=self.text(section, "queue_variable", where),
            input_filename=self.text(section, "input_filename", where),
            poison_input_key=self.text(section, "poison_input_key", where),
            submit=self.route(submit, "route", "jobs.submit"),
            submit_json=submit.get("json"),
            accepted_status=status,
            job_id_field=self.text(submit, "job_id_field", "jobs.submit"),
            state=self.route(state, "route", "jobs.state", "GET"),
            state_field=self.text(state, "field", "jobs.state"),
            done=self.text(state, "done", "jobs.state"),
            failed=self.text(state, "failed", "jobs.state"),
            worker_environment={str(k): str(v) for k, v in environment.items()},
            seed=tuple(self.seed_object(item, f"jobs.seed[{i}]") for i, item in enumerate(section.get("seed") or [])),
        )

    def seed_object(self, value: Any, where: str) -> SeedObject:
        section = self.mapping(value, where, ("bucket_variable", "key", "json", "text"))
        if ("json" in section) == ("text" in section):
            raise self.fail(where, "a mapping with exactly one of json or text", value)
        body = json.dumps(section["json"]).encode() if "json" in section else str(section["text"]).encode()
        return SeedObject(self.text(section, "bucket_variable", where), self.text(section, "key", where), body)

    def task_access(self, value: Any) -> tuple[TaskAccess, ...]:
        if value is None:
            return ()
        section = value if isinstance(value, dict) else None
        if section is None:
            raise self.fail("task_access", "a mapping of VARIABLE: access", value)
        found: list[TaskAccess] = []
        for variable, spec in section.items():
            where = f"task_access.{variable}"
            allowed = ("access", "containers", "prefix")
            entry = self.mapping(spec, where, allowed) if isinstance(spec, dict) else {"access": spec}
            access = entry.get("access")
            if access not in ACCESS_KINDS:
                raise self.fail(where, f"one of {', '.join(ACCESS_KINDS)}", access)
            containers = entry.get("containers") or []
            if not isinstance(containers, list) or not all(isinstance(c, str) for c in containers):
                raise self.fail(f"{where}.containers", "a list of container names", containers)
            prefix = entry.get("prefix") or ""
            if not isinstance(prefix, str):
                raise self.fail(f"{where}.prefix", "an object key prefix such as models/", prefix)
            found.append(TaskAccess(str(variable), str(access), tuple(containers), prefix))
        return tuple(found)

    def environment(self, value: Any) -> dict[str, tuple[str, ...]]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail("environment", "a mapping of container: [VARIABLE, ...]", value)
        found: dict[str, tuple[str, ...]] = {}
        for container, names in value.items():
            if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
                raise self.fail(f"environment.{container}", "a list of variable names", names)
            found[str(container)] = tuple(n.strip() for n in names)
        return found

    def keep_alive(self, value: Any) -> KeepAliveContract | None:
        if value is None:
            return None
        where = "keep_alive"
        section = self.mapping(value, where, ("container", "seconds_variable", "default_seconds"))
        default = section.get("default_seconds")
        if default is not None and (not isinstance(default, int) or isinstance(default, bool) or default < 0):
            raise self.fail(f"{where}.default_seconds", "a number of seconds", default)
        variable = self.optional_text(section, "seconds_variable", where)
        if variable is None and default is None:
            raise self.fail(where, "a mapping with seconds_variable, default_seconds or both", value)
        return KeepAliveContract(self.text(section, "container", where), variable, default)
