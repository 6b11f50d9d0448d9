"""Health checks: the ALB's and the container's agree with the app, and the app really passes them.

A health check that asks the wrong port or path, or expects a status the app never sends, marks every
task unhealthy: ECS replaces them in a loop and the service never serves. moto cannot show this (it
reports every registered target as healthy and runs no check), so `health.consistency` compares the
settings, and `health.live` runs each load-balanced container the way the user configured it
(`--container NAME=COMMAND` or `docker:IMAGE`, see `stackprobe.probes.containers`) with its task
definition's environment, and executes both checks against it. A container nobody said how to run is
not probed; the check names it and the setting that would run it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.aws.workloads import Workload
from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.errors import NotApplicable
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import StandIns, enable_hint
from stackprobe.probes.contract import HealthCheckContract, contract_for
from stackprobe.probes.health import AlbHealthCheck, Matcher, MatcherError, probe_target
from stackprobe.probes.process import AppStartError, free_port

# Beyond these, a broken task keeps receiving traffic (or a new one waits for traffic) for minutes.
MAX_DETECTION_SECONDS = 300
# How long a stand-in may take to listen: what the service tolerates (grace period plus the failures
# that mark a task unhealthy), within these bounds so that a hung COMMAND does not hold a run for long.
MIN_START_SECONDS = 10
MAX_START_SECONDS = 120
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
    why="A task that fails its health checks never receives traffic and is replaced forever. moto reports "
    "every target as healthy, so the only evidence is to run the app with the task definition's "
    "environment and execute the target group's check (path, port, matcher, timeout, thresholds) and the "
    "container's healthCheck command against it.",
    fix="Make the target group's path, port and matcher, and the container healthCheck, match what the app "
    "serves with the environment the task definition gives it.",
    reference="terraform/modules/edge (health_check) and terraform/modules/service (healthCheck)",
    reads=("aws_ecs_service",),
)
def live(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    # DescribeTargetHealth is deliberately never read here: moto answers "healthy" for every target.
    targets = list(service_targets(ctx))
    if not targets:
        return
    stand_ins = StandIns.configured(ctx, ctx.account.ecs.workloads())
    runnable = [t for t in targets if stand_ins.command(t.container_name) is not None]
    stand_ins.require_engine_for(t.container_name for t in runnable)
    not_probed = [f"{t.workload.label} → {t.name}: container {t.container_name}" for t in targets if t not in runnable]
    for target in runnable:
        try:
            health_check = AlbHealthCheck.from_target_group(target.target_group)
        except MatcherError as exc:
            not_probed.append(f"{target.workload.label} → {target.name}: {exc}")
            continue
        passed, evidence = _run_live(ctx, target, health_check, stand_ins)
        yield ctx.finding(
            check_,
            passed,
            target.workload.arn,
            f"{target.workload.label} → {target.name}: {evidence}",
            target.target_group["TargetGroupArn"],
            target.workload.task_definition_arn,
        )
    unconfigured = stand_ins.missing(t.container_name for t in targets)
    if not not_probed:
        return
    message = "not probed: " + "; ".join(not_probed)
    if unconfigured:
        message += f". To probe {', '.join(unconfigured)}, {enable_hint(unconfigured, ctx.app_dir or ctx.source_dir)}"
    if runnable:
        # Beside real findings, a note: the result stays as they make it.
        yield Finding(check_.id, True, "health.live", message, severity=Severity.INFO)
    else:
        # Nothing ran, so the result is "not applicable"; the reason is what a reader needs next.
        raise NotApplicable(message)


def _start_timeout(target: ServiceTarget, health_check: AlbHealthCheck) -> float:
    grace = int(target.workload.service.get("healthCheckGracePeriodSeconds") or 0)
    budget = grace + health_check.unhealthy_threshold * health_check.interval_seconds
    return float(min(max(budget, MIN_START_SECONDS), MAX_START_SECONDS))


def _run_live(
    ctx: CheckContext, target: ServiceTarget, health_check: AlbHealthCheck, stand_ins: StandIns
) -> tuple[bool, str]:
    how = stand_ins.command(target.container_name)
    assert how is not None  # only configured containers are run
    launch = TaskLaunch.from_task_definition(
        ctx.backend,
        target.workload.task_definition_arn,
        how,
        run_dir=stand_ins.run_dir,
        traffic_port=target.container_port,
    )
    unused: dict[int, int] = {}

    def to_local(port: int) -> int:
        # A port the container does not map gets a loopback port nothing listens on: refused, as in AWS.
        mapped = launch.local_port_for(port)
        return mapped if mapped is not None else unused.setdefault(port, free_port())

    hc_port = target.container_port if health_check.port == "traffic-port" else int(health_check.port)
    container_check = target.container.get("healthCheck")
    try:
        with launch.process(start_timeout=_start_timeout(target, health_check)) as process:
            outcome = probe_target(health_check, to_local(hc_port))
            container_result = process.container_check(container_check, to_local) if container_check else None
            startup = process.startup_seconds or 0.0
    except AppStartError as exc:
        return False, f"{exc.evidence()}; {launch.describe()}"
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
    parts += [f"listening after {startup:.1f} s", launch.describe()]
    return passed, "; ".join(parts)
