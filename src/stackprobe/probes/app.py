"""Run one container of a deployed ECS task definition locally, the way the user configured it.

moto accepts ECS task definitions and services but starts no container, so what a task would do is
probed by running a local stand-in for the container (`stackprobe.probes.containers`: a COMMAND, or
`docker:IMAGE`) with the environment the deployed task definition declares: its `environmentFiles`
from S3, its `environment`, and its `secrets` resolved from the emulator's Secrets Manager and SSM the
way the ECS agent resolves them at task start (`arn:...:secret:name:json-key:stage:version` included).
A task definition that forgets a variable therefore fails here as it would on Fargate.

The port contract, the same for a COMMAND and an image:
- every `containerPort` of the container gets a free loopback port that stands in for it;
- `PORT` is the stand-in of the port the load balancer sends traffic to (else the first mapped port),
  and `PORT_<containerPort>` that of each mapped port; in COMMAND, `{port}` and `{port:<containerPort>}`
  are replaced by them. A task definition that sets PORT to something other than that container port
  keeps its value, so an app listening on the wrong port fails here as it would behind the ALB.

What else differs from a container, and why:
- A COMMAND runs from the app directory (else the Terraform directory) in a process group of its own,
  with only a few of this machine's variables (PATH, HOME, locale), the directory of stackprobe's
  Python first on PATH (so `python` is the interpreter stackprobe runs under, as in an activated
  virtualenv), and unbuffered Python output (so the last lines survive a crash). Stopping it stops its
  whole process tree.
- The AWS environment is pinned to the emulator (endpoint, dummy credentials, region, as Fargate also
  injects AWS_REGION); a region the task declares is kept, so a wrong one shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.child_process import OWN_PROCESS_GROUP
from stackprobe.probes.containers import ContainerCommand, ContainerConfigError
from stackprobe.probes.health import ContainerCheckResult, local_executor, run_container_check
from stackprobe.probes.process import (
    OUTPUT_LINES,
    AppStartError,
    ContainerCommandError,
    PortTaken,
    accepts,
    describe_exit,
    free_port,
    group_members,
    wait_until_listening,
)

# Only these survive from this process's environment: what a program needs to run at all, never a
# setting the task definition could have been expected to provide.
_INHERITED = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")
_PORT_PLACEHOLDER = re.compile(r"\{port(?::(?P<container_port>\d+))?\}")


class SecretResolutionError(RuntimeError):
    """ECS could not resolve a `secrets` entry; on Fargate the task would stop before the app starts."""


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


def _container(definition: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    containers = definition.get("containerDefinitions") or []
    for container in containers:
        if container.get("name") == name:
            return dict(container)
    names = ", ".join(str(c.get("name")) for c in containers) or "none"
    raise ContainerConfigError(
        f"Task definition {definition.get('taskDefinitionArn')} has no container named {name!r}",
        "configure one of its containers instead.",
        f"Its containers: {names}.",
    )


def _mapped_ports(container: Mapping[str, Any]) -> list[int]:
    ports: list[int] = []
    for mapping in container.get("portMappings") or []:
        port = int(mapping.get("containerPort") or 0)
        if port and port not in ports:
            ports.append(port)
    return ports


def _task_environment(backend: AwsBackend, container: Mapping[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
    """The environment ECS would give the container (environment files, then `environment`, then resolved
    `secrets`), the secrets' names, and what could not be resolved (the task would stop before the app)."""
    task_env, secret_errors = _environment_files(backend, container)
    task_env.update({str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or []})
    secret_names: list[str] = []
    for secret in container.get("secrets") or []:
        secret_names.append(str(secret["name"]))
        try:
            task_env[str(secret["name"])] = resolve_secret(backend, str(secret["valueFrom"]))
        except SecretResolutionError as exc:
            secret_errors.append(f"{secret['name']} ← {exc}")
    return task_env, secret_names, secret_errors


def _stand_in_ports(
    container: Mapping[str, Any], task_env: Mapping[str, str], traffic_port: int | None, choose_port: Callable[[], int]
) -> tuple[dict[int, int], int | None, list[str]]:
    """A free loopback port per container port (PORT_<n>), the one PORT stands in for (the traffic port), and
    notes saying which is which. A PORT the task declares differently is left as declared."""
    mapped = _mapped_ports(container)
    listen = traffic_port if traffic_port else (mapped[0] if mapped else None)
    ports = {
        container_port: choose_port() for container_port in dict.fromkeys([*mapped, *([listen] if listen else [])])
    }
    notes: list[str] = []
    port: int | None = None
    if listen is not None:
        declared = task_env.get("PORT")
        if declared is not None and declared.strip() != str(listen):
            # Left as declared: an app that listens on it misses the load balancer here as on AWS.
            notes.append(f"PORT={declared} as the task declares it (traffic goes to container port {listen})")
        else:
            port = ports[listen]
            notes.append(f"PORT={port} stands in for container port {listen}")
    notes += [f"PORT_{cp}={local} stands in for container port {cp}" for cp, local in ports.items() if cp != listen]
    return ports, port, notes


def _pinned_environment(
    backend: AwsBackend, env: dict[str, str], task_env: Mapping[str, str], how: ContainerCommand, notes: list[str]
) -> dict[str, str]:
    """`env` pinned to the emulator: its credentials and endpoints, the task's own region, no proxy for loopback,
    and this machine's PATH for a local command (the task's is an image's, meaningless here)."""
    env = backend.environ(env)
    # The region is not an identity: a task that declares its own keeps it (a wrong one must show), while
    # credentials and endpoints stay the emulator's.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if task_env.get(name):
            env[name] = task_env[name]
    # Loopback traffic (the emulator, the probe) must never go through a proxy.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if not how.uses_docker:
        if "PATH" in task_env:
            notes.append("the task's PATH is not used here: this machine's PATH is")
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
        env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def expand_command(command: str, ports: Mapping[int, int], traffic_port: int | None, name: str) -> tuple[str, ...]:
    """COMMAND with `{port}` / `{port:N}` replaced by the stand-in ports, split into argv (no shell)."""

    def replace(match: re.Match[str]) -> str:
        wanted = match["container_port"]
        if wanted is None:
            if traffic_port is None:
                raise ContainerConfigError(
                    f"The command of container {name} uses {{port}}, but the container maps no port",
                    "drop {port} from the command, or add a portMappings entry to the container.",
                )
            return str(ports[traffic_port])
        if int(wanted) not in ports:
            raise ContainerConfigError(
                f"The command of container {name} uses {{port:{wanted}}}, but the container maps no port {wanted}",
                f"use one of its container ports: {', '.join(map(str, sorted(ports))) or 'none'}.",
            )
        return str(ports[int(wanted)])

    return tuple(shlex.split(_PORT_PLACEHOLDER.sub(replace, command)))


class RunningContainer(Protocol):
    """A started stand-in for a container: a local process, or a Docker container."""

    name: str
    listen_port: int | None
    startup_seconds: float | None
    returncode: int | None

    @property
    def output(self) -> str: ...

    def tail(self, lines: int = OUTPUT_LINES) -> str: ...

    def start(self) -> float: ...

    def spawn(self) -> None: ...

    def wait(self, timeout: float) -> int: ...

    def stop(self) -> int | None: ...

    def container_check(self, health_check: Mapping[str, Any], to_local: Callable[[int], int]) -> ContainerCheckResult:
        """Run the container's own healthCheck command against this stand-in."""
        ...

    def __enter__(self) -> RunningContainer: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@dataclass(frozen=True)
class TaskLaunch:
    """How one container of a deployed task definition runs here: its environment, ports and stand-in.

    `task_env` is what the container would see from its task definition (environment files,
    `environment`, resolved `secrets`); `env` is the full environment the stand-in runs with (task_env,
    the port variables, the pinned emulator variables and, for a COMMAND, the few inherited ones).
    `ports` maps container ports to the loopback ports standing in for them; `port` is PORT.
    """

    task_definition_arn: str
    how: ContainerCommand
    container: Mapping[str, Any]
    task_env: Mapping[str, str]
    env: Mapping[str, str]
    ports: Mapping[int, int]
    port: int | None
    run_dir: Path
    argv: tuple[str, ...] = ()
    secret_errors: tuple[str, ...] = ()
    secret_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def from_task_definition(
        cls,
        backend: AwsBackend,
        task_def_arn: str,
        how: ContainerCommand,
        *,
        run_dir: Path,
        traffic_port: int | None = None,
        overrides: Mapping[str, str] | None = None,
        choose_port: Callable[[], int] = free_port,
    ) -> TaskLaunch:
        """Read the deployed task definition and build the local launch of container `how.name`.

        `traffic_port` is the container port the load balancer sends traffic to (PORT stands in for it;
        default: the first mapped port). `overrides` are probe settings added on top of the task's
        environment (e.g. a worker's stop-after-N-polls switch); they are reported in `notes`.
        """
        if not how.uses_docker and not run_dir.is_dir():
            raise ContainerConfigError(
                f"The directory container {how.name} should run from does not exist: {run_dir}",
                "point --app-dir (pytest: stackprobe_app_dir) at the directory COMMAND runs from.",
            )
        definition = backend.client("ecs").describe_task_definition(taskDefinition=task_def_arn)["taskDefinition"]
        container = _container(definition, how.name)
        task_env, secret_names, secret_errors = _task_environment(backend, container)
        ports, port, notes = _stand_in_ports(container, task_env, traffic_port, choose_port)
        mapped = _mapped_ports(container)
        listen = traffic_port if traffic_port else (mapped[0] if mapped else None)
        argv: tuple[str, ...] = ()
        if how.uses_docker:
            notes.insert(0, f"image {how.image} (docker, host network)")
            base: dict[str, str] = {}
        else:
            argv = expand_command(how.command, ports, listen, how.name)
            notes.insert(0, f"command `{how.command}` from {run_dir}")
            base = {key: os.environ[key] for key in _INHERITED if key in os.environ}
        port_env = {f"PORT_{container_port}": str(local) for container_port, local in ports.items()}
        if port is not None:
            port_env["PORT"] = str(port)
        env = {**base, **task_env, **port_env}
        if overrides:
            env.update(overrides)
            notes.append("probe settings: " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())))
        env = _pinned_environment(backend, env, task_env, how, notes)
        return cls(
            task_definition_arn=task_def_arn,
            how=how,
            container=container,
            task_env=task_env,
            env=env,
            ports=ports,
            port=port,
            run_dir=run_dir,
            argv=argv,
            secret_errors=tuple(secret_errors),
            secret_names=tuple(secret_names),
            notes=tuple(notes),
        )

    @property
    def container_name(self) -> str:
        return self.how.name

    @property
    def family_revision(self) -> str:
        return self.task_definition_arn.rsplit("/", 1)[-1]

    def local_port_for(self, container_port: int) -> int | None:
        return self.ports.get(container_port)

    def describe(self) -> str:
        """One line for evidence: which task definition, how it ran, and the port mapping."""
        secrets = f"; secrets {', '.join(self.secret_names)}" if self.secret_names else ""
        return f"{self.family_revision} container {self.container_name} ({'; '.join(self.notes)}{secrets})"

    def process(self, *, name: str | None = None, start_timeout: float = 20.0) -> RunningContainer:
        """The stand-in, not started yet (a context manager: leaving it stops the whole tree)."""
        if self.secret_errors:
            # ECS resolves secrets before the container starts; an unresolvable one stops the task.
            raise AppStartError("the task would not start: ECS cannot resolve " + "; ".join(self.secret_errors))
        label = name or self.container_name
        if self.how.uses_docker:
            from stackprobe.probes.docker import DockerRun, DockerSpec

            return DockerRun(
                DockerSpec.from_container(self.how.image, self.env, self.container),
                name=label,
                listen_port=self.port,
                start_timeout=start_timeout,
            )
        return LocalProcess(
            self.argv,
            self.env,
            cwd=self.run_dir,
            name=label,
            listen_port=self.port,
            start_timeout=start_timeout,
            command=self.how.command,
        )


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
    """A COMMAND in a process group of its own, with captured output: start, wait until it listens, stop.

    Used as a context manager; leaving the block sends SIGTERM to the whole group (what ECS sends on
    stop), then SIGKILL after `stop_grace` seconds to whatever is left of it, so nothing it spawned
    outlives the probe.
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
        command: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.name = name
        self.listen_port = listen_port
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.command = command or shlex.join(self.argv)
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

    def tail(self, lines: int = OUTPUT_LINES) -> str:
        with self._lock:
            kept = [line for line in self._lines if line.strip()][-lines:]
        return " | ".join(kept)

    def spawn(self) -> None:
        """Start the process without waiting for anything; a command that cannot start is an error."""
        if not self.argv:
            raise ContainerCommandError(f"Container {self.name} has an empty command", "give it a command to run.")
        try:
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                process_group=OWN_PROCESS_GROUP,  # see stackprobe.child_process
            )
        except OSError as exc:
            found = "not found on PATH" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            raise ContainerCommandError(
                f"The command of container {self.name} cannot start: {self.argv[0]}: {found}",
                "give --container (pytest: stackprobe_containers) a program that exists here; a relative path is "
                f"taken from {self.cwd}, and PATH is {self.env.get('PATH', '')}.",
                f"COMMAND: {self.command}.",
            ) from exc
        assert self._process.stdout is not None and self._process.stderr is not None
        self._pumps = [
            _Pump(self._process.stdout, self._lines, self._lock),
            _Pump(self._process.stderr, self._lines, self._lock),
        ]

    def start(self) -> float:
        """Spawn, then wait until the listen port accepts connections; returns the seconds that took.

        Raises AppStartError, with the process's exit code and output, when it exits first or never
        listens (its process tree is stopped first); PortTaken when the port is in use before it starts.
        """
        if self.listen_port is not None and accepts(self.listen_port):
            raise PortTaken(
                f"127.0.0.1:{self.listen_port}, the port container {self.name} was to listen on, is already taken "
                "by another process",
                "run again (stackprobe picks a free port each time); if it recurs, stop whatever keeps taking "
                "ports in that range.",
            )
        self.spawn()
        if self.listen_port is None:
            self.startup_seconds = 0.0
            return 0.0
        waited = wait_until_listening(self.listen_port, self.start_timeout, lambda: self._poll() is not None, 0.05)
        if waited.seconds is not None:
            self.startup_seconds = waited.seconds
            return waited.seconds
        code = self.stop()
        if waited.exited:
            raise AppStartError(
                f"{self.name} stopped with {describe_exit(code)} before it listened on 127.0.0.1:{self.listen_port}",
                self.output,
                code,
            )
        raise AppStartError(
            f"{self.name} did not listen on 127.0.0.1:{self.listen_port} (PORT) within {self.start_timeout:.0f} s, "
            f"so stackprobe stopped it ({describe_exit(code)}); does COMMAND listen on $PORT or {{port}}?",
            self.output,
            code,
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
        self._stop_group()
        self._drain()
        return code

    def stop(self) -> int | None:
        """SIGTERM to the process group, SIGKILL after the grace period; returns the leader's exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait(timeout=self.stop_grace)
        self.returncode = process.returncode
        self._stop_group()
        self._drain()
        return self.returncode

    def group_alive(self) -> bool:
        """True while any process of the group is left (the leader included; zombies are not)."""
        return self._process is not None and bool(group_members(self._process.pid))

    def container_check(self, health_check: Mapping[str, Any], to_local: Callable[[int], int]) -> ContainerCheckResult:
        return run_container_check(health_check, to_local, local_executor(self.env, self.cwd))

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def _stop_group(self) -> None:
        """What the leader left behind in its group (a child it forked) gets SIGTERM, then SIGKILL."""
        if not self.group_alive():
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.group_alive():
            self._signal_group(signal.SIGKILL)
            while self.group_alive() and time.monotonic() < deadline + self.stop_grace:
                time.sleep(0.05)

    def _poll(self) -> int | None:
        assert self._process is not None
        return self._process.poll()

    def _drain(self) -> None:
        for pump in self._pumps:
            pump.join(timeout=2.0)
