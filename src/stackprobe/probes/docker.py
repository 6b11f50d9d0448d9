"""Run a container's image through testcontainers, with the same environment and port contract as a COMMAND.

`--container NAME=docker:IMAGE` runs IMAGE instead of a local command: with the environment the task
definition gives the container (`stackprobe.probes.app.TaskLaunch`, without this machine's PATH or
HOME, with the proxy variables of its network guard, `stackprobe.probes.egress`), the task definition's
`entryPoint`, `command`, `workingDirectory` and `user`, and PORT set to the loopback port that stands in
for the container port.

Why the host's network: the emulator listens on 127.0.0.1 only (the guard refuses anything else), and a
container on Docker's bridge network cannot reach the host's loopback. On the host's network the
container reaches the emulator at the endpoint a COMMAND uses, and listens on PORT as a COMMAND does, so
the image must listen on $PORT (or the task definition's command must pass it on). Docker Desktop runs
containers in a VM, where the host network is the VM's: there, use a COMMAND instead.

Without a Docker engine the probe cannot run at all: `docker_unavailable_reason` says why, and the live
checks report themselves skipped with it (NotExercisable), never passed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from stackprobe.probes.egress import EgressProxy
from stackprobe.probes.health import ContainerCheckResult, run_container_check
from stackprobe.probes.output import last_lines
from stackprobe.probes.process import (
    OUTPUT_LINES,
    AppStartError,
    ContainerCommandError,
    PortTaken,
    StopRecord,
    accepts,
    crashed,
    describe_exit,
    wait_until_listening,
)
from stackprobe.probes.tls import CA_VARIABLES

HOST_NETWORK = "host"
# What Docker reports for a container SIGKILL ended (128 + 9).
KILLED_EXIT_CODE = 137


def docker_unavailable_reason() -> str | None:
    """Why no Docker engine can run an image here, or None when one answers."""
    try:
        from testcontainers.core.docker_client import DockerClient

        client = DockerClient(timeout=10)
    except Exception as exc:  # docker raises DockerException, requests errors, or a missing socket
        return f"no Docker engine answers here ({type(exc).__name__}: {exc})"
    try:
        client.client.ping()
    except Exception as exc:
        return f"no Docker engine answers here ({type(exc).__name__}: {exc})"
    finally:
        client.client.close()
    return None


@dataclass(frozen=True)
class DockerSpec:
    """What is handed to testcontainers (and through it to `docker create`) for one container."""

    image: str
    environment: Mapping[str, str]
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_dir: str | None = None
    user: str | None = None
    network: str = HOST_NETWORK

    @classmethod
    def from_container(cls, image: str, environment: Mapping[str, str], container: Mapping[str, Any]) -> DockerSpec:
        """The spec of a task definition's `container`, run from `image` with `environment` (already resolved)."""
        entrypoint = container.get("entryPoint")
        command = container.get("command")
        return cls(
            image=image,
            environment=dict(environment),
            entrypoint=tuple(str(part) for part in entrypoint) if entrypoint else None,
            command=tuple(str(part) for part in command) if command else None,
            working_dir=str(container["workingDirectory"]) if container.get("workingDirectory") else None,
            user=str(container["user"]) if container.get("user") else None,
        )

    def create_arguments(self) -> dict[str, Any]:
        """`docker create` arguments beyond image and environment (docker-py's names)."""
        arguments: dict[str, Any] = {"network": self.network}
        if self.command is not None:
            arguments["command"] = list(self.command)
        if self.entrypoint is not None:
            arguments["entrypoint"] = list(self.entrypoint)
        if self.working_dir is not None:
            arguments["working_dir"] = self.working_dir
        if self.user is not None:
            arguments["user"] = self.user
        return arguments

    def container(self, extra_environment: Mapping[str, str] | None = None) -> Any:
        """The testcontainers container (not started), with `extra_environment` added; creating it needs an engine."""
        from testcontainers.core.container import DockerContainer

        arguments = self.create_arguments()
        command = arguments.pop("command", None)
        environment = {**self.environment, **(extra_environment or {})}
        container = DockerContainer(self.image, command=command, env=environment, **arguments)
        for directory in ca_directories(environment):
            container.with_volume_mapping(directory, directory, "ro")
        return container


def ca_directories(environment: Mapping[str, str]) -> list[str]:
    """The host directories holding the CA bundles `environment` names: the guard's CA lives in a file on
    this machine, which the container sees only when mounted read-only at the same path."""
    return sorted({str(Path(environment[name]).parent) for name in CA_VARIABLES if environment.get(name)})


def within(timeout: float, call: Callable[[], tuple[int, bytes]]) -> tuple[int | None, str]:
    """(exit code, output) of `call` (a docker exec or wait, which have no timeout of their own), or
    (None, why) when it has not returned after `timeout` seconds."""
    outcome: list[tuple[int, bytes]] = []
    worker = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return None, f"no exit within {timeout:g} s"
    code, output = outcome[0]
    return code, output.decode(errors="replace")


class DockerRun:
    """A started container with the same surface as `stackprobe.probes.local.LocalProcess`."""

    def __init__(
        self,
        spec: DockerSpec,
        *,
        name: str,
        listen_port: int | None,
        start_timeout: float = 60.0,
        stop_grace: float = 10.0,
        egress: EgressProxy | None = None,
        crash_remedy: str = "",
    ) -> None:
        self.spec = spec
        self.egress = egress
        self.crash_remedy = crash_remedy
        self.name = name
        self.listen_port = listen_port
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.startup_seconds: float | None = None
        self.returncode: int | None = None
        # Set by stop() when the container was still running: how it ended (see StopRecord).
        self.stop_record: StopRecord | None = None
        self._container: Any = None
        self._logs = ""

    def __enter__(self) -> DockerRun:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def output(self) -> str:
        if self._container is not None:
            self._logs = self._read_logs()
        return self._logs

    def tail(self, lines: int = OUTPUT_LINES) -> str:
        return last_lines(self.output, lines)

    def spawn(self) -> None:
        guard = self.egress.start() if self.egress is not None else {}
        try:
            self._container = self.spec.container(guard).start()
        except Exception as exc:  # an image that cannot be pulled or created: docker raises its own errors
            self._release()
            raise ContainerCommandError(
                f"The image of container {self.name} cannot start: {self.spec.image}: {type(exc).__name__}: {exc}",
                "name an image the Docker engine can pull or already has.",
            ) from exc

    def start(self) -> float:
        if self.listen_port is not None and accepts(self.listen_port):
            raise PortTaken(
                f"127.0.0.1:{self.listen_port}, the port container {self.name} was to listen on, is already taken",
                "run again (stackprobe picks a free port each time).",
            )
        # Waited for from the container's start: pulling the image is not the app's start-up time.
        self.spawn()
        if self.listen_port is None:
            self.startup_seconds = 0.0
            return 0.0
        waited = wait_until_listening(self.listen_port, self.start_timeout, self._exited, 0.2)
        if waited.seconds is not None:
            self.startup_seconds = waited.seconds
            return waited.seconds
        code = self.stop()
        if waited.exited:
            raise AppStartError(
                f"{self.name} ({self.spec.image}) {crashed(code)} before it listened on "
                f"127.0.0.1:{self.listen_port} ({describe_exit(code)})",
                self._logs,
                code,
                self.crash_remedy,
            )
        raise AppStartError(
            f"{self.name} ({self.spec.image}) did not listen on 127.0.0.1:{self.listen_port} (PORT) within "
            f"{self.start_timeout:.0f} s, so stackprobe stopped it ({describe_exit(code)}); does the image listen "
            "on $PORT?",
            self._logs,
            code,
        )

    def _exited(self) -> bool:
        return self.poll() is not None

    def poll(self) -> int | None:
        """The exit code once the container has ended, else None."""
        if self._container is None:
            return self.returncode  # stopped (and removed) by stackprobe
        wrapped = self._container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status not in ("exited", "dead"):
            return None
        return int(wrapped.attrs["State"]["ExitCode"])

    def wait(self, timeout: float) -> int:
        code, _ = within(timeout, lambda: (int(self._container.wait()), b""))
        if code is None:
            self.stop()
            raise TimeoutError(f"{self.name} still running after {timeout:.0f} s")
        self.returncode = code
        self._logs = self._read_logs()
        self._release()
        return self.returncode

    def stop(self) -> int | None:
        if self._container is None:
            self._release()
            return None
        wrapped = self._container.get_wrapped_container()
        try:
            running = self.poll() is None
            signalled = time.monotonic()
            # Docker's stop is ECS's: SIGTERM, then SIGKILL once the timeout has passed.
            wrapped.stop(timeout=int(self.stop_grace))
            seconds = time.monotonic() - signalled
            wrapped.reload()
            self.returncode = int(wrapped.attrs["State"]["ExitCode"])
            if running:
                killed = self.returncode == KILLED_EXIT_CODE and seconds >= int(self.stop_grace)
                self.stop_record = StopRecord(seconds, self.stop_grace, self.returncode, killed)
            self._logs = self._read_logs()
        finally:
            self._container.stop()
            self._container = None
            self._release()
        return self.returncode

    def container_check(
        self, health_check: Mapping[str, Any], to_local: Callable[[int], int], start_period: float = 0.0
    ) -> ContainerCheckResult:
        def execute(argv: list[str], timeout: float) -> tuple[int | None, str]:
            def run() -> tuple[int, bytes]:
                result = self._container.exec(argv)
                return int(result.exit_code), bytes(result.output or b"")

            return within(timeout, run)

        return run_container_check(health_check, to_local, execute, start_period=start_period)

    def _read_logs(self) -> str:
        stdout, stderr = self._container.get_logs()
        return str((stdout + stderr).decode(errors="replace"))

    def _release(self) -> None:
        """The guard stops with the container (its record stays readable)."""
        if self.egress is not None:
            self.egress.close()
