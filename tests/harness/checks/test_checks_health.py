"""health.consistency and health.live against ECS services behind an ALB, built in the emulator.

One account holds a correct service and one service per defect (each behind its own listener), and
both checks run once over it (module fixture): every test then asserts on its service's finding.
Resetting moto and starting the app dominate the run time, so they happen once, not per case.
"""

from __future__ import annotations

import pytest
from compute_builders import (
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
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.health import consistency, live
from stackprobe.session import StackSession

pytestmark = pytest.mark.harness


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
        image: str | None = None,
        listener: bool = True,
        **tg: object,
    ) -> None:
        group = target_group(
            self.backend, self.net, self.alb if listener else None, name=name, listener_port=next(self._ports), **tg
        )  # type: ignore[arg-type]
        extra: dict[str, object] = {}
        if health_check is not None:
            extra["health_check"] = health_check
        if image is not None:
            extra["image"] = image
        td = api_task_definition(
            self.backend,
            self.resources,
            family=name,
            environment=self.resources.api_environment(**(env or {})),
            **extra,
        )  # type: ignore[arg-type]
        service(self.backend, self.net, self.cluster, name, td, target_group=group, grace=grace)


CURL_HEALTHZ = {"command": ["CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1"], "startPeriod": 10}


@pytest.fixture(scope="module")
def consistency_result(stacks: StackSession) -> CheckResult:
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
    return run_check(consistency, CheckContext(backend=zoo.backend))


@pytest.fixture(scope="module")
def live_result(stacks: StackSession) -> CheckResult:
    # Each case starts the app once: only the cases that exercise a distinct path of the probe.
    zoo = Zoo(stacks.reset_emulator())
    zoo.deploy("good")
    zoo.deploy("wrong-path", path="/wrong")
    zoo.deploy("wrong-port", health_port="9090")
    zoo.deploy("matcher-302", matcher="302")
    zoo.deploy("no-models-bucket", env={"MODELS_BUCKET": None})
    zoo.deploy("curl-healthz", health_check=CURL_HEALTHZ)
    zoo.deploy("nginx", image="public.ecr.aws/nginx/nginx:1.27", health_check={})
    return run_check(live, CheckContext(backend=zoo.backend))


# -- health.consistency ------------------------------------------------------------------------------


def test_consistency_passes_when_target_group_container_and_app_agree(consistency_result: CheckResult) -> None:
    finding = _finding(consistency_result, "good")
    assert finding.passed, finding.evidence
    assert "HTTP /health on traffic-port (container port 8080), matcher 200" in finding.evidence
    assert "modelserve.healthcheck (APP_PORT=8080, HEALTH_PATH=/health)" in finding.evidence
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
def test_consistency_fails_with_the_mismatch(consistency_result: CheckResult, service_name: str, expected: str) -> None:
    finding = _finding(consistency_result, service_name)
    assert not finding.passed
    assert expected in finding.evidence
    assert consistency_result.status is Status.FAIL


def test_consistency_follows_app_port_into_the_container_check(consistency_result: CheckResult) -> None:
    # modelserve.healthcheck reads APP_PORT too, so it agrees with the app; only the mapping is wrong.
    assert "the container healthCheck asks port" not in _finding(consistency_result, "app-port").evidence


def test_consistency_ignores_target_groups_without_a_listener(consistency_result: CheckResult) -> None:
    assert not [f for f in consistency_result.findings if "/no-listener →" in f.evidence]
    assert len(consistency_result.findings) == 8


# -- health.live ---------------------------------------------------------------------------------------


def test_live_passes_both_checks_against_the_running_app(live_result: CheckResult) -> None:
    finding = _finding(live_result, "good")
    assert finding.passed, finding.evidence
    assert "healthy: GET /health on 127.0.0.1:" in finding.evidence
    assert "[200, 200] vs matcher 200" in finding.evidence
    assert "the real 15 s interval not waited" in finding.evidence
    assert "container healthCheck `python -m modelserve.healthcheck` → exit 0" in finding.evidence
    assert "container port 8080 → 127.0.0.1:" in finding.evidence
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
def test_live_fails_when_the_alb_check_cannot_pass(live_result: CheckResult, service_name: str, expected: str) -> None:
    finding = _finding(live_result, service_name)
    assert not finding.passed
    assert "unhealthy: GET" in finding.evidence
    assert expected in finding.evidence
    # The container's own check still passes: only the ALB's view is wrong.
    assert "container healthCheck `python -m modelserve.healthcheck` → exit 0" in finding.evidence


def test_live_fails_when_the_task_definition_misses_a_variable(live_result: CheckResult) -> None:
    finding = _finding(live_result, "no-models-bucket")
    assert not finding.passed
    assert "api exited with code 2 at start-up" in finding.evidence
    assert "MODELS_BUCKET" in finding.evidence


def test_live_fails_when_the_container_check_asks_a_route_the_app_lacks(live_result: CheckResult) -> None:
    # The app serves /health, not /healthz: with or without curl here, the container check cannot pass,
    # while the ALB's (right) check does.
    finding = _finding(live_result, "curl-healthz")
    assert not finding.passed
    assert "healthy: GET /health" in finding.evidence
    assert "container healthCheck `curl -f http://localhost:8080/healthz || exit 1` → exit" in finding.evidence
    assert "→ exit 0" not in finding.evidence


def test_live_skips_images_it_cannot_stand_in_for(live_result: CheckResult) -> None:
    assert not [f for f in live_result.findings if "/nginx →" in f.evidence]
    assert len(live_result.findings) == 6


def test_not_applicable_without_load_balanced_services(clean_backend: AwsBackend) -> None:
    context = CheckContext(backend=clean_backend)
    assert run_check(consistency, context).status is Status.NOT_APPLICABLE
    assert run_check(live, context).status is Status.NOT_APPLICABLE
    # A service without a load balancer has no target group health check either.
    resources = app_resources(clean_backend)
    net = network(clean_backend)
    td = api_task_definition(clean_backend, resources)
    service(clean_backend, net, cluster(clean_backend), "internal", td)
    assert run_check(consistency, context).status is Status.NOT_APPLICABLE
    assert run_check(live, context).status is Status.NOT_APPLICABLE
