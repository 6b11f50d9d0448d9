"""health.live on every service and every essential container: workers, sidecars, tasks of several containers.

One account in the embedded emulator holds a service per case, built with boto3 as a deployed stack would hold
it; health.live runs once over it (module fixture) and each test reads its service's findings. The containers
are the small apps of tests/harness/checks/task_apps, configured as any user's are (`NAME=COMMAND`, run from
that directory):
- workers without a load balancer: one whose healthCheck passes, one that hangs (its healthCheck fails), one
  that crashes after a second, one with no healthCheck at all, one that ignores SIGTERM (its stop is in evidence);
- a web container behind a load balancer whose health depends on its sidecar at `localhost:6379`, with the
  sidecar configured (healthy) and without it (unhealthy, and the evidence says the sidecar was not run);
- a task whose dependsOn form a cycle; a container that calls out (the network guard's record in evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from compute_builders import alb, cluster, network, service, target_group

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Severity, Status
from stackprobe.checks.health import live
from stackprobe.lifecycle.run import Run
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import ContainerCommand
from stackprobe.probes.egress import NOT_AWS

pytestmark = pytest.mark.harness

APP_DIR = Path(__file__).parent / "task_apps"
HEALTH_CHECK = {"command": ["CMD", "python", "worker.py", "--check"], "retries": 2, "startPeriod": 2}
OUTSIDE = "http://api.partner.example/v1/ping"


def register(backend: AwsBackend, family: str, *containers: dict[str, Any]) -> str:
    return str(
        backend.client("ecs").register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[{"image": f"example/{family}:1", "essential": True, **c} for c in containers],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def env(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]


@dataclass(frozen=True)
class Results:
    configured: CheckResult
    unknown_name: CheckResult
    jwks: str

    def of(self, service_name: str) -> list[Finding]:
        return [f for f in self.configured.findings if f"/{service_name} →" in f.evidence]

    def one(self, service_name: str, container: str = "") -> Finding:
        found = [f for f in self.of(service_name) if f.severity is None and container in f.evidence]
        assert len(found) == 1, [f.evidence for f in self.of(service_name)]
        return found[0]


@pytest.fixture(scope="module")
def results(stacks: Run, tmp_path_factory: pytest.TempPathFactory) -> Results:
    beats = tmp_path_factory.mktemp("heartbeats")
    backend = stacks.reset_emulator()
    net, name = network(backend), cluster(backend)
    balancer = alb(backend, net, "sp-tasks")

    def worker(service_name: str, container: str, **extra: Any) -> None:
        definition = {"name": container, "environment": env(HEARTBEAT_FILE=str(beats / container)), **extra}
        service(backend, net, name, service_name, register(backend, service_name, definition), desired=1, grace=None)

    worker("worker-ok", "beat", healthCheck=HEALTH_CHECK)
    worker("worker-hung", "hung", healthCheck=HEALTH_CHECK)
    worker("worker-crash", "crashy")
    worker("worker-plain", "plain")
    worker("worker-deaf", "deaf", stopTimeout=2)

    def web_and_sidecar(service_name: str, web: str, sidecar: str, listener_port: int) -> None:
        task = register(
            backend,
            service_name,
            {
                "name": web,
                "portMappings": [{"containerPort": 8080}],
                "environment": env(SIDECAR_URL="http://localhost:6379/ping"),
                "dependsOn": [{"containerName": sidecar, "condition": "START"}],
            },
            {"name": sidecar, "portMappings": [{"containerPort": 6379}]},
        )
        group = target_group(backend, net, balancer, name=service_name, listener_port=listener_port, path="/health")
        service(backend, net, name, service_name, task, target_group=group, container_name=web, grace=0)

    web_and_sidecar("with-sidecar", "web", "cache", 8201)
    web_and_sidecar("sidecar-missing", "lonely", "absent", 8202)
    cycle = [
        {"name": "loop-a", "dependsOn": [{"containerName": "loop-b", "condition": "START"}]},
        {"name": "loop-b", "dependsOn": [{"containerName": "loop-a", "condition": "START"}]},
    ]
    service(backend, net, name, "cycle", register(backend, "cycle", *cycle), desired=1, grace=None)
    pool = backend.client("cognito-idp").create_user_pool(PoolName="sp-users")["UserPool"]["Id"]
    jwks = f"http://cognito-idp.{backend.region}.amazonaws.com/{pool}/.well-known/jwks.json"
    caller = register(backend, "caller", {"name": "caller", "portMappings": [{"containerPort": 8080}]})
    service(backend, net, name, "egress", caller, desired=1, grace=None)
    # A one-off task (a migration, run with RunTask): its container can be configured, and is not started.
    register(backend, "sp-migrate", {"name": "migrate", "command": ["python", "migrate.py"]})
    commands = {
        "beat": "python worker.py --drain 1",
        "deaf": "python worker.py --ignore-term",
        "hung": "python worker.py --stall",
        "crashy": "python worker.py --crash-after 1",
        "plain": "python worker.py",
        "web": "python web.py",
        "cache": "python sidecar.py",
        "lonely": "python web.py",
        "loop-a": "python sidecar.py",
        "caller": f"python caller.py --serve {jwks} {OUTSIDE}",
        "migrate": "python migrate.py",
    }
    context = CheckContext(backend=backend, app_dir=APP_DIR, container_commands=commands)
    unknown = CheckContext(backend=backend, app_dir=APP_DIR, container_commands={"cahce": "python sidecar.py"})
    return Results(run_check(live, context), run_check(live, unknown), jwks)


# -- workers: no load balancer -----------------------------------------------------------------------------------


def test_a_worker_whose_health_check_passes_and_that_keeps_running_passes(results: Results) -> None:
    finding = results.one("worker-ok")
    assert finding.passed, finding.evidence
    assert finding.evidence.startswith(
        "sp-test/worker-ok → container beat: container healthCheck `python worker.py --check` → exit 0 after"
    )
    assert "still running 3 s after it started (grace period 0 s, startPeriod 2; watched 3 s, within 3-30 s)" in (
        finding.evidence
    )
    assert (
        "worker-ok:1 container beat (image example/worker-ok:1) measured as `python worker.py --drain 1` run from "
        f"{APP_DIR}" in finding.evidence
    )


def test_how_each_container_took_the_stop_is_in_its_evidence(results: Results) -> None:
    """ECS stops a task with SIGTERM, then SIGKILL after the stop timeout; the probe does the same, and says how long
    the container took: where a run's time goes (a long poll waited out), and what a deploy or scale-in will meet."""
    drained = re.search(
        r"stopped as ECS stops it: SIGTERM, then exit code 0 after (\d+\.\d) s \(stop timeout 30 s\)",
        (results.one("worker-ok").evidence),
    )
    assert drained is not None, results.one("worker-ok").evidence
    assert 1.0 <= float(drained.group(1)) < 30  # the worker drains for 1 s after SIGTERM
    deaf = results.one("worker-deaf")
    assert deaf.passed, deaf.evidence  # evidence only: health.live judges the health checks, not the stop
    assert deaf.evidence.endswith(
        "stopped as ECS stops it: SIGTERM, still running at the end of its stop timeout (2 s), then SIGKILL, which "
        "ECS sends too: what it is doing when a deploy or a scale-in stops it is lost"
    )


def test_a_worker_that_hangs_fails_as_its_health_check_says(results: Results) -> None:
    finding = results.one("worker-hung")
    assert not finding.passed
    assert "container healthCheck `python worker.py --check` → exit 1 after" in finding.evidence
    assert "within the startPeriod, not counted): stale heartbeat:" in finding.evidence
    assert "still running 3 s after it started" in finding.evidence  # running, and yet unhealthy


def test_a_worker_that_crashes_after_it_started_fails_with_its_exit_code_and_output(results: Results) -> None:
    finding = results.one("worker-crash")
    assert not finding.passed
    assert "crashed within the 3 s it must keep running (exit code 3; grace period 0 s, startPeriod none" in (
        finding.evidence
    )
    assert "last output: worker polling | fatal: lost the queue connection; remedy: find out why " in finding.evidence
    assert "the task definition's variables (HEARTBEAT_FILE)" in finding.evidence


def test_a_worker_without_a_health_check_is_judged_by_staying_up_and_noted(results: Results) -> None:
    findings = results.of("worker-plain")
    assert [f.severity for f in findings] == [None, Severity.INFO]
    assert findings[0].passed and "still running 3 s after it started" in findings[0].evidence
    assert findings[1].evidence == (
        "sp-test/worker-plain → container plain: no container healthCheck, so ECS replaces its task only when the "
        "process exits, never when it hangs; judged here by staying up"
    )


# -- a task of several containers -------------------------------------------------------------------------------


def test_a_container_reaches_its_sibling_at_localhost_through_the_rewrite(results: Results) -> None:
    web = results.one("with-sidecar", "→ with-sidecar-tg:")
    assert web.passed, web.evidence
    assert "ALB check healthy: GET /health" in web.evidence
    assert "started after cache started" in web.evidence
    assert (
        "SIDECAR_URL: localhost:6379 → 127.0.0.1:" in web.evidence and "(container cache's port 6379)" in web.evidence
    )
    cache = results.one("with-sidecar", "→ container cache:")
    assert cache.passed, cache.evidence
    assert "still running 3 s after it started" in cache.evidence and "listens on container port 6379" in cache.evidence
    note = [f for f in results.of("with-sidecar") if f.severity is Severity.INFO]
    assert note and "container cache: no container healthCheck" in note[0].evidence
    assert "judged here by staying up and listening" in note[0].evidence


def test_a_sibling_that_is_not_run_here_is_named_in_the_failure(results: Results) -> None:
    finding = results.one("sidecar-missing")
    assert not finding.passed
    assert "unhealthy: GET /health" in finding.evidence and "[503, 503, 503]" in finding.evidence
    assert "its dependency absent (START) is not run here (no --container absent=...)" in finding.evidence
    notes = [f for f in results.configured.findings if f.resource == "health.live"]
    assert "sp-test/sidecar-missing: container absent" in notes[0].evidence


def test_a_depends_on_cycle_fails_and_names_the_cycle(results: Results) -> None:
    finding = results.one("cycle")
    assert not finding.passed
    assert finding.evidence == (
        "sp-test/cycle → task cycle:1: ECS would never start it: the containers' dependsOn form a cycle: "
        "loop-a → loop-b → loop-a"
    )


# -- the network guard and the settings -----------------------------------------------------------------------------


def test_refused_and_emulated_destinations_are_in_the_evidence(results: Results) -> None:
    finding = results.one("egress")
    assert finding.passed, finding.evidence
    assert f"outbound requests refused ({NOT_AWS}): GET {OUTSIDE}" in finding.evidence
    assert f"answered by the emulator: GET {results.jwks}" in finding.evidence


def test_a_jwks_url_gets_the_emulators_keys(stacks: Run, results: Results) -> None:
    backend = stacks.backend
    arn = backend.client("ecs").describe_services(cluster="sp-test", services=["egress"])["services"][0][
        "taskDefinition"
    ]
    how = ContainerCommand("caller", command=f"python caller.py {results.jwks}")
    process = TaskLaunch.from_task_definition(backend, arn, how, run_dir=APP_DIR).process()
    process.spawn()
    assert process.wait(timeout=60) == 0, process.output
    assert f'{results.jwks} -> 200 {{"keys": [{{"alg": "RS256"' in process.output


def test_configured_containers_that_are_not_probed_are_never_silent(results: Results) -> None:
    notes = [f for f in results.configured.findings if f.resource == "health.live"]
    assert len(notes) == 1 and notes[0].severity is Severity.INFO
    assert (
        "container migrate (sp-migrate:1, no service runs it): health.live starts the tasks of services; a one-off "
        "task is not started" in notes[0].evidence
    )
    assert "sp-test/cycle: container loop-b" in notes[0].evidence


def test_an_unknown_container_name_is_an_error_listing_the_names_that_exist(results: Results) -> None:
    result = results.unknown_name
    assert result.status is Status.ERROR
    assert result.error.startswith(
        "ContainerConfigError: No container of the deployed task definitions is named 'cahce'"
    )
    assert "cache (with-sidecar:1, service sp-test/with-sidecar)" in result.error
    assert "migrate (sp-migrate:1, no service runs it)" in result.error
