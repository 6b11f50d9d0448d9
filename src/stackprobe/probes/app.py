"""Run the reference app as a local process, exactly as a deployed ECS task definition declares it.

moto accepts ECS task definitions and services but starts no container, so what a task would do is
probed by running the reference app (`app/`, package `modelserve`) here, with the environment the
deployed task definition declares: its `environment`, its `environmentFiles` from S3, and its
`secrets` resolved from the emulator's Secrets Manager and SSM, the way the ECS agent resolves them
at task start. A task definition that forgets a variable therefore fails here as it would on Fargate.

What differs from a container, and why:
- The interpreter is this virtualenv's Python, and the image's default command (gunicorn) is replaced
  by the app's own server (`python -m modelserve.api`), which reads the same environment contract.
- Container ports become free loopback ports: the port the app listens on (APP_PORT, the image
  default 8080 without it) and every `containerPort` get one local port each, consistently, so a task
  whose APP_PORT differs from its port mapping still fails the way it would behind an ALB.
- The AWS environment is pinned to the emulator (endpoint, dummy credentials, region, as Fargate also
  injects AWS_REGION); nothing else from this process's environment leaks in.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.child_process import OWN_PROCESS_GROUP

# The image's default listening port (Dockerfile EXPOSE 8080, gunicorn_conf's default bind).
IMAGE_DEFAULT_PORT = 8080
API_MODULE = "modelserve.api"
# Only these survive from this process's environment: what a Python needs to run, never a setting
# the task definition could have been expected to provide.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")
_PYTHON_NAMES = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")


class AppStartError(RuntimeError):
    """The process exited (or never listened) at start-up; `output` holds what it printed."""

    def __init__(self, message: str, output: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.returncode = returncode

    def evidence(self, lines: int = 6) -> str:
        tail = " | ".join(line for line in self.output.strip().splitlines()[-lines:] if line.strip())
        return f"{self}: {tail}" if tail else str(self)


class SecretResolutionError(RuntimeError):
    """ECS could not resolve a `secrets` entry; on Fargate the task would stop before the app starts."""


def default_app_dir() -> Path | None:
    """The repository's `app/` directory, when stackprobe runs from its own checkout."""
    candidate = Path(__file__).resolve().parents[3] / "app"
    return candidate if (candidate / "modelserve").is_dir() else None


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def resolve_secret(backend: AwsBackend, value_from: str) -> str:
    """The value ECS would inject for one `secrets[].valueFrom` (Secrets Manager or SSM Parameter Store).

    Secrets Manager: `arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version-id>]`
    (ECS syntax: a JSON key selects one field). SSM: a parameter ARN or, in the task's region, its name.
    """
    try:
        if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
            return _secrets_manager_value(backend, value_from)
        return _ssm_value(backend, value_from)
    except (ClientError, BotoCoreError) as exc:
        raise SecretResolutionError(f"{value_from}: {_error_code(exc)}") from exc


def _secrets_manager_value(backend: AwsBackend, value_from: str) -> str:
    parts = value_from.split(":")
    secret_arn = ":".join(parts[:7])
    json_key, stage, version_id = ([*parts[7:10], "", "", ""])[:3]
    kwargs: dict[str, str] = {"SecretId": secret_arn}
    if stage:
        kwargs["VersionStage"] = stage
    if version_id:
        kwargs["VersionId"] = version_id
    client = backend.client("secretsmanager", region_name=parts[3] or None)
    secret = client.get_secret_value(**kwargs)
    text = secret.get("SecretString")
    if text is None:
        raise SecretResolutionError(f"{value_from}: binary secrets cannot be injected as environment variables")
    if not json_key:
        return str(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SecretResolutionError(f"{value_from}: JSON key {json_key!r} asked of a secret that is not JSON") from exc
    if not isinstance(document, dict) or json_key not in document:
        raise SecretResolutionError(f"{value_from}: the secret has no JSON key {json_key!r}")
    value = document[json_key]
    return value if isinstance(value, str) else json.dumps(value)


def _ssm_value(backend: AwsBackend, value_from: str) -> str:
    region: str | None = None
    candidates = [value_from]
    if value_from.startswith("arn:"):
        parts = value_from.split(":", 5)
        region = parts[3] or None
        name = parts[5].split("parameter", 1)[1] if "parameter" in parts[5] else parts[5]
        # The ARN of /a/b ends in parameter/a/b and that of a flat name c in parameter/c.
        candidates = [name] if name.count("/") > 1 else [name.lstrip("/"), name]
    client = backend.client("ssm", region_name=region)
    last: ClientError | None = None
    for candidate in candidates:
        try:
            return str(client.get_parameter(Name=candidate, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as exc:
            last = exc
    assert last is not None
    raise last


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", exc))
    return str(exc)


def _environment_files(backend: AwsBackend, container: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Variables from `environmentFiles` (S3 objects of KEY=VALUE lines), as the ECS agent reads them."""
    values: dict[str, str] = {}
    errors: list[str] = []
    for entry in container.get("environmentFiles") or []:
        arn = str(entry.get("value", ""))
        bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
        try:
            body = backend.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except (ClientError, BotoCoreError) as exc:
            errors.append(f"environmentFiles {arn}: {_error_code(exc)}")
            continue
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, _, value = line.partition("=")
                values[name.strip()] = value
    return values, errors


def _is_python(word: str) -> bool:
    return bool(_PYTHON_NAMES.match(word))


def _is_api_command(command: Sequence[str]) -> bool:
    """The image's default API command in any of its spellings (gunicorn app, or the module itself)."""
    joined = " ".join(command)
    return (bool(command) and Path(command[0]).name == "gunicorn" and "modelserve" in joined) or (
        len(command) >= 3 and _is_python(command[0]) and command[1] == "-m" and command[2] == API_MODULE
    )


def _port_number(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    value = int(text.strip())
    return value if 1 <= value <= 65535 else None


@dataclass(frozen=True)
class TaskLaunch:
    """How one container of a deployed task definition is run here: argv, environment, port mapping.

    `task_env` is what the container would see (environment files, `environment`, resolved `secrets`);
    `env` is the full process environment (task_env plus the pinned emulator variables, PYTHONPATH and
    the local port). `ports` maps container ports to the loopback ports standing in for them.
    """

    task_definition_arn: str
    container_name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    task_env: Mapping[str, str]
    ports: Mapping[int, int]
    listen_port: int | None
    container: Mapping[str, Any]
    app_dir: Path
    secret_errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    secret_names: tuple[str, ...] = field(default=())

    @classmethod
    def from_task_definition(
        cls,
        backend: AwsBackend,
        task_def_arn: str,
        container_name: str | None = None,
        *,
        app_dir: Path | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> TaskLaunch:
        """Read the deployed task definition and build the local launch of one of its containers.

        `container_name` defaults to the essential container with port mappings (else the first
        essential one). `overrides` are probe settings added on top of the task's environment (e.g.
        WORKER_MAX_POLLS); they are reported in `notes`.
        """
        directory = app_dir or default_app_dir()
        if directory is None:
            raise FileNotFoundError("the reference app directory (app/) was not found; pass app_dir")
        definition = backend.client("ecs").describe_task_definition(taskDefinition=task_def_arn)["taskDefinition"]
        container = _pick_container(definition.get("containerDefinitions") or [], container_name)
        notes: list[str] = []

        task_env, secret_errors = _environment_files(backend, container)
        task_env.update({str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or []})
        secret_names: list[str] = []
        for secret in container.get("secrets") or []:
            secret_names.append(str(secret["name"]))
            try:
                task_env[str(secret["name"])] = resolve_secret(backend, str(secret["valueFrom"]))
            except SecretResolutionError as exc:
                secret_errors.append(f"{secret['name']} ← {exc}")

        # Every container port gets a loopback stand-in; so does the port the app itself listens on.
        ports: dict[int, int] = {}
        for mapping in container.get("portMappings") or []:
            port = int(mapping.get("containerPort") or 0)
            if port and port not in ports:
                ports[port] = free_port()
        command = [str(part) for part in [*(container.get("entryPoint") or []), *(container.get("command") or [])]]
        runs_api = not command or _is_api_command(command)
        declared_app_port = task_env.get("APP_PORT")
        listen_port: int | None = None
        env: dict[str, str] = {key: os.environ[key] for key in _INHERITED if key in os.environ}
        env.update(task_env)
        if runs_api:
            container_listen = _port_number(declared_app_port) or IMAGE_DEFAULT_PORT
            if declared_app_port is not None and _port_number(declared_app_port) is None:
                # Left as declared: the app must reject it at start-up, as it would in the container.
                notes.append(f"APP_PORT={declared_app_port!r} passed through unchanged")
            else:
                ports.setdefault(container_listen, free_port())
                listen_port = ports[container_listen]
                env["APP_PORT"] = str(listen_port)
            argv = [sys.executable, "-m", API_MODULE, "--host", "127.0.0.1"]
            if listen_port is not None:
                argv += ["--port", str(listen_port)]
            what = "no command: the image default (gunicorn)" if not command else shlex.join(command)
            notes.append(f"{what} runs as python -m {API_MODULE} on 127.0.0.1")
        else:
            argv = [sys.executable if _is_python(command[0]) else command[0], *command[1:]]
            notes.append(f"command {shlex.join(command)}")
        for container_port, local in sorted(ports.items()):
            notes.append(f"container port {container_port} → 127.0.0.1:{local}")
        if overrides:
            env.update(overrides)
            notes.append("probe settings: " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())))

        env = backend.environ(env)
        # The region is not an identity: a task that declares its own keeps it (a wrong one must show),
        # while credentials and endpoints stay the emulator's.
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if task_env.get(name):
                env[name] = task_env[name]
        env["PYTHONPATH"] = str(directory)
        # As the image sets them: no bytecode writes (read-only root), unbuffered logs.
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        env["PYTHONUNBUFFERED"] = "1"
        # Loopback traffic (the emulator, the probe) must never go through a proxy.
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        return cls(
            task_definition_arn=task_def_arn,
            container_name=str(container.get("name", "")),
            argv=tuple(argv),
            env=env,
            task_env=task_env,
            ports=ports,
            listen_port=listen_port,
            container=container,
            app_dir=directory,
            secret_errors=tuple(secret_errors),
            notes=tuple(notes),
            secret_names=tuple(secret_names),
        )

    @property
    def family_revision(self) -> str:
        return self.task_definition_arn.rsplit("/", 1)[-1]

    def local_port_for(self, container_port: int) -> int | None:
        return self.ports.get(container_port)

    def describe(self) -> str:
        """One line for evidence: which task definition, how it ran, and the port mapping."""
        secrets = f", secrets {', '.join(self.secret_names)}" if self.secret_names else ""
        return f"{self.family_revision} container {self.container_name} ({'; '.join(self.notes)}{secrets})"

    def process(self, *, name: str | None = None, start_timeout: float = 20.0) -> LocalProcess:
        if self.secret_errors:
            # ECS resolves secrets before the container starts; an unresolvable one stops the task.
            raise AppStartError("the task would not start: ECS cannot resolve " + "; ".join(self.secret_errors))
        return LocalProcess(
            self.argv,
            self.env,
            cwd=self.app_dir,
            name=name or self.container_name,
            listen_port=self.listen_port,
            start_timeout=start_timeout,
        )


def _pick_container(containers: Sequence[Mapping[str, Any]], name: str | None) -> Mapping[str, Any]:
    if name is not None:
        for container in containers:
            if container.get("name") == name:
                return container
        raise KeyError(f"the task definition has no container named {name!r}")
    essential = [c for c in containers if c.get("essential", True)]
    with_ports = [c for c in essential if c.get("portMappings")]
    candidates = with_ports or essential or list(containers)
    if not candidates:
        raise KeyError("the task definition has no containers")
    return candidates[0]


class _Pump:
    """Drains one pipe on a thread (so the child never blocks on a full pipe) and keeps the lines."""

    def __init__(self, stream: IO[str], sink: list[str], lock: threading.Lock) -> None:
        self._thread = threading.Thread(target=self._run, args=(stream, sink, lock), daemon=True)
        self._thread.start()

    @staticmethod
    def _run(stream: IO[str], sink: list[str], lock: threading.Lock) -> None:
        for line in stream:
            with lock:
                sink.append(line.rstrip("\n"))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class LocalProcess:
    """A child process with captured output: start, wait until it listens, stop gracefully.

    Used as a context manager; leaving the block sends SIGTERM (what ECS sends on stop), and SIGKILL
    after `stop_grace` seconds if the process is still there.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        name: str = "app",
        listen_port: int | None = None,
        start_timeout: float = 20.0,
        stop_grace: float = 5.0,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.name = name
        self.listen_port = listen_port
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.startup_seconds: float | None = None
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._pumps: list[_Pump] = []

    def __enter__(self) -> LocalProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def tail(self, lines: int = 6) -> str:
        with self._lock:
            kept = [line for line in self._lines if line.strip()][-lines:]
        return " | ".join(kept)

    def spawn(self) -> None:
        """Start the process without waiting for anything."""
        self._process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            process_group=OWN_PROCESS_GROUP,  # see stackprobe.child_process
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._pumps = [
            _Pump(self._process.stdout, self._lines, self._lock),
            _Pump(self._process.stderr, self._lines, self._lock),
        ]

    def start(self) -> float:
        """Spawn, then wait until the listen port accepts connections; returns the seconds that took.

        Raises AppStartError, with the process output, when it exits first or never listens.
        """
        started = time.monotonic()
        self.spawn()
        if self.listen_port is None:
            self.startup_seconds = 0.0
            return 0.0
        deadline = started + self.start_timeout
        while time.monotonic() < deadline:
            code = self._poll()
            if code is not None:
                self._drain()
                raise AppStartError(f"{self.name} exited with code {code} at start-up", self.output, code)
            if _accepts(self.listen_port):
                self.startup_seconds = time.monotonic() - started
                return self.startup_seconds
            time.sleep(0.05)
        self.stop()
        raise AppStartError(
            f"{self.name} did not listen on 127.0.0.1:{self.listen_port} within {self.start_timeout:.0f} s", self.output
        )

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit by itself; stops it and raises TimeoutError after `timeout`."""
        assert self._process is not None
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"{self.name} still running after {timeout:.0f} s") from None
        self.returncode = code
        self._drain()
        return code

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_grace)
        self.returncode = process.returncode
        self._drain()
        return self.returncode

    def _poll(self) -> int | None:
        assert self._process is not None
        return self._process.poll()

    def _drain(self) -> None:
        for pump in self._pumps:
            pump.join(timeout=2.0)


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
