"""A whole task here: its configured containers started together, in `dependsOn` order, sharing loopback.

ECS starts the containers of a task together, each once the containers it depends on have reached the
condition it names: START (started), HEALTHY (its healthCheck passed), COMPLETE (it exited) or SUCCESS
(it exited 0). With awsvpc networking (Fargate's only mode) they share one network namespace: a sidecar
listening on 6379 is `localhost:6379` to its siblings.

Here, loopback is shared by rewriting, not by a namespace (that would need privileges this machine's
user may not have):
- every container port of the task (whichever container maps it, configured or not) gets one free
  loopback port that stands in for it; every container is given `PORT_<n>` for all of them, and
  `localhost:<n>` / `127.0.0.1:<n>` / `0.0.0.0:<n>` in its variables is rewritten to it
  (`stackprobe.probes.addresses`). A sibling is therefore reached at the address the task definition
  gives the container; an address written in the program itself (`redis.Redis("localhost", 6379)`) is
  not rewritten and misses it: pass it through a variable, as the task definition then documents it;
- START waits until the dependency listens on its first mapped port, when it maps one: stricter than
  ECS (which waits for the process only), so that a start-up race ECS lets through now and then does not
  decide a verdict here either way;
- a container nobody configured (`--container`) is not started; one that depends on it starts anyway,
  and its notes say which dependency did not run here;
- containers stop in the reverse order they started, as ECS stops them.

A task definition ECS would not start (a dependsOn cycle, a dependency it does not have, HEALTHY on a
container without healthCheck) is a `TaskDefinitionError` that names the problem, before anything starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from stackprobe.aws.workloads import Workload
from stackprobe.backends.base import AwsBackend
from stackprobe.probes.addresses import AddressMap
from stackprobe.probes.app import RunningContainer, TaskLaunch, TaskPorts, own_ports
from stackprobe.probes.containers import StandIns
from stackprobe.probes.health import ContainerCheckResult
from stackprobe.probes.process import AppStartError, accepts, describe_exit, free_port

CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
# How long a COMPLETE or SUCCESS dependency may run when its container sets no startTimeout, and the most
# any dependency is waited for here.
DEFAULT_DEPENDENCY_SECONDS = 60.0
MAX_DEPENDENCY_SECONDS = 120.0
# The longest part of a startPeriod waited out here (ECS allows 300 s).
MAX_START_PERIOD_SECONDS = 30.0


class TaskDefinitionError(ValueError):
    """A task ECS would not start as defined; the message names the containers involved."""


@dataclass(frozen=True)
class Dependency:
    container: str
    condition: str


def dependencies(container: Mapping[str, Any]) -> list[Dependency]:
    return [
        Dependency(str(entry.get("containerName")), str(entry.get("condition") or "START").upper())
        for entry in container.get("dependsOn") or []
    ]


def start_order(containers: Sequence[Mapping[str, Any]]) -> list[str]:
    """The container names with each after those it depends on (else in definition order).

    Raises TaskDefinitionError for a dependency the task does not have, an unknown condition, HEALTHY on a
    container without healthCheck, and a cycle (named: `a → b → a`).
    """
    by_name = {str(c.get("name")): c for c in containers}
    for name, container in by_name.items():
        for dependency in dependencies(container):
            if dependency.container not in by_name:
                raise TaskDefinitionError(f"container {name} dependsOn {dependency.container}, which the task lacks")
            if dependency.condition not in CONDITIONS:
                raise TaskDefinitionError(
                    f"container {name} dependsOn {dependency.container} with condition {dependency.condition}, "
                    f"not one of {', '.join(CONDITIONS)}"
                )
            if dependency.condition == "HEALTHY" and not by_name[dependency.container].get("healthCheck"):
                raise TaskDefinitionError(
                    f"container {name} waits for {dependency.container} to be HEALTHY, which has no healthCheck"
                )
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            raise TaskDefinitionError(f"the containers' dependsOn form a cycle: {' → '.join(cycle)}")
        visiting.append(name)
        for dependency in dependencies(by_name[name]):
            visit(dependency.container)
        visiting.pop()
        order.append(name)

    for name in by_name:
        visit(name)
    return order


def task_ports(
    containers: Sequence[Mapping[str, Any]], traffic_ports: Mapping[str, int], choose_port: Callable[[], int]
) -> dict[int, tuple[str, int]]:
    """A stand-in loopback port for every container port of the task, with the container that maps it."""
    ports: dict[int, tuple[str, int]] = {}
    for container in containers:
        name = str(container.get("name"))
        for port in own_ports(container, traffic_ports.get(name)):
            # awsvpc allows one container per port: a second claim would not start on AWS either.
            ports.setdefault(port, (name, choose_port()))
    return ports


@dataclass
class ContainerState:
    """One container of a task run: how it is launched (None: not configured here) and how it started."""

    name: str
    essential: bool
    launch: TaskLaunch | None
    process: RunningContainer | None = None
    started_at: float | None = None
    start_error: AppStartError | None = None
    not_started: str = ""
    notes: list[str] = field(default_factory=list)
    # Its healthCheck's result, when a dependant waited for it to be HEALTHY.
    health: ContainerCheckResult | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.start_error is None and self.process.poll() is None

    def why_not_running(self) -> str:
        """Why the container is not running (empty when it is)."""
        if self.launch is None:
            return f"container {self.name} is not run here (no --container {self.name}=...)"
        if self.not_started:
            return f"container {self.name} was not started: {self.not_started}"
        if self.start_error is not None:
            return self.start_error.evidence()
        if self.process is not None and self.process.poll() is not None:
            output = self.process.tail()
            said = f"; last output: {output}" if output else ""
            return f"container {self.name} stopped ({describe_exit(self.process.poll())}){said}"
        return ""


class TaskRun:
    """The configured containers of one task, started in dependsOn order; leaving the block stops them all.

    `start_timeouts` bounds, per container, the wait for it to listen (default 20 s).
    """

    def __init__(
        self,
        definition: Mapping[str, Any],
        launches: Mapping[str, TaskLaunch],
        ports: TaskPorts,
        *,
        start_timeouts: Mapping[str, float] | None = None,
    ) -> None:
        containers = list(definition.get("containerDefinitions") or [])
        self.order = start_order(containers)
        self.containers = {str(c.get("name")): c for c in containers}
        self.ports = ports
        self.start_timeouts = dict(start_timeouts or {})
        self.states = {
            name: ContainerState(name, bool(self.containers[name].get("essential", True)), launches.get(name))
            for name in self.order
        }
        self._unused: dict[int, int] = {}

    @classmethod
    def for_service(
        cls,
        backend: AwsBackend,
        workload: Workload,
        stand_ins: StandIns,
        *,
        traffic_ports: Mapping[str, int],
        start_timeouts: Mapping[str, float] | None = None,
        addresses: AddressMap | None = None,
    ) -> TaskRun:
        """The task a service runs, with the containers `stand_ins` configures; `traffic_ports` maps a container
        to the port its load balancer sends traffic to; `addresses` are served here besides the task's own
        loopback (the extension point for local data stores)."""
        definition = workload.task_definition
        containers = list(definition.get("containerDefinitions") or [])
        start_order(containers)  # a task ECS would not start is refused before any port is taken
        ports = task_ports(containers, traffic_ports, free_port)
        served = AddressMap.loopback(ports).merged(addresses or AddressMap())
        launches = {
            name: TaskLaunch.build(
                backend,
                definition,
                how,
                run_dir=stand_ins.run_dir,
                ports=ports,
                traffic_port=traffic_ports.get(name),
                addresses=served,
            )
            for name in (str(c.get("name")) for c in containers)
            if (how := stand_ins.command(name)) is not None
        }
        return cls(definition, launches, ports, start_timeouts=start_timeouts)

    def __enter__(self) -> TaskRun:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        for name in self.order:
            self._start(name)

    def _start(self, name: str) -> None:
        state = self.states[name]
        if state.launch is None:
            return
        for dependency in dependencies(self.containers[name]):
            met, note = self._wait_for(dependency)
            if not met:
                state.not_started = note
                return
            state.notes.append(note)
        stopped = self.stopped_essential()
        if stopped is not None:
            why = stopped.why_not_running()
            state.not_started = f"the task stopped before it started, essential container {stopped.name}: {why}"
            return
        state.process = state.launch.process(start_timeout=self.start_timeouts.get(name, 20.0))
        state.started_at = time.monotonic()
        try:
            state.process.start()
        except AppStartError as exc:
            state.start_error = exc

    def _wait_for(self, dependency: Dependency) -> tuple[bool, str]:
        """(met, what happened) for one dependency of a container about to start."""
        target = self.states[dependency.container]
        what = f"{dependency.container} ({dependency.condition})"
        if target.launch is None:
            return True, f"its dependency {what} is not run here (no --container {dependency.container}=...)"
        if target.process is None or target.start_error is not None:
            return False, f"its dependency {what} did not start: {target.why_not_running()}"
        if dependency.condition == "START":
            return True, f"started after {dependency.container} started"
        if dependency.condition == "HEALTHY":
            target.health = self.container_check(dependency.container)
            if target.health.passed:
                return True, f"started after {dependency.container} was HEALTHY ({target.health.describe()})"
            return False, f"its dependency {what} never became HEALTHY: {target.health.describe()}"
        seconds = float(self.containers[dependency.container].get("startTimeout") or DEFAULT_DEPENDENCY_SECONDS)
        try:
            code = target.process.wait(min(seconds, MAX_DEPENDENCY_SECONDS))
        except TimeoutError as exc:
            return False, f"its dependency {what} did not exit: {exc}"
        if dependency.condition == "SUCCESS" and code != 0:
            return False, f"its dependency {what} ended with {describe_exit(code)}: {target.process.tail()}"
        return True, f"started after {dependency.container} ended ({describe_exit(code)})"

    def container_check(self, name: str) -> ContainerCheckResult:
        """Run container `name`'s healthCheck against it, failures within what is left of its startPeriod
        (at most MAX_START_PERIOD_SECONDS) not counted."""
        state = self.states[name]
        assert state.process is not None and state.started_at is not None
        health_check = self.containers[name].get("healthCheck") or {}
        period = min(float(health_check.get("startPeriod") or 0), MAX_START_PERIOD_SECONDS)
        remaining = max(0.0, period - (time.monotonic() - state.started_at))
        return state.process.container_check(health_check, self.to_local, start_period=remaining)

    def to_local(self, container_port: int) -> int:
        """The local port of a task port; a port no container maps gets one nothing listens on (refused, as on AWS)."""
        if container_port in self.ports:
            return self.ports[container_port][1]
        return self._unused.setdefault(container_port, free_port())

    def stopped_essential(self) -> ContainerState | None:
        """The essential container that stopped the task (it ended, or never started), else None."""
        for state in self.states.values():
            started = state.process is not None or bool(state.not_started)
            if state.essential and state.launch is not None and started and state.why_not_running():
                return state
        return None

    def watch(self, name: str, seconds: float) -> int | None:
        """Poll container `name` until `seconds` after its start; its exit code if it ended before, else None."""
        state = self.states[name]
        assert state.process is not None and state.started_at is not None
        deadline = state.started_at + seconds
        while (code := state.process.poll()) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return code

    def listening(self, name: str) -> dict[int, bool]:
        """Container port -> whether its stand-in port accepts connections, for the ports `name` maps."""
        return {port: accepts(local) for port, (owner, local) in self.ports.items() if owner == name}

    def stop(self) -> None:
        for name in reversed(self.order):
            process = self.states[name].process
            if process is not None:
                process.stop()
