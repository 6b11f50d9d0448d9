"""Run one container of a deployed ECS task definition locally, the way the user configured it.

moto accepts ECS task definitions and services but starts no container, so what a task would do is
probed by running a local stand-in for the container (`stackprobe.probes.containers`: a COMMAND, or
`docker:IMAGE`) with the environment the deployed task definition declares (`stackprobe.probes.environment`:
environment files, `environment`, `secrets` resolved from the emulator, pinned to the emulator).

The port contract, the same for a COMMAND and an image:
- every container port of the task gets a free loopback port that stands in for it (for a task of one
  container, its own ports; `stackprobe.probes.task` allocates them for a whole task);
- `PORT` is the stand-in of the port the load balancer sends traffic to (else the container's first mapped
  port), and `PORT_<containerPort>` that of each port of the task, a sibling's included; in COMMAND,
  `{port}` and `{port:<containerPort>}` are replaced by them. A task definition that sets PORT to something
  other than that container port keeps its value, so an app listening on the wrong port fails here as it
  would behind the ALB;
- `localhost:<containerPort>` (and `127.0.0.1:`, `0.0.0.0:`) in the task's variables is rewritten to the
  stand-in port, as are the other addresses of the launch's `AddressMap` (`stackprobe.probes.addresses`).

A started stand-in (`process()`: `stackprobe.probes.local.LocalProcess`, or `stackprobe.probes.docker.DockerRun`)
runs behind its own network guard (`stackprobe.probes.egress`). Evidence says what was measured
(`describe()`): the command or image, the directory, the container it stood for and that container's image,
and whether it is a stand-in (`stand-in:`, or evidently another server: `stackprobe.probes.servers`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from stackprobe.backends.base import AwsBackend
from stackprobe.probes.addresses import AddressMap
from stackprobe.probes.containers import ContainerCommand, ContainerConfigError
from stackprobe.probes.egress import EgressProxy
from stackprobe.probes.environment import inherited_environment, pinned_environment, task_environment
from stackprobe.probes.health import ContainerCheckResult
from stackprobe.probes.local import LocalProcess
from stackprobe.probes.process import OUTPUT_LINES, AppStartError, StopRecord, free_port
from stackprobe.probes.servers import evident_mismatch
from stackprobe.probes.tls import CA_VARIABLES

# What ECS waits between SIGTERM and SIGKILL when a container definition sets no stopTimeout.
ECS_STOP_TIMEOUT = 30.0
_PORT_PLACEHOLDER = re.compile(r"\{port(?::(?P<container_port>\d+))?\}")
# Container port -> (the container that maps it, the loopback port standing in for it).
TaskPorts = Mapping[int, tuple[str, int]]


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


def mapped_ports(container: Mapping[str, Any]) -> list[int]:
    ports: list[int] = []
    for mapping in container.get("portMappings") or []:
        port = int(mapping.get("containerPort") or 0)
        if port and port not in ports:
            ports.append(port)
    return ports


def listen_port(container: Mapping[str, Any], traffic_port: int | None) -> int | None:
    """The container port PORT stands in for: the load balancer's, else the first mapped one."""
    mapped = mapped_ports(container)
    return traffic_port if traffic_port else (mapped[0] if mapped else None)


def own_ports(container: Mapping[str, Any], traffic_port: int | None) -> list[int]:
    """The container ports a container needs stand-ins for: those it maps, and the traffic port."""
    listen = listen_port(container, traffic_port)
    return list(dict.fromkeys([*mapped_ports(container), *([listen] if listen else [])]))


def _port_variables(
    name: str, task_env: Mapping[str, str], listen: int | None, ports: TaskPorts
) -> tuple[dict[str, str], int | None, list[str]]:
    """PORT and PORT_<n> for every port of the task, the local port PORT is (None: the task sets its own), and
    notes saying which is which. A PORT the task declares differently is left as declared."""
    env = {f"PORT_{container_port}": str(local) for container_port, (_, local) in ports.items()}
    notes: list[str] = []
    port: int | None = None
    if listen is not None:
        declared = task_env.get("PORT")
        if declared is not None and declared.strip() != str(listen):
            # Left as declared: an app that listens on it misses the load balancer here as on AWS.
            notes.append(f"PORT={declared} as the task declares it (traffic goes to container port {listen})")
        else:
            port = ports[listen][1]
            env["PORT"] = str(port)
            notes.append(f"PORT={port} stands in for container port {listen}")
    for container_port, (owner, local) in ports.items():
        if container_port == listen:
            continue
        whose = "" if owner == name else f" of container {owner}"
        notes.append(f"PORT_{container_port}={local} stands in for container port {container_port}{whose}")
    return env, port, notes


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


class TrustingGuard(EgressProxy):
    """A network guard whose CA bundle also holds `trusted` certificates (the local datastores' authority), so a
    client that verifies the TLS servers standing in for RDS or ElastiCache accepts them."""

    def __init__(self, emulator: str, trusted: tuple[str, ...] = ()) -> None:
        super().__init__(emulator)
        self.trusted = trusted

    def start(self) -> dict[str, str]:
        variables = super().start()
        if not self.trusted or self.authority.directory is None:
            return variables
        bundle = self.authority.directory / "with-local-datastores.pem"
        if not bundle.exists():
            parts = [Path(variables[CA_VARIABLES[0]]).read_bytes(), *(Path(p).read_bytes() for p in self.trusted)]
            bundle.write_bytes(b"\n".join(parts))
        return {**variables, **dict.fromkeys(CA_VARIABLES, str(bundle))}


class RunningContainer(Protocol):
    """A started stand-in for a container: a local process, or a Docker container."""

    name: str
    listen_port: int | None
    startup_seconds: float | None
    returncode: int | None
    egress: EgressProxy | None
    stop_record: StopRecord | None

    @property
    def output(self) -> str: ...

    def tail(self, lines: int = OUTPUT_LINES) -> str: ...

    def start(self) -> float: ...

    def spawn(self) -> None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float) -> int: ...

    def stop(self) -> int | None: ...

    def container_check(
        self, health_check: Mapping[str, Any], to_local: Callable[[int], int], start_period: float = 0.0
    ) -> ContainerCheckResult:
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
    `environment`, resolved `secrets`), as declared; `env` is the full environment the stand-in runs with
    (task_env with its addresses rewritten, the port variables, the pinned emulator variables and, for a
    COMMAND, the few inherited ones). `ports` maps every container port of the task to the loopback port
    standing in for it; `port` is PORT.
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
    # CA certificates the container trusts besides its guard's: those of the local TLS servers it is given.
    trusted: tuple[str, ...] = ()

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
        addresses: AddressMap | None = None,
    ) -> TaskLaunch:
        """Read the deployed task definition and build the local launch of container `how.name` alone.

        `traffic_port` is the container port the load balancer sends traffic to (PORT stands in for it;
        default: the first mapped port). `overrides` are probe settings added on top of the task's
        environment (e.g. a worker's stop-after-N-polls switch); they are reported in `notes`. `addresses`
        (the local datastores', `stackprobe.datastores.access_for`) are rewritten besides the loopback ones.
        """
        definition = backend.client("ecs").describe_task_definition(taskDefinition=task_def_arn)["taskDefinition"]
        container = _container(definition, how.name)
        ports = {port: (how.name, choose_port()) for port in own_ports(container, traffic_port)}
        served = AddressMap.loopback(ports).merged(addresses) if addresses is not None else None
        return cls.build(
            backend,
            definition,
            how,
            run_dir=run_dir,
            ports=ports,
            traffic_port=traffic_port,
            overrides=overrides,
            addresses=served,
        )

    @classmethod
    def build(
        cls,
        backend: AwsBackend,
        definition: Mapping[str, Any],
        how: ContainerCommand,
        *,
        run_dir: Path,
        ports: TaskPorts,
        traffic_port: int | None = None,
        overrides: Mapping[str, str] | None = None,
        addresses: AddressMap | None = None,
    ) -> TaskLaunch:
        """The launch of container `how.name` of `definition`, with the task's `ports` (see TaskPorts, which
        must hold this container's `own_ports`) and `addresses` rewritten in its variables (default: the
        loopback addresses of `ports`)."""
        if not how.uses_docker and not run_dir.is_dir():
            raise ContainerConfigError(
                f"The directory container {how.name} should run from does not exist: {run_dir}",
                "point --app-dir (pytest: stackprobe_app_dir) at the directory COMMAND runs from.",
            )
        container = _container(definition, how.name)
        task_env, secret_names, secret_errors = task_environment(backend, container)
        listen = listen_port(container, traffic_port)
        port_env, port, notes = _port_variables(how.name, task_env, listen, ports)
        local_ports = {container_port: local for container_port, (_, local) in ports.items()}
        argv = () if how.uses_docker else expand_command(how.command, local_ports, listen, how.name)
        served = addresses or AddressMap.loopback(ports)
        rewritten, rewrites = served.rewrite(task_env)
        env = {**({} if how.uses_docker else inherited_environment()), **rewritten, **port_env}
        notes += rewrites
        if served.trust:
            notes.append("its TLS clients trust the local datastores' certificate authority besides the guard's")
        if overrides:
            env.update(overrides)
            notes.append("probe settings: " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())))
        env, pinned = pinned_environment(backend, env, task_env, local_command=not how.uses_docker)
        return cls(
            task_definition_arn=str(definition["taskDefinitionArn"]),
            how=how,
            container=container,
            task_env=task_env,
            env=env,
            ports=local_ports,
            port=port,
            run_dir=run_dir,
            argv=argv,
            secret_errors=tuple(secret_errors),
            secret_names=tuple(secret_names),
            notes=tuple(notes + pinned),
            trusted=served.trust,
        )

    @property
    def container_name(self) -> str:
        return self.how.name

    @property
    def family_revision(self) -> str:
        return self.task_definition_arn.rsplit("/", 1)[-1]

    @property
    def image(self) -> str:
        """The image the task definition runs for this container (what the stand-in stands in for)."""
        return str(self.container.get("image") or "")

    @property
    def stand_in_reason(self) -> str | None:
        """Why the process run here is not the container's own server: marked `stand-in:`, or evidently
        another server than the task's image; None when nothing says so."""
        if self.how.stand_in:
            return f"{self.how.setting} is marked as a stand-in"
        return evident_mismatch(self.image, self.how.command, self.how.image)

    def local_port_for(self, container_port: int) -> int | None:
        return self.ports.get(container_port)

    def describe(self) -> str:
        """One line for evidence: which container of which task definition and image, what measured it (the command
        and its directory, or the image run instead), whether that is a stand-in, and the ports and rewrites."""
        image = f"image {self.image}" if self.image else "no image declared"
        if self.how.uses_docker:
            measured = f"image {self.how.image} (docker, host network)"
        else:
            measured = f"`{self.how.command}` run from {self.run_dir}"
        stand_in = f", a stand-in: {self.stand_in_reason}" if self.stand_in_reason else ""
        details = [*self.notes, *([f"secrets {', '.join(self.secret_names)}"] if self.secret_names else [])]
        shown = f" ({'; '.join(details)})" if details else ""
        return (
            f"{self.family_revision} container {self.container_name} ({image}) measured as {measured}{stand_in}{shown}"
        )

    def process(self, *, name: str | None = None, start_timeout: float = 20.0) -> RunningContainer:
        """The stand-in, not started yet (a context manager: leaving it stops the whole tree and its guard)."""
        if self.secret_errors:
            # ECS resolves secrets before the container starts; an unresolvable one stops the task.
            raise AppStartError("the task would not start: ECS cannot resolve " + "; ".join(self.secret_errors))
        label = name or self.container_name
        egress = TrustingGuard(self.env["AWS_ENDPOINT_URL"], self.trusted)
        # Stopped as ECS stops a container: SIGTERM, then SIGKILL after its stopTimeout. A worker killed sooner,
        # in the middle of an SQS long poll, leaves the receive open on the emulator, which then hands the next
        # message to a process that no longer exists (hidden for the visibility timeout from every later probe).
        stop_grace = float(self.container.get("stopTimeout") or ECS_STOP_TIMEOUT)
        if self.how.uses_docker:
            from stackprobe.probes.docker import DockerRun, DockerSpec

            return DockerRun(
                DockerSpec.from_container(self.how.image, self.env, self.container),
                name=label,
                listen_port=self.port,
                start_timeout=start_timeout,
                stop_grace=stop_grace,
                egress=egress,
                crash_remedy=self.crash_remedy(),
            )
        return LocalProcess(
            self.argv,
            self.env,
            cwd=self.run_dir,
            name=label,
            listen_port=self.port,
            start_timeout=start_timeout,
            command=self.how.command,
            stop_grace=stop_grace,
            egress=egress,
            crash_remedy=self.crash_remedy(),
        )

    def crash_remedy(self) -> str:
        """What to do about a crash at start: the command and the variables it was given (names only)."""
        what = f"image {self.how.image}" if self.how.uses_docker else f"`{self.how.command}` (from {self.run_dir})"
        declared = ", ".join(sorted(self.task_env)) or "none"
        ports = ", ".join(sorted(name for name in self.env if name == "PORT" or name.startswith("PORT_"))) or "none"
        return (
            f"find out why {what} stops with the environment it was given: the task definition's variables "
            f"({declared}), the port variables ({ports}) and the emulator's AWS_* settings (names only). A variable "
            "it needs and the task definition lacks must be added to the task definition; a crash with all of "
            "them is the command's or the application's own"
        )
