"""The application keeps idle connections open longer than its load balancer does.

An ALB keeps each connection to a target open for its idle timeout after a response and sends the next
request down it. If the server's own keep-alive is shorter, the server closes connections the ALB still
counts as open, and a request sent at that moment is answered 502 by the ALB: sporadic errors under load
that no log of the application shows. The rule (AWS's own advice) is that the target's keep-alive must be
longer than the ALB's `idle_timeout`.

moto runs no task, so the check runs each load-balanced container the way the user configured it (as
`health.live` does: its task's configured containers together, with the task definition's environment) and
measures its keep-alive on the wire (`stackprobe.probes.keepalive`). This judges the server software
itself, so it is not applicable where the process run here is not the container's server: a container
configured as `stand-in:COMMAND`, or a command evidently another server than the task's image (a Python
app for a Go gateway's image, `stackprobe.probes.servers`); nothing is started for those.

The measurement is bounded: the connection is kept idle for at most MAX_IDLE_PROBE_SECONDS (or just past
the idle timeout, when that is shorter), so a server that closes within that time (gunicorn's default is
2 s) is measured exactly, and one still open is judged by the keep-alive it states: its `Keep-Alive:
timeout=N` response header, else what its application declares in stackprobe-contract.yaml
(`keep_alive`: the task variable its server reads, and its default). A server that stays open and states
nothing cannot be judged without waiting the whole idle timeout; it is reported, not passed. A server
that answers `Connection: close` is never reused by the ALB, so it has no idle race (it pays a new
connection per request instead).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.checks.health import ServiceTarget, service_targets
from stackprobe.datastores import access_for
from stackprobe.errors import NotApplicable, NotExercisable
from stackprobe.probes.containers import StandIns, enable_hint
from stackprobe.probes.contract import KeepAliveContract, contract_for
from stackprobe.probes.keepalive import KeepAliveMeasurement, measure_keepalive
from stackprobe.probes.task import TaskDefinitionError, TaskRun

# The longest an idle connection is watched. Long enough to catch the short keep-alives of common
# servers (gunicorn 2 s, uvicorn 5 s is caught at its edge, Node 5 s), short enough for a test run.
MAX_IDLE_PROBE_SECONDS = 6.0
# The ALB's idle timeout when the attribute is absent (AWS's default).
DEFAULT_IDLE_TIMEOUT = 60
START_TIMEOUT_SECONDS = 60.0


def idle_timeouts(ctx: CheckContext, target: ServiceTarget) -> dict[str, int]:
    """Load balancer name -> idle timeout (s), for the application load balancers in front of `target`."""
    elbv2 = ctx.account.elbv2
    found: dict[str, int] = {}
    for arn in target.target_group.get("LoadBalancerArns") or []:
        balancer = elbv2.load_balancer(arn)
        if balancer is None:
            continue  # deleted after its target group was read: nothing in front of the target any more
        if balancer.get("Type", "application") != "application":
            continue  # a network load balancer forwards TCP: no HTTP keep-alive between it and the target
        attributes = elbv2.attributes(arn)
        found[str(balancer["LoadBalancerName"])] = int(
            attributes.get("idle_timeout.timeout_seconds") or DEFAULT_IDLE_TIMEOUT
        )
    return found


def judge(
    measurement: KeepAliveMeasurement, idle_timeout: int, declared: int | None, declared_by: str
) -> tuple[bool | None, str]:
    """(passed, why): None when the measurement and what the server states cannot decide."""
    seen = measurement.describe()
    if measurement.refused:
        return True, f"{seen}: the load balancer never reuses a connection, so there is no idle race"
    stated, by = (
        (measurement.advertised, "its Keep-Alive header")
        if measurement.advertised is not None
        else (declared, declared_by)
    )
    if measurement.closed_after is not None:
        if measurement.closed_after > idle_timeout:
            return True, f"{seen}, after the load balancer's idle timeout {idle_timeout} s"
        contradiction = (
            f" although {by} says {stated} s" if stated is not None and stated > measurement.closed_after + 1 else ""
        )
        return False, (
            f"{seen}{contradiction}: shorter than the load balancer's idle timeout {idle_timeout} s, so the load "
            "balancer can send a request down a connection the server is closing and answer 502"
        )
    if measurement.waited > idle_timeout:
        return True, f"{seen}, longer than the load balancer's idle timeout {idle_timeout} s"
    if stated is None:
        return None, (
            f"{seen} (the probe's bound) and states no keep-alive: against an idle timeout of {idle_timeout} s "
            "that proves nothing. Have the server send Keep-Alive: timeout=N, or declare keep_alive in the "
            "app's stackprobe-contract.yaml"
        )
    if stated > idle_timeout:
        return True, f"{seen}, and {by} says {stated} s, longer than the load balancer's idle timeout {idle_timeout} s"
    return False, (
        f"{seen}, but {by} says {stated} s, not longer than the load balancer's idle timeout {idle_timeout} s: "
        "the server closes connections the load balancer still reuses (502s)"
    )


def _declared(
    contract: KeepAliveContract | None, container: str, task_env: Mapping[str, str]
) -> tuple[int | None, str]:
    if contract is None or contract.container != container:
        return None, ""
    value = contract.declared_seconds(task_env)
    if contract.seconds_variable and task_env.get(contract.seconds_variable, "").strip().isdigit():
        how = f"the app's contract (its server reads {contract.seconds_variable}={task_env[contract.seconds_variable]})"
    else:
        how = f"the app's contract (its default; {contract.seconds_variable or 'no variable'} is not set)"
    return value, how


@check(
    "edge.keep-alive",
    "The app, run with its task definition, keeps idle connections open longer than its load balancer",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    fidelity=Fidelity.BEHAVIOUR,
    services=("ecs", "elbv2"),
    why="An ALB reuses a connection for its idle timeout (60 s by default). A server with a shorter keep-alive "
    "(gunicorn's default is 2 s) closes it first, and the request the ALB sends as it closes is answered 502: "
    "sporadic errors under load, invisible in the application's logs, and invisible to an emulator, which "
    "runs no server at all.",
    fix="Set the server's keep-alive above the load balancer's idle_timeout (gunicorn `keepalive`, uvicorn "
    "`--timeout-keep-alive`, Node `server.keepAliveTimeout`), e.g. from a task variable derived from the "
    "idle timeout; or lower the idle timeout below it.",
    reference="app/modelserve/gunicorn_conf.py (keepalive) and terraform/main.tf (HTTP_KEEPALIVE_SECONDS)",
    reads=("aws_ecs_service",),
)
def keep_alive(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    targets = [(t, idle_timeouts(ctx, t)) for t in service_targets(ctx)]
    targets = [(t, timeouts) for t, timeouts in targets if timeouts]
    if not targets:
        return
    stand_ins = StandIns.configured(ctx, ctx.account.ecs.workloads())
    runnable = [(t, timeouts) for t, timeouts in targets if stand_ins.command(t.container_name) is not None]
    stand_ins.require_engine_for(t.container_name for t, _ in runnable)
    contract = contract_for(ctx).keep_alive
    undecided: list[str] = []
    not_applicable: list[str] = []
    judged = 0
    for target, timeouts in runnable:
        balancer, idle_timeout = max(timeouts.items(), key=lambda item: item[1])
        label = f"{target.workload.label} → {target.name} (behind {balancer}, idle timeout {idle_timeout} s)"
        access = access_for(ctx.datastores, ctx, target.workload)
        if access.unavailable:
            not_applicable.append(f"{label}: not measured, it needs {'; '.join(access.unavailable)}")
            continue
        try:
            task = TaskRun.for_service(
                ctx.backend,
                target.workload,
                stand_ins,
                traffic_ports={target.container_name: target.container_port},
                start_timeouts={target.container_name: START_TIMEOUT_SECONDS},
                addresses=access.addresses,
            )
        except TaskDefinitionError as exc:
            not_applicable.append(f"{label}: not measured, the task would never start ({exc}; see health.live)")
            continue
        launch = task.states[target.container_name].launch
        assert launch is not None  # only configured containers are probed
        if launch.stand_in_reason:
            why = f"measured a stand-in ({launch.stand_in_reason}), whose keep-alive is its own server's"
            not_applicable.append(f"{label}: not applicable: {why}, not the task's; {launch.describe()}")
            continue
        passed, evidence = _probe(task, target, idle_timeout, contract)
        if passed is None:
            undecided.append(f"{label}: {evidence}")
            continue
        judged += 1
        yield ctx.finding(
            check_,
            passed,
            target.workload.arn,
            f"{label}: {evidence}",
            target.target_group["TargetGroupArn"],
            target.workload.task_definition_arn,
        )
    unconfigured = stand_ins.missing(t.container_name for t, _ in targets)
    if unconfigured:
        not_applicable.append(
            f"not probed: {', '.join(unconfigured)}; {enable_hint(unconfigured, ctx.app_dir or ctx.source_dir)}"
        )
    notes = "; ".join([*undecided, *not_applicable])
    if not notes:
        return
    if judged:
        yield Finding(check_.id, True, "edge.keep-alive", notes, severity=Severity.INFO)
    elif undecided:
        raise NotExercisable(notes)
    else:
        raise NotApplicable(notes)


def _probe(
    task: TaskRun, target: ServiceTarget, idle_timeout: int, contract: KeepAliveContract | None
) -> tuple[bool | None, str]:
    state = task.states[target.container_name]
    launch = state.launch
    assert launch is not None  # only configured containers are probed
    local = launch.local_port_for(target.container_port)
    if local is None:
        return False, f"container {target.container_name} maps no port {target.container_port}; {launch.describe()}"
    path = str(target.target_group.get("HealthCheckPath") or "/")
    idle_for = min(float(idle_timeout) + 1.0, MAX_IDLE_PROBE_SECONDS)
    with task:
        if state.process is None or state.start_error is not None:
            return False, f"{state.why_not_running()}; {launch.describe()}"
        try:
            measurement = measure_keepalive(local, path, idle_for=idle_for)
        except OSError as exc:
            return False, f"GET {path} failed: {exc}; {launch.describe()}"
    declared, declared_by = _declared(contract, target.container_name, launch.task_env)
    passed, why = judge(measurement, idle_timeout, declared, declared_by)
    return passed, f"GET {path}: {why}; {launch.describe()}"
