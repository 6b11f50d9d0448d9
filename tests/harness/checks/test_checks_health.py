"""health.consistency and health.live against ECS services behind an ALB, built in the emulator.

One account holds a correct service and one service per defect (each behind its own listener), and
each check runs once over it (module fixture): every test then asserts on its service's finding.
Resetting moto and starting the app dominate the run time, so they happen once, not per case.

The reference app is configured as any user's app is: `api=python -m modelserve.api --host 127.0.0.1`
run from `app/`, whose `stackprobe-contract.yaml` says what its container healthCheck reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from compute_builders import (
    IMAGE,
    alb,
    api_task_definition,
    app_resources,
    cluster,
    network,
    service,
    target_group,
)

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.health import consistency, live
from stackprobe.lifecycle.run import Run
from stackprobe.probes.docker import docker_unavailable_reason

pytestmark = pytest.mark.harness

APP_DIR = Path(__file__).resolve().parents[3] / "app"
API_COMMAND = "python -m modelserve.api --host 127.0.0.1"


def _finding(result: CheckResult, service_name: str) -> Finding:
    matches = [f for f in result.findings if f"/{service_name} →" in f.evidence]
    assert len(matches) == 1, [f.evidence for f in result.findings]
    return matches[0]


class Zoo:
    """One account: an ALB, and one service per case, each behind its own listener and target group."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self.resources = app_resources(backend)
        self.net = network(backend)
        self.cluster = cluster(backend)
        self.alb = alb(backend, self.net)
        self._ports = iter(range(8001, 8100))

    def deploy(
        self,
        name: str,
        *,
        env: dict[str, str | None] | None = None,
        grace: int = 60,
        health_check: dict[str, object] | None = None,
        container: str = "api",
        listener: bool = True,
        **tg: object,
    ) -> None:
        group = target_group(
            self.backend, self.net, self.alb if listener else None, name=name, listener_port=next(self._ports), **tg
        )  # type: ignore[arg-type]
        extra: dict[str, object] = {}
        if health_check is not None:
            extra["health_check"] = health_check
        td = api_task_definition(
            self.backend,
            self.resources,
            family=name,
            environment=self.resources.api_environment(**(env or {})),
            container_extra={"name": container},
            **extra,
        )  # type: ignore[arg-type]
        service(
            self.backend, self.net, self.cluster, name, td, target_group=group, grace=grace, container_name=container
        )


CURL_HEALTHZ = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1"], "startPeriod": 10}


@dataclass(frozen=True)
class ConsistencyResults:
    with_contract: CheckResult
    without_contract: CheckResult


@pytest.fixture(scope="module")
def consistency_results(stacks: Run) -> ConsistencyResults:
    zoo = Zoo(stacks.reset_emulator())
    zoo.deploy("good")
    zoo.deploy("wrong-path", path="/wrong")
    zoo.deploy("wrong-port", health_port="9090")
    zoo.deploy("matcher-302", matcher="302")
    zoo.deploy("short-grace", grace=10)
    zoo.deploy("slow-detect", HealthCheckIntervalSeconds=120, UnhealthyThresholdCount=5)
    zoo.deploy("app-port", env={"APP_PORT": "8000"})
    zoo.deploy("curl-healthz", health_check=CURL_HEALTHZ)
    # A target group no listener uses carries no traffic and runs no health check.
    zoo.deploy("no-listener", listener=False)
    return ConsistencyResults(
        run_check(consistency, CheckContext(backend=zoo.backend, app_dir=APP_DIR)),
        run_check(consistency, CheckContext(backend=zoo.backend)),
    )


@dataclass
class LiveResults:
    """health.live over one account: as configured, and as misconfigured in each way a user can."""

    configured: CheckResult
    unconfigured: CheckResult
    unknown_name: CheckResult
    not_found: CheckResult
    image_without_engine: CheckResult
    leftovers: dict[str, list[int]]


@pytest.fixture(scope="module")
def live_results(stacks: Run, tmp_path_factory: pytest.TempPathFactory) -> LiveResults:
    # Each case starts a stand-in once: only the cases that exercise a distinct path of the probe.
    scratch = tmp_path_factory.mktemp("live")
    zoo = Zoo(stacks.reset_emulator())
    zoo.deploy("good")
    zoo.deploy("wrong-path", path="/wrong")
    zoo.deploy("wrong-port", health_port="9090")
    zoo.deploy("matcher-302", matcher="302")
    zoo.deploy("no-models-bucket", env={"MODELS_BUCKET": None})
    zoo.deploy("curl-healthz", health_check=CURL_HEALTHZ)
    # Commands that misbehave: each leaves a child behind, which must not outlive the probe. The
    # shortest health-check settings AWS allows (5 s x 2 failures, no grace) bound the silent one's wait.
    quick = {"grace": 0, "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2, "UnhealthyThresholdCount": 2}
    for name in ("exits", "silent", "crash"):
        zoo.deploy(name, container=name, health_check={}, **quick)  # type: ignore[arg-type]
    # A load-balanced container nobody said how to run.
    zoo.deploy("other-team", container="web", health_check={})
    child = "sleep 300 & echo $! > {scratch}/{name}; "
    commands = {
        "api": API_COMMAND,
        "exits": "sh -c '" + child.format(scratch=scratch, name="exits") + "echo fatal: no config >&2; exit 3'",
        "silent": "sh -c '" + child.format(scratch=scratch, name="silent") + "echo serving on 9999; exec sleep 300'",
        "crash": "python -c 'import no_such_module_here'",
    }
    context = CheckContext(backend=zoo.backend, app_dir=APP_DIR, container_commands=commands)
    configured = run_check(live, context)
    unconfigured = run_check(live, CheckContext(backend=zoo.backend, app_dir=APP_DIR))
    leftovers = {name: _alive_in((scratch / name).read_text()) for name in ("exits", "silent")}
    return LiveResults(
        configured=configured,
        unconfigured=unconfigured,
        unknown_name=run_check(live, CheckContext(backend=zoo.backend, container_commands={"apii": API_COMMAND})),
        not_found=run_check(live, CheckContext(backend=zoo.backend, container_commands={"api": "pyhton3 web.py"})),
        image_without_engine=run_check(
            live, CheckContext(backend=zoo.backend, container_commands={"api": "docker:example/api:1"})
        ),
        leftovers=leftovers,
    )


def _alive_in(pid_text: str) -> list[int]:
    """The pid written by a stand-in's child, if that child (not a zombie) is still running."""
    time.sleep(0.1)
    pid = int(pid_text)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return []
    return [] if state == "Z" else [pid]


# -- health.consistency ------------------------------------------------------------------------------


def test_consistency_passes_when_target_group_container_and_app_agree(consistency_results: ConsistencyResults) -> None:
    finding = _finding(consistency_results.with_contract, "good")
    assert finding.passed, finding.evidence
    assert "HTTP /health on traffic-port (container port 8080), matcher 200" in finding.evidence
    assert (
        "vs container healthCheck `python -m modelserve.healthcheck` reading APP_PORT=8080, HEALTH_PATH=/health "
        "(the app's contract)"
    ) in finding.evidence
    assert "grace 60 s, startPeriod 30 s" in finding.evidence
    assert "healthy after 2x15 s, unhealthy after 3x15 s; deregistration delay 300 s" in finding.evidence


@pytest.mark.parametrize(
    ("service_name", "expected"),
    [
        ("wrong-path", "target group path /wrong ≠ /health used by the container healthCheck"),
        ("wrong-port", "health check port 9090 is neither the traffic port 8080 nor a mapped container port"),
        ("matcher-302", "matcher 302 rejects 200, the answer the container healthCheck passes on"),
        ("short-grace", "healthCheckGracePeriodSeconds=10 < container startPeriod 30 s"),
        ("slow-detect", "a failing task stays in service 5x120 s = 600 s"),
        ("app-port", "APP_PORT=8000 but the target group's traffic goes to container port 8080"),
        ("curl-healthz", "target group path /health ≠ /healthz used by the container healthCheck"),
    ],
)
def test_consistency_fails_with_the_mismatch(
    consistency_results: ConsistencyResults, service_name: str, expected: str
) -> None:
    finding = _finding(consistency_results.with_contract, service_name)
    assert not finding.passed
    assert expected in finding.evidence
    assert consistency_results.with_contract.status is Status.FAIL


def test_consistency_follows_the_port_variable_into_the_container_check(
    consistency_results: ConsistencyResults,
) -> None:
    # The healthcheck program reads APP_PORT too, so it agrees with the app; only the mapping is wrong.
    assert "the container healthCheck asks port" not in _finding(consistency_results.with_contract, "app-port").evidence


def test_consistency_without_the_apps_contract_reads_only_what_commands_say(
    consistency_results: ConsistencyResults,
) -> None:
    """No library can know what a program health check asks; a curl command says it itself."""
    result = consistency_results.without_contract
    good = _finding(result, "good")
    assert good.passed and "(no readable container healthCheck)" in good.evidence
    # APP_PORT is the app's own name: unknown without its contract, so not compared.
    assert _finding(result, "app-port").passed
    assert "target group path /health ≠ /healthz used by the container healthCheck" in (
        _finding(result, "curl-healthz").evidence
    )


def test_consistency_ignores_target_groups_without_a_listener(consistency_results: ConsistencyResults) -> None:
    result = consistency_results.with_contract
    assert not [f for f in result.findings if "/no-listener →" in f.evidence]
    assert len(result.findings) == 8


# -- health.live ---------------------------------------------------------------------------------------


def test_live_passes_both_checks_against_the_running_app(live_results: LiveResults) -> None:
    finding = _finding(live_results.configured, "good")
    assert finding.passed, finding.evidence
    assert f"good:1 container api (image {IMAGE}) measured as `{API_COMMAND}` run from {APP_DIR} (PORT=" in (
        finding.evidence
    )
    assert "stands in for container port 8080" in finding.evidence
    assert "healthy: GET /health on 127.0.0.1:" in finding.evidence
    assert "[200, 200] vs matcher 200" in finding.evidence
    assert "the real 15 s interval not waited" in finding.evidence
    assert "container healthCheck `python -m modelserve.healthcheck` → exit 0" in finding.evidence
    assert "secrets DB_SECRET" in finding.evidence
    assert "s3cr3t" not in finding.evidence


@pytest.mark.parametrize(
    ("service_name", "expected"),
    [
        ("wrong-path", "[404, 404, 404] vs matcher 200"),
        ("matcher-302", "[200, 200, 200] vs matcher 302"),
        ("wrong-port", "no answer (ConnectionRefusedError"),
    ],
)
def test_live_fails_when_the_alb_check_cannot_pass(live_results: LiveResults, service_name: str, expected: str) -> None:
    finding = _finding(live_results.configured, service_name)
    assert not finding.passed
    assert "unhealthy: GET" in finding.evidence
    assert expected in finding.evidence
    # The container's own check still passes: only the ALB's view is wrong.
    assert "container healthCheck `python -m modelserve.healthcheck` → exit 0" in finding.evidence


def test_live_fails_when_the_task_definition_misses_a_variable(live_results: LiveResults) -> None:
    finding = _finding(live_results.configured, "no-models-bucket")
    assert not finding.passed
    assert "api crashed before it listened on 127.0.0.1:" in finding.evidence
    assert "(exit code 2); last output: " in finding.evidence
    assert "MODELS_BUCKET" in finding.evidence
    # The remedy is about the command and its environment, not about health paths.
    assert f"; remedy: find out why `{API_COMMAND}` (from {APP_DIR}) stops with the environment it was given" in (
        finding.evidence
    )


def test_live_fails_when_the_container_check_asks_a_route_the_app_lacks(live_results: LiveResults) -> None:
    # The app serves /health, not /healthz: with or without curl here, the container check cannot pass,
    # while the ALB's (right) check does.
    finding = _finding(live_results.configured, "curl-healthz")
    assert not finding.passed
    assert "healthy: GET /health" in finding.evidence
    assert "container healthCheck `curl -f http://localhost:8080/healthz || exit 1` → exit" in finding.evidence
    assert "→ exit 0" not in finding.evidence


@pytest.mark.parametrize(
    ("service_name", "expected"),
    [
        ("exits", "exits crashed before it listened on 127.0.0.1:"),
        ("exits", "(exit code 3)"),
        ("exits", "last output: fatal: no config"),
        ("silent", "(PORT) within 10 s, so stackprobe stopped it (killed by SIGTERM); does COMMAND listen on $PORT"),
        ("silent", "last output: serving on 9999"),
        ("crash", "crash crashed before it listened"),
        ("crash", "ModuleNotFoundError: No module named 'no_such_module_here'"),
    ],
)
def test_live_fails_with_the_exit_code_and_output_of_a_command_that_does_not_serve(
    live_results: LiveResults, service_name: str, expected: str
) -> None:
    finding = _finding(live_results.configured, service_name)
    assert not finding.passed
    assert expected in finding.evidence


def test_live_leaves_no_process_of_a_failed_command_running(live_results: LiveResults) -> None:
    assert live_results.leftovers == {"exits": [], "silent": []}


def test_live_names_the_load_balanced_containers_it_was_not_told_how_to_run(live_results: LiveResults) -> None:
    result = live_results.configured
    assert result.status is Status.FAIL  # the defective services above; the note changes nothing
    notes = [f for f in result.findings if f.severity is Severity.INFO]
    assert len(notes) == 1 and notes[0].passed
    assert "not probed: sp-test/other-team → other-team-tg: container web" in notes[0].evidence
    assert "`stackprobe verify DIR --container 'web=python3 app.py'`" in notes[0].evidence
    assert 'stackprobe_containers = ["web=python3 app.py"]' in notes[0].evidence
    assert len(result.findings) == 10


def test_live_is_not_applicable_when_no_container_is_configured_and_says_how_to_configure_them(
    live_results: LiveResults,
) -> None:
    assert live_results.unconfigured.status is Status.NOT_APPLICABLE
    message = live_results.unconfigured.not_applicable_reason
    assert "container api" in message and "container web" in message and "container exits" in message
    assert "--container 'api=python3 app.py'" in message
    assert '"api=python3 app.py"' in message and '"web=python3 app.py"' in message
    assert f"COMMAND runs from {APP_DIR}" in message


def test_a_name_that_matches_no_container_is_an_error_listing_those_that_exist(live_results: LiveResults) -> None:
    result = live_results.unknown_name
    assert result.status is Status.ERROR
    assert "No container of the deployed task definitions is named 'apii'" in result.error
    assert "api (good:1, service sp-test/good)" in result.error and "web (other-team:1" in result.error


def test_a_command_that_is_not_found_is_an_error(live_results: LiveResults) -> None:
    result = live_results.not_found
    assert result.status is Status.ERROR
    assert "The command of container api cannot start: pyhton3: not found on PATH" in result.error


def test_an_image_is_skipped_with_the_reason_where_no_docker_engine_answers(live_results: LiveResults) -> None:
    if docker_unavailable_reason() is None:
        pytest.skip("a Docker engine answers here; tests/harness/checks/test_probes_app.py runs an image instead")
    result = live_results.image_without_engine
    assert result.status is Status.SKIPPED
    assert "api=docker:example/api:1 runs an image, and no Docker engine answers here" in result.skipped_reason


def test_not_applicable_without_services(clean_backend: AwsBackend) -> None:
    empty = CheckContext(backend=clean_backend, container_commands={"api": API_COMMAND})
    assert run_check(consistency, empty).status is Status.NOT_APPLICABLE
    assert run_check(live, empty).status is Status.NOT_APPLICABLE
    assert run_check(live, empty).not_applicable_reason == "no aws_ecs_service deployed"
    # A service without a load balancer has no target group health check to compare (a context is one
    # moment: the service deployed after it is judged by a new one); health.live probes it all the same
    # (tests/harness/checks/test_checks_health_tasks.py).
    resources = app_resources(clean_backend)
    net = network(clean_backend)
    td = api_task_definition(clean_backend, resources)
    service(clean_backend, net, cluster(clean_backend), "internal", td)
    unbalanced = CheckContext(backend=clean_backend, container_commands={"api": API_COMMAND})
    assert run_check(consistency, unbalanced).status is Status.NOT_APPLICABLE
