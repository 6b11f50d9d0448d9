"""How the user asked stackprobe to run the containers of the deployed task definitions locally.

moto accepts ECS task definitions and services but runs no task, so every live probe needs a local
stand-in for a container. Which one is configuration, never knowledge of an application: per container
name of the task definitions, either

- `NAME=COMMAND`: COMMAND runs from the app directory (`--app-dir` / `stackprobe_app_dir`; by default
  the Terraform directory) with the container's environment from the task definition and `PORT` set to
  a loopback port standing in for the container port (see `stackprobe.probes.app`); or
- `NAME=docker:IMAGE`: IMAGE runs through testcontainers with the same environment and port contract
  (see `stackprobe.probes.docker`);
- either marked as a stand-in, `NAME=stand-in:COMMAND` (or `stand-in:docker:IMAGE`): a program that
  answers like the container's application but is not its server (a small Python app for a Go gateway).
  Checks that judge the application's configuration still run against it; checks that judge the server
  software itself (`edge.keep-alive`) are not applicable, instead of findings about the stand-in's server.

Given on the command line as `--container NAME=COMMAND` (stackprobe verify/audit/mutate), and in pytest
as the `stackprobe_containers` ini line list or `--stackprobe-container`. A NAME that matches no
container of any deployed task definition (a service's or not) is an error that lists the containers that
exist.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stackprobe.aws.account import Account
from stackprobe.aws.workloads import Workload
from stackprobe.errors import InputError, NotExercisable

DOCKER_PREFIX = "docker:"
STAND_IN_PREFIX = "stand-in:"
# An example COMMAND for hints: the shape of the answer, not a guess at the user's app.
EXAMPLE_COMMAND = "python3 app.py"


class ContainerConfigError(InputError):
    """A `--container` / `stackprobe_containers` entry that cannot be used as written."""


@dataclass(frozen=True)
class ContainerCommand:
    """How to run one container locally: a command line, or an image (`docker:IMAGE`); `stand_in` when the
    user says it is not the container's own server (`stand-in:`)."""

    name: str
    command: str = ""
    image: str = ""
    stand_in: bool = False

    @classmethod
    def parse(cls, name: str, value: str) -> ContainerCommand:
        name, value = name.strip(), value.strip()
        setting = f"{name}={value}"
        if not name:
            raise ContainerConfigError(
                f"The container setting {setting!r} names no container", "write it as NAME=COMMAND."
            )
        stand_in = value.startswith(STAND_IN_PREFIX)
        value = value.removeprefix(STAND_IN_PREFIX).strip()
        if value.startswith(DOCKER_PREFIX):
            image = value.removeprefix(DOCKER_PREFIX).strip()
            if not image:
                raise ContainerConfigError(
                    f"The container setting {setting!r} names no image", f"write it as {name}=docker:IMAGE[:TAG]."
                )
            return cls(name, image=image, stand_in=stand_in)
        if not value:
            raise ContainerConfigError(
                f"The container setting {setting!r} has no command",
                f"write it as {name}=COMMAND (for example {name}={EXAMPLE_COMMAND}) or {name}=docker:IMAGE.",
            )
        try:
            shlex.split(value)
        except ValueError as exc:
            raise ContainerConfigError(
                f"The command of container {name} cannot be split into words ({exc}): {value}",
                "close the quote; COMMAND is split like a shell would split it, but no shell runs it.",
            ) from exc
        return cls(name, command=value, stand_in=stand_in)

    @property
    def uses_docker(self) -> bool:
        return bool(self.image)

    @property
    def setting(self) -> str:
        """As the user wrote it: `NAME=COMMAND` or `NAME=docker:IMAGE`, after `stand-in:` when marked."""
        how = f"{DOCKER_PREFIX}{self.image}" if self.image else self.command
        return f"{self.name}={STAND_IN_PREFIX if self.stand_in else ''}{how}"


@dataclass(frozen=True)
class DeployedContainer:
    """A container of a deployed task definition, and the service that runs it (None: no service does)."""

    name: str
    task_definition_arn: str
    workload: Workload | None = None

    @property
    def label(self) -> str:
        family = self.task_definition_arn.rsplit("/", 1)[-1]
        runner = f"service {self.workload.label}" if self.workload is not None else "no service runs it"
        return f"{self.name} ({family}, {runner})"


def deployed_containers(
    workloads: Iterable[Workload], definitions: Iterable[Mapping[str, Any]] = ()
) -> list[DeployedContainer]:
    """The containers of the services' task definitions, then those of the other `definitions`."""
    found = [
        DeployedContainer(str(container["name"]), workload.task_definition_arn, workload)
        for workload in workloads
        for container in workload.containers
        if container.get("name")
    ]
    served = {c.task_definition_arn for c in found}
    found += [
        DeployedContainer(str(container["name"]), str(definition["taskDefinitionArn"]))
        for definition in definitions
        if definition.get("taskDefinitionArn") not in served
        for container in definition.get("containerDefinitions") or []
        if container.get("name")
    ]
    return found


def parse_commands(settings: Mapping[str, str]) -> dict[str, ContainerCommand]:
    return {name: ContainerCommand.parse(name, value) for name, value in settings.items()}


def containers_to_run(
    settings: Mapping[str, str], workloads: Sequence[Workload], definitions: Sequence[Mapping[str, Any]] = ()
) -> dict[str, ContainerCommand]:
    """The configured containers by name, once each name is known to be a container of `workloads` or of
    the other task `definitions` deployed.

    Raises ContainerConfigError for a name no deployed task definition has (listing those it has), and
    for a setting that cannot be used. With no task definition deployed nothing is checked: the live
    checks have nothing to run, and a stack without services is not a configuration mistake.
    """
    commands = parse_commands(settings)
    deployed = deployed_containers(workloads, definitions)
    known = {c.name for c in deployed}
    unknown = sorted(set(commands) - known)
    if unknown and deployed:
        existing = "; ".join(c.label for c in deployed)
        first = deployed[0].name
        raise ContainerConfigError(
            f"No container of the deployed task definitions is named {', '.join(repr(n) for n in unknown)}",
            f"name one of the containers that exist: --container {first}=COMMAND (pytest: stackprobe_containers "
            f'= ["{first}=COMMAND"]).',
            f"The deployed containers are: {existing}.",
        )
    return commands


def check_planned_names(settings: Mapping[str, str], planned: Mapping[str, Sequence[str]]) -> None:
    """Before any apply: raise ContainerConfigError for a configured name that no planned task definition
    (`planned`: family -> its container names, all known at plan time) has. An unknown name would otherwise
    cost a whole apply before the live checks find it."""
    known = {name for names in planned.values() for name in names}
    unknown = sorted(set(parse_commands(settings)) - known)
    if unknown and known:
        existing = "; ".join(
            f"{name} (task definition {family})" for family, names in planned.items() for name in names
        )
        first = next(name for names in planned.values() for name in names)
        raise ContainerConfigError(
            f"No container of the planned task definitions is named {', '.join(repr(n) for n in unknown)}",
            f"name one of the containers that exist: --container {first}=COMMAND (pytest: stackprobe_containers "
            f'= ["{first}=COMMAND"]).',
            f"The planned containers are: {existing}. Nothing was applied.",
        )


class ConfiguredRun(Protocol):
    """Where the user's container settings live, and the account they name containers of (a CheckContext)."""

    @property
    def container_commands(self) -> Mapping[str, str]: ...

    @property
    def app_dir(self) -> Path | None: ...

    @property
    def source_dir(self) -> Path | None: ...

    @property
    def account(self) -> Account: ...


@dataclass(frozen=True)
class StandIns:
    """The containers the user said how to run, and the directory their commands run from."""

    commands: Mapping[str, ContainerCommand]
    run_dir: Path
    # Every container of a deployed task definition, a service's or not (for what is and is not probed).
    deployed: tuple[DeployedContainer, ...] = ()

    @classmethod
    def configured(cls, run: ConfiguredRun, workloads: Sequence[Workload]) -> StandIns:
        """Raises ContainerConfigError for a setting that names no deployed container (see containers_to_run)."""
        ecs = run.account.ecs
        definitions = [ecs.task_definition(arn) for arn in ecs.task_definition_arns()] if run.container_commands else []
        commands = containers_to_run(run.container_commands, workloads, definitions)
        deployed = tuple(deployed_containers(workloads, definitions))
        return cls(commands, run.app_dir or run.source_dir or Path.cwd(), deployed)

    def command(self, name: str) -> ContainerCommand | None:
        return self.commands.get(name)

    def missing(self, names: Iterable[str]) -> list[str]:
        return sorted({name for name in names if name not in self.commands})

    def without_service(self) -> list[DeployedContainer]:
        """The configured containers that only task definitions no service runs have (one-off tasks)."""
        served = {c.name for c in self.deployed if c.workload is not None}
        return [c for c in self.deployed if c.workload is None and c.name in self.commands and c.name not in served]

    def require_engine_for(self, names: Iterable[str]) -> None:
        """Raise NotExercisable when one of `names` runs an image and no Docker engine answers here."""
        images = [self.commands[name] for name in sorted(set(names)) if name in self.commands]
        images = [command for command in images if command.uses_docker]
        if not images:
            return
        from stackprobe.probes.docker import docker_unavailable_reason

        reason = docker_unavailable_reason()
        if reason is not None:
            settings = ", ".join(command.setting for command in images)
            raise NotExercisable(
                f"{settings} runs an image, and {reason}; run it where a Docker engine answers, or give the "
                "container a COMMAND instead"
            )


def enable_hint(names: Sequence[str], run_dir: Path | None) -> str:
    """The exact settings that would let the live probes run `names`, for a not-applicable message."""
    where = f"from {run_dir}" if run_dir is not None else "from the Terraform directory (or --app-dir)"
    flags = " ".join(f"--container '{name}={EXAMPLE_COMMAND}'" for name in names)
    lines = ", ".join(f'"{name}={EXAMPLE_COMMAND}"' for name in names)
    return (
        f"say how to run {'it' if len(names) == 1 else 'them'} locally: `stackprobe verify DIR {flags}`, or in "
        f"pytest, under [tool.pytest.ini_options]: `stackprobe_containers = [{lines}]`; COMMAND runs {where} with "
        "the container's environment from its task definition and PORT set to the port to listen on "
        "({port} in COMMAND is replaced by it); NAME=docker:IMAGE runs an image instead, and NAME=stand-in:COMMAND "
        "says that COMMAND only answers like the container's server"
    )
