"""Health checks: the ALB's and the container's agree with the app, and every service's containers pass them.

A health check that asks the wrong port or path, or expects a status the app never sends, marks every
task unhealthy: ECS replaces them in a loop and the service never serves. moto cannot show this (it
reports every registered target as healthy, runs no check and starts no task), so `health.consistency`
compares the settings, and `health.live` runs the task of every service the way the user configured its
containers (`--container NAME=COMMAND`, `docker:IMAGE`, `stand-in:...`, see `stackprobe.probes.containers`),
all its configured containers together in `dependsOn` order (`stackprobe.probes.task`), with the task
definition's environment, and judges each essential container:
- behind a target group (with a listener): the target group's health check and the container's own
  `healthCheck`, run against it;
- not behind a load balancer (a worker, a sidecar, an internal service): its `healthCheck` command, and
  that it is still running after the service's grace period or its startPeriod (watched for at least
  MIN_WATCH_SECONDS, at most MAX_WATCH_SECONDS) and listens on the ports it maps; without a healthCheck,
  a note says so: ECS then replaces the task only when its process exits, never when it hangs.
Every finding says what was measured (the command or image, its directory, the container it stood for)
and which outbound requests its network guard refused (`stackprobe.probes.egress`). A container nobody
said how to run is not probed; a note names it and the setting that would run it, and says why a
configured container was not probed (a one-off task no service runs, a non-essential sidecar).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from stackprobe.aws.workloads import Workload
from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.datastores import Access, access_for
from stackprobe.errors import NotApplicable
from stackprobe.probes.containers import StandIns, enable_hint
from stackprobe.probes.contract import HealthCheckContract, contract_for
from stackprobe.probes.health import AlbHealthCheck, Matcher, MatcherError, probe_target
from stackprobe.probes.output import clean_lines
from stackprobe.probes.process import crashed, describe_exit
from stackprobe.probes.task import ContainerState, TaskDefinitionError, TaskRun

# Beyond these, a broken task keeps receiving traffic (or a new one waits for traffic) for minutes.
MAX_DETECTION_SECONDS = 300
# How long a stand-in may take to listen: what the service tolerates (grace period plus the failures
# that mark a task unhealthy), within these bounds so that a hung COMMAND does not hold a run for long.
MIN_START_SECONDS = 10
MAX_START_SECONDS = 120
# How long a container without a load balancer must keep running: the service's grace period or the
# container's startPeriod, within these bounds (a crash at start shows in seconds; a run stays short).
MIN_WATCH_SECONDS = 3.0
MAX_WATCH_SECONDS = 30.0
_LOOPBACK_URL = re.compile(r"https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(?P<port>\d+))?(?P<path>/[^\s'\"|;&]*)?")
_VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ServiceTarget:
    """One (ECS service, load-balancer entry, target group) triple."""

    workload: Workload
    container: Mapping[str, Any]
    container_port: int
    target_group: Mapping[str, Any]
    attributes: Mapping[str, str]

    @property
    def name(self) -> str:
        return str(self.target_group.get("TargetGroupName", self.target_group["TargetGroupArn"]))

    @property
    def container_name(self) -> str:
        return str(self.container.get("name", ""))


@dataclass(frozen=True)
class ContainerProbe:
    """Where the container's own healthCheck looks: port, path, and how that was read."""

    port: int | None
    path: str | None
    source: str


def _expand(text: str, env: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env.get(m["braced"] or m["plain"], m.group(0)), text)


def container_probe(
    container: Mapping[str, Any], env: Mapping[str, str], declared: HealthCheckContract | None = None
) -> ContainerProbe | None:
    """What the container healthCheck requests, when it can be read: a curl/wget command names its URL;
    a program that reads its port and path from the task environment is read through the app's contract
    (`container_health_check` in stackprobe-contract.yaml)."""
    command = [str(part) for part in (container.get("healthCheck") or {}).get("command") or []]
    if not command:
        return None
    joined = _expand(" ".join(command[1:] if command[0] in ("CMD", "CMD-SHELL") else command), env)
    match = _LOOPBACK_URL.search(joined)
    if match is not None:
        url_port = int(match["port"]) if match["port"] else (443 if match.group(0).startswith("https") else 80)
        return ContainerProbe(url_port, (match["path"] or "/").split("?", 1)[0], f"`{joined}`")
    if declared is None or not (declared.port_variable or declared.path_variable):
        return None
    read: list[str] = []
    port: int | None = None
    path: str | None = None
    if declared.port_variable:
        port_text = env.get(declared.port_variable, "").strip()
        port = int(port_text) if port_text.isdigit() else None
        read.append(f"{declared.port_variable}={port_text or 'unset'}")
    if declared.path_variable:
        path = env.get(declared.path_variable, "").strip() or None
        read.append(f"{declared.path_variable}={path or 'unset'}")
    return ContainerProbe(port, path, f"`{joined}` reading {', '.join(read)} (the app's contract)")


def service_targets(ctx: CheckContext) -> Iterator[ServiceTarget]:
    """Every target group behind a load balancer that an ECS service registers its tasks in."""
    elbv2 = ctx.account.elbv2
    for workload in ctx.account.ecs.workloads():
        for entry in workload.load_balancers:
            group = elbv2.target_group(entry["targetGroupArn"])
            if group is None or not group.get("LoadBalancerArns"):
                continue  # not behind a listener: no traffic, no health check
            container = workload.container(entry.get("containerName"))
            if container is None:
                continue
            attributes = elbv2.target_group_attributes(entry["targetGroupArn"])
            yield ServiceTarget(workload, container, int(entry.get("containerPort") or 0), group, attributes)


def _app_port(env: Mapping[str, str], declared: HealthCheckContract | None) -> tuple[str, int] | None:
    """The port the app says it listens on: the contract's port variable, else the common PORT."""
    names = [declared.port_variable] if declared is not None and declared.port_variable else []
    for name in [*names, "PORT"]:
        value = env.get(name, "").strip()
        if value.isdigit():
            return name, int(value)
    return None


def consistency_problems(target: ServiceTarget, declared: HealthCheckContract | None = None) -> tuple[list[str], str]:
    """The mismatches between target group, service, container and app, and a summary of what was compared."""
    problems: list[str] = []
    group, container, port = target.target_group, target.container, target.container_port
    env = target.workload.environment(container)
    mapped = sorted(int(m.get("containerPort") or 0) for m in container.get("portMappings") or [])
    if port not in mapped:
        problems.append(f"the service sends traffic to container port {port}, the container maps {mapped or 'none'}")
    if group.get("HealthCheckEnabled") is False:
        problems.append("health checks are disabled on the target group")
    hc_port_text = str(group.get("HealthCheckPort") or "traffic-port")
    hc_port = port if hc_port_text == "traffic-port" else int(hc_port_text) if hc_port_text.isdigit() else None
    if hc_port is not None and hc_port != port and hc_port not in mapped:
        problems.append(f"health check port {hc_port} is neither the traffic port {port} nor a mapped container port")
    app_port = _app_port(env, declared)
    if app_port is not None and app_port[1] != port:
        problems.append(f"{app_port[0]}={app_port[1]} but the target group's traffic goes to container port {port}")
    protocol = str(group.get("HealthCheckProtocol") or "HTTP").upper()
    path = str(group.get("HealthCheckPath") or "/").split("?", 1)[0]
    probe = container_probe(container, env, declared)
    if probe is not None and probe.port is not None and probe.port != (app_port[1] if app_port else port):
        problems.append(
            f"the container healthCheck asks port {probe.port}, the app listens on {app_port[1] if app_port else port}"
        )
    path_variable = declared.path_variable if declared is not None else None
    expected_path = probe.path if probe is not None else (env.get(path_variable) if path_variable else None)
    if protocol in ("HTTP", "HTTPS") and expected_path and path != expected_path:
        origin = "the container healthCheck" if probe is not None else str(path_variable)
        problems.append(f"target group path {path} ≠ {expected_path} used by {origin}")
    matcher_text = str((group.get("Matcher") or {}).get("HttpCode") or "")
    if probe is not None and matcher_text:
        try:
            if not Matcher.parse(matcher_text).accepts(200):
                problems.append(f"matcher {matcher_text} rejects 200, the answer the container healthCheck passes on")
        except MatcherError as exc:
            problems.append(str(exc))
    problems += _timing_problems(target)
    compared = f"{protocol} {path} on {hc_port_text} (container port {port}), matcher {matcher_text or '-'}" + (
        f" vs container healthCheck {probe.source}" if probe else " (no readable container healthCheck)"
    )
    return problems, compared


def _timing_problems(target: ServiceTarget) -> list[str]:
    group, service = target.target_group, target.workload.service
    problems: list[str] = []
    interval = int(group.get("HealthCheckIntervalSeconds") or 30)
    timeout = int(group.get("HealthCheckTimeoutSeconds") or 5)
    healthy = int(group.get("HealthyThresholdCount") or 5)
    unhealthy = int(group.get("UnhealthyThresholdCount") or 2)
    if timeout >= interval:
        problems.append(f"health check timeout {timeout} s ≥ interval {interval} s")
    if unhealthy * interval > MAX_DETECTION_SECONDS:
        problems.append(f"a failing task stays in service {unhealthy}x{interval} s = {unhealthy * interval} s")
    if healthy * interval > MAX_DETECTION_SECONDS:
        problems.append(f"a new task waits {healthy}x{interval} s = {healthy * interval} s before receiving traffic")
    start_period = int((target.container.get("healthCheck") or {}).get("startPeriod") or 0)
    grace = int(service.get("healthCheckGracePeriodSeconds") or 0)
    if start_period and grace < start_period:
        problems.append(
            f"healthCheckGracePeriodSeconds={grace} < container startPeriod {start_period} s: the ALB "
            "can fail tasks that are still starting"
        )
    return problems


def _timing_summary(target: ServiceTarget) -> str:
    group = target.target_group
    interval = int(group.get("HealthCheckIntervalSeconds") or 30)
    start_period = (target.container.get("healthCheck") or {}).get("startPeriod")
    start = f"startPeriod {start_period} s" if start_period else "no declared startPeriod (health.live measures start)"
    return (
        f"grace {int(target.workload.service.get('healthCheckGracePeriodSeconds') or 0)} s, {start}; "
        f"healthy after {group.get('HealthyThresholdCount')}x{interval} s, unhealthy after "
        f"{group.get('UnhealthyThresholdCount')}x{interval} s; deregistration delay "
        f"{target.attributes.get('deregistration_delay.timeout_seconds', '300')} s"
    )


@check(
    "health.consistency",
    "ALB health check, container health check, port mapping and grace period agree",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("ecs", "elbv2"),
    why="When the target group asks a path or port the app does not serve, or expects a status it never "
    "sends, every task fails its health check and ECS replaces them in a loop: the service never serves. "
    "A grace period shorter than the start time kills tasks that are still starting.",
    fix="Derive the target group's path/port/matcher and the container healthCheck from the same values "
    "the app reads its port and health path from; use port `traffic-port`; set "
    "healthCheckGracePeriodSeconds to at least the container's startPeriod.",
    reference="terraform/modules/edge (target group) and terraform/modules/service (task definition)",
    reads=("aws_ecs_service",),
)
def consistency(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    declared = contract_for(ctx).health_check
    for target in service_targets(ctx):
        problems, compared = consistency_problems(target, declared)
        label = f"{target.workload.label} → {target.name}"
        detail = "; ".join(problems) if problems else f"{compared}; {_timing_summary(target)}"
        evidence = f"{label}: {detail}"
        yield ctx.finding(
            check_,
            not problems,
            target.workload.arn,
            evidence,
            target.target_group["TargetGroupArn"],
            target.workload.task_definition_arn,
        )


@check(
    "health.live",
    "The app, started with the deployed task definition, passes the ALB and container health checks",
    severity=Severity.CRITICAL,
    category=Category.RELIABILITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("ecs", "elbv2"),
    why="A task that fails its health checks never receives traffic and is replaced forever; a worker that "
    "crashes at start is restarted forever. moto reports every target as healthy and starts no task, so the "
    "only evidence is to run each service's containers with the task definition's environment and execute "
    "the target group's check (path, port, matcher, timeout, thresholds) and each container's healthCheck "
    "command against them, and to see a worker keep running.",
    fix="Make the target group's path, port and matcher, and the container healthCheck, match what the app "
    "serves with the environment the task definition gives it; give every container the variables it needs "
    "to start, and a healthCheck that fails when it hangs.",
    reference="terraform/modules/edge (health_check) and terraform/modules/service (healthCheck)",
    reads=("aws_ecs_service",),
)
def live(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # DescribeTargetHealth is deliberately never read here: moto answers "healthy" for every target.
    workloads = list(ctx.account.ecs.workloads())
    stand_ins = StandIns.configured(ctx, workloads)
    targets = list(service_targets(ctx))
    notes = _not_probed(workloads, targets, stand_ins)
    probed = [w for w in workloads if _probed_containers(w, stand_ins)]
    stand_ins.require_engine_for(name for w in probed for name in _configured(w, stand_ins))
    findings: list[Finding] = []
    for workload in probed:
        own = [t for t in targets if t.workload.arn == workload.arn]
        findings += _probe_service(check_, ctx, workload, stand_ins, own, notes)
    yield from findings
    unconfigured = sorted({name for w in workloads for name in stand_ins.missing(_essential(w))})
    if not notes:
        return
    message = "not probed: " + "; ".join(notes)
    if unconfigured:
        message += f". To probe {', '.join(unconfigured)}, {enable_hint(unconfigured, ctx.app_dir or ctx.source_dir)}"
    if findings:
        # Beside real findings, a note: the result stays as they make it.
        yield Finding(check_.id, True, "health.live", message, severity=Severity.INFO)
    else:
        # Nothing ran, so the result is "not applicable"; the reason is what a reader needs next.
        raise NotApplicable(message)


def _essential(workload: Workload) -> list[str]:
    return [str(c.get("name")) for c in workload.containers if c.get("essential", True)]


def _configured(workload: Workload, stand_ins: StandIns) -> list[str]:
    """The containers of the service's task that run here (all configured ones: they start together)."""
    return [str(c.get("name")) for c in workload.containers if stand_ins.command(str(c.get("name")))]


def _probed_containers(workload: Workload, stand_ins: StandIns) -> list[str]:
    """The essential containers of the service's task that run here: each gets a finding."""
    return [name for name in _essential(workload) if stand_ins.command(name)]


def _not_probed(workloads: list[Workload], targets: list[ServiceTarget], stand_ins: StandIns) -> list[str]:
    """Why each essential container that is not probed is not, and why a configured container gets no finding."""
    notes: list[str] = []
    for workload in workloads:
        for name in stand_ins.missing(_essential(workload)):
            groups = [t.name for t in targets if t.workload.arn == workload.arn and t.container_name == name]
            notes += [f"{workload.label} → {group}: container {name}" for group in groups] or [
                f"{workload.label}: container {name}"
            ]
        ran = (
            "it ran with its task"
            if _probed_containers(workload, stand_ins)
            else "no essential container of its task is configured, so the task did not run"
        )
        for name in sorted(set(_configured(workload, stand_ins)) - set(_essential(workload))):
            notes.append(
                f"{workload.label}: container {name} is not essential ({ran}): only the essential containers of a "
                "task get a verdict of their own"
            )
    notes += [
        f"container {c.label}: health.live starts the tasks of services; a one-off task is not started"
        for c in stand_ins.without_service()
    ]
    return notes


def _start_timeout(target: ServiceTarget, health_check: AlbHealthCheck) -> float:
    grace = int(target.workload.service.get("healthCheckGracePeriodSeconds") or 0)
    budget = grace + health_check.unhealthy_threshold * health_check.interval_seconds
    return float(min(max(budget, MIN_START_SECONDS), MAX_START_SECONDS))


def _watch_seconds(workload: Workload, container: Mapping[str, Any]) -> tuple[float, str]:
    """How long a container without a load balancer must keep running here, and what that came from."""
    grace = int(workload.service.get("healthCheckGracePeriodSeconds") or 0)
    start_period = int((container.get("healthCheck") or {}).get("startPeriod") or 0)
    seconds = min(max(float(grace), float(start_period), MIN_WATCH_SECONDS), MAX_WATCH_SECONDS)
    basis = f"grace period {grace} s, startPeriod {start_period or 'none'}"
    return seconds, f"{basis}; watched {seconds:g} s, within {MIN_WATCH_SECONDS:g}-{MAX_WATCH_SECONDS:g} s"


def _load_balanced(
    workload: Workload, targets: list[ServiceTarget], stand_ins: StandIns, notes: list[str]
) -> list[tuple[ServiceTarget, AlbHealthCheck]]:
    """The service's target groups whose container runs here, with the health check each sends."""
    checks: list[tuple[ServiceTarget, AlbHealthCheck]] = []
    for target in targets:
        if stand_ins.command(target.container_name) is None:
            continue
        try:
            checks.append((target, AlbHealthCheck.from_target_group(target.target_group)))
        except MatcherError as exc:
            name = target.container_name
            notes.append(f"{workload.label} → {target.name}: {exc}; container {name} judged as not load-balanced")
    return checks


def _probe_service(
    check_: Check,
    ctx: CheckContext,
    workload: Workload,
    stand_ins: StandIns,
    targets: list[ServiceTarget],
    notes: list[str],
) -> list[Finding]:
    """Start the service's task once and judge every essential container that ran (see the module docstring)."""
    checks = _load_balanced(workload, targets, stand_ins, notes)
    balanced = {target.container_name for target, _ in checks}
    unbalanced = [name for name in _probed_containers(workload, stand_ins) if name not in balanced]
    timeouts = {target.container_name: _start_timeout(target, health_check) for target, health_check in checks}
    for name in unbalanced:
        watch = _watch_seconds(workload, workload.container(name) or {})[0]
        timeouts[name] = min(max(watch, MIN_START_SECONDS), MAX_START_SECONDS)
    access = access_for(ctx.datastores, ctx, workload)
    if access.unavailable:
        # What it would measure is the missing datastore, not the service: nothing is judged, the reason is said.
        notes.append(f"{workload.label}: it needs {'; '.join(access.unavailable)}")
        return []
    try:
        task = TaskRun.for_service(
            ctx.backend,
            workload,
            stand_ins,
            traffic_ports={target.container_name: target.container_port for target, _ in checks},
            start_timeouts=timeouts,
            addresses=access.addresses,
        )
    except TaskDefinitionError as exc:
        family = workload.task_definition_arn.rsplit("/", 1)[-1]
        evidence = f"{workload.label} → task {family}: ECS would never start it: {exc}"
        return [ctx.finding(check_, False, workload.arn, evidence, workload.task_definition_arn)]
    judged: list[tuple[str, Finding]] = []  # each finding with the container it judges
    with task:
        for target, health_check in checks:
            passed, evidence = _judge_target(task, target, health_check)
            group = target.target_group["TargetGroupArn"]
            evidence = f"{workload.label} → {target.name}: {evidence}"
            finding = ctx.finding(check_, passed, workload.arn, evidence, group, workload.task_definition_arn)
            judged.append((target.container_name, finding))
        for name in unbalanced:
            judged += [(name, finding) for finding in _judge_unbalanced(check_, ctx, task, workload, name)]
    # Leaving the block stopped the task as ECS stops one; how each container took it is part of what ran here.
    return [_with_datastores(_with_stop(finding, task.states[name]), access) for name, finding in judged]


def _with_stop(finding: Finding, state: ContainerState) -> Finding:
    """The finding with how its container ended when the task was stopped, when it was still running then."""
    record = state.process.stop_record if state.process is not None else None
    if record is None or finding.severity is Severity.INFO:
        return finding
    return replace(finding, evidence=f"{finding.evidence}; {record.describe()}")


def _with_datastores(finding: Finding, access: Access) -> Finding:
    """The finding with the datastores its containers were given, and, failed, the remedy for unserved ones."""
    extra = access.evidence(finding.passed)
    if not extra or finding.severity is Severity.INFO:
        return finding
    return replace(finding, evidence="; ".join([finding.evidence, *extra]))


def _how_it_ran(task: TaskRun, state: ContainerState) -> list[str]:
    """The evidence of what ran: dependencies, the task's state, refused requests, then the measured process."""
    assert state.launch is not None
    parts = list(state.notes)
    stopped = task.stopped_essential()
    if stopped is not None and stopped is not state:
        parts.append(f"the task stopped meanwhile, essential container {stopped.name}: {stopped.why_not_running()}")
    if state.process is not None and state.process.egress is not None:
        parts += [text for text in [state.process.egress.record.describe()] if text]
    return [*parts, state.launch.describe()]


def _judge_target(task: TaskRun, target: ServiceTarget, health_check: AlbHealthCheck) -> tuple[bool, str]:
    state = task.states[target.container_name]
    if state.process is None or state.start_error is not None:
        return False, "; ".join([state.why_not_running(), *_how_it_ran(task, state)])
    hc_port = target.container_port if health_check.port == "traffic-port" else int(health_check.port)
    outcome = probe_target(health_check, task.to_local(hc_port))
    container_result = task.container_check(state.name) if target.container.get("healthCheck") else None
    startup = state.process.startup_seconds or 0.0
    grace = int(target.workload.service.get("healthCheckGracePeriodSeconds") or 0)
    budget = grace + health_check.unhealthy_threshold * health_check.interval_seconds
    # The verdicts first (a report that shortens evidence keeps them), then how the container ran.
    parts = [f"ALB check {outcome.summary}"]
    passed = outcome.healthy
    if container_result is not None:
        parts.append(container_result.describe())
        passed = passed and container_result.passed
    else:
        parts.append("no container healthCheck declared")
    if startup > budget:
        passed = False
        parts.append(
            f"start took {startup:.1f} s even here, more than grace {grace} s + "
            f"{health_check.unhealthy_threshold}x{health_check.interval_seconds} s"
        )
    parts.append(f"listening after {startup:.1f} s")
    # Why it answered as it did (a refused connection, say): its last lines, each once (they repeat per check).
    lines = list(dict.fromkeys(reversed(clean_lines(state.process.output))))[:4] if not passed else []
    if lines:
        parts.append(f"its last output: {' | '.join(reversed(lines))}")
    return passed, "; ".join([*parts, *_how_it_ran(task, state)])


def _judge_unbalanced(check_: Check, ctx: CheckContext, task: TaskRun, workload: Workload, name: str) -> list[Finding]:
    """A container no load balancer checks: its healthCheck, still running after the window, listening on its ports;
    and, without a healthCheck, a note that ECS cannot see it hang."""
    state = task.states[name]
    container = task.containers[name]
    label = f"{workload.label} → container {name}"
    ids = (workload.task_definition_arn,)
    if state.process is None or state.start_error is not None:
        evidence = "; ".join([state.why_not_running(), *_how_it_ran(task, state)])
        return [ctx.finding(check_, False, workload.arn, f"{label}: {evidence}", *ids)]
    parts: list[str] = []
    passed = True
    if container.get("healthCheck"):
        result = task.container_check(name)
        parts.append(result.describe())
        passed = result.passed
    seconds, basis = _watch_seconds(workload, container)
    code = task.watch(name, seconds)
    listening = task.listening(name) if code is None else {}
    if code is not None:
        passed = False
        tail = state.process.tail()
        assert state.launch is not None  # a container that ran was configured
        parts.append(
            f"{crashed(code)} within the {seconds:g} s it must keep running ({describe_exit(code)}; {basis}); "
            + (f"last output: {tail}" if tail else "it printed nothing")
            + f"; remedy: {state.launch.crash_remedy()}"
        )
    else:
        parts.append(f"still running {seconds:g} s after it started ({basis})")
    silent = [str(port) for port, answers in listening.items() if not answers]
    if silent:
        passed = False
        parts.append(f"does not listen on container port {', '.join(silent)}, which it maps")
    elif listening:
        parts.append(f"listens on container port {', '.join(map(str, listening))}")
    evidence = f"{label}: " + "; ".join([*parts, *_how_it_ran(task, state)])
    findings = [ctx.finding(check_, passed, workload.arn, evidence, *ids)]
    if not container.get("healthCheck"):
        judged = "staying up and listening" if listening else "staying up"
        note = (
            f"{label}: no container healthCheck, so ECS replaces its task only when the process exits, never when "
            f"it hangs; judged here by {judged}"
        )
        findings.append(ctx.finding(check_, True, workload.arn, note, *ids, severity=Severity.INFO))
    return findings
