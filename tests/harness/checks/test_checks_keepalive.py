"""edge.keep-alive, live: stand-in servers whose keep-alive each case chooses, behind ALBs built in the emulator.

The stand-in (keepalive_app/keepalive_server.py, the stdlib's HTTP/1.1 server) keeps an idle connection for
--idle seconds, may advertise Keep-Alive: timeout=N, or may close every connection. One service per case, each
with a container of its own name, so that one run of the check probes them all (module fixture); each probe
waits at most MAX_IDLE_PROBE_SECONDS, never the ALB's 60 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from compute_builders import IMAGE, alb, api_task_definition, app_resources, cluster, network, service, target_group

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.keepalive import MAX_IDLE_PROBE_SECONDS, judge, keep_alive
from stackprobe.lifecycle.run import Run
from stackprobe.probes.keepalive import KeepAliveMeasurement, advertised_timeout

pytestmark = pytest.mark.harness

APP_DIR = Path(__file__).parent / "keepalive_app"
SERVER = "python keepalive_server.py"
GO_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/gateway-go:1.4"


@dataclass(frozen=True)
class Results:
    probed: CheckResult
    silent_only: CheckResult
    stand_ins_only: CheckResult

    def service(self, name: str) -> Finding:
        matches = [f for f in self.probed.findings if f"/{name} → " in f.evidence]
        assert len(matches) == 1, [f.evidence for f in self.probed.findings]
        return matches[0]


class Zoo:
    """Services behind ALBs, each running the container `container` of its own task definition."""

    def __init__(self, backend: AwsBackend) -> None:
        self.backend = backend
        self.resources = app_resources(backend)
        self.net = network(backend)
        self.cluster = cluster(backend)
        self.albs: dict[int, str] = {}
        self._ports = iter(range(8101, 8200))

    def balancer(self, idle_timeout: int) -> str:
        if idle_timeout not in self.albs:
            arn = alb(self.backend, self.net, f"sp-idle-{idle_timeout}")
            self.backend.client("elbv2").modify_load_balancer_attributes(
                LoadBalancerArn=arn, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": str(idle_timeout)}]
            )
            self.albs[idle_timeout] = arn
        return self.albs[idle_timeout]

    def deploy(self, name: str, container: str, *, idle_timeout: int = 60, image: str = IMAGE, **env: str) -> None:
        group = target_group(
            self.backend, self.net, self.balancer(idle_timeout), name=name, listener_port=next(self._ports), path="/"
        )
        task = api_task_definition(
            self.backend,
            self.resources,
            family=name,
            environment=self.resources.api_environment(**env),
            health_check=None,
            image=image,
            container_extra={"name": container},
        )
        service(self.backend, self.net, self.cluster, name, task, target_group=group, container_name=container)


@pytest.fixture(scope="module")
def results(stacks: Run) -> Results:
    zoo = Zoo(stacks.reset_emulator())
    zoo.deploy("short", "short")
    zoo.deploy("advertised", "advertised")
    zoo.deploy("lies", "lies")
    zoo.deploy("closes", "closes")
    zoo.deploy("declared-long", "declared", SERVER_KEEPALIVE="90")
    zoo.deploy("declared-short", "declared", SERVER_KEEPALIVE="30")
    zoo.deploy("quick-balancer", "quiet", idle_timeout=3)
    # A Go gateway, and a Python stand-in for each (marked, and not): measuring them would blame the stand-in's
    # short keep-alive on a Go server that has none.
    zoo.deploy("go-gateway", "gateway", image=GO_IMAGE)
    zoo.deploy("go-edge", "edge", image=GO_IMAGE)
    commands = {
        "short": f"{SERVER} --idle 2",  # gunicorn's default keep-alive
        "advertised": f"{SERVER} --idle 120 --advertise 120",
        "lies": f"{SERVER} --idle 3 --advertise 120",
        "closes": f"{SERVER} --idle 120 --close",
        "declared": f"{SERVER} --idle 120",
        "quiet": f"{SERVER} --idle 30",
        "gateway": f"stand-in:{SERVER} --idle 2",
        "edge": f"{SERVER} --idle 2",
    }
    probed = run_check(keep_alive, CheckContext(backend=zoo.backend, app_dir=APP_DIR, container_commands=commands))
    stand_ins = {name: commands[name] for name in ("gateway", "edge")}
    stand_ins_only = run_check(
        keep_alive, CheckContext(backend=zoo.backend, app_dir=APP_DIR, container_commands=stand_ins)
    )

    silent = Zoo(stacks.reset_emulator())
    silent.deploy("silent", "silent")
    silent_only = run_check(
        keep_alive,
        CheckContext(backend=silent.backend, app_dir=APP_DIR, container_commands={"silent": f"{SERVER} --idle 120"}),
    )
    return Results(probed, silent_only, stand_ins_only)


def test_a_keep_alive_shorter_than_the_idle_timeout_is_measured_and_fails(results: Results) -> None:
    finding = results.service("short")
    assert finding.passed is False
    assert "then the server closed the idle connection after 2." in finding.evidence
    assert "shorter than the load balancer's idle timeout 60 s" in finding.evidence
    assert "(behind sp-idle-60-alb, idle timeout 60 s)" in finding.evidence


def test_a_server_that_advertises_a_longer_keep_alive_passes(results: Results) -> None:
    finding = results.service("advertised")
    assert finding.passed
    assert f"still open after {MAX_IDLE_PROBE_SECONDS:.1f} s" in finding.evidence
    assert "its Keep-Alive header says 120 s, longer than the load balancer's idle timeout 60 s" in finding.evidence


def test_an_advertisement_the_server_does_not_keep_fails(results: Results) -> None:
    finding = results.service("lies")
    assert finding.passed is False
    assert "closed the idle connection after 3." in finding.evidence
    assert "although its Keep-Alive header says 120 s" in finding.evidence


def test_a_server_that_closes_every_connection_has_no_idle_race(results: Results) -> None:
    finding = results.service("closes")
    assert finding.passed
    assert "Connection: close: no keep-alive at all" in finding.evidence


def test_the_apps_contract_states_the_keep_alive_its_server_reads(results: Results) -> None:
    longer, shorter = results.service("declared-long"), results.service("declared-short")
    assert longer.passed
    assert "the app's contract (its server reads SERVER_KEEPALIVE=90) says 90 s" in longer.evidence
    assert shorter.passed is False
    assert "says 30 s, not longer than the load balancer's idle timeout 60 s" in shorter.evidence


def test_a_short_idle_timeout_is_outlasted_on_the_wire(results: Results) -> None:
    finding = results.service("quick-balancer")
    assert finding.passed
    assert "still open after 4.0 s" in finding.evidence
    assert "longer than the load balancer's idle timeout 3 s" in finding.evidence
    assert results.probed.status == Status.FAIL


def test_a_server_that_stays_open_and_states_nothing_is_not_passed(results: Results) -> None:
    assert results.silent_only.status == Status.SKIPPED
    assert "states no keep-alive: against an idle timeout of 60 s that proves nothing" in (
        results.silent_only.skipped_reason
    )


def test_an_open_connection_is_decided_only_by_a_stated_keep_alive() -> None:
    silent = KeepAliveMeasurement(200, False, None, 6.0, None)
    assert judge(silent, 60, None, "")[0] is None
    assert judge(silent, 60, 75, "the app's contract")[0] is True
    assert judge(silent, 60, 60, "the app's contract")[0] is False


@pytest.mark.parametrize(
    ("header", "seconds"), [("timeout=5, max=100", 5), ("max=100, timeout=75", 75), ("max=100", None), (None, None)]
)
def test_the_advertised_timeout_is_read_from_the_keep_alive_header(header: str | None, seconds: int | None) -> None:
    assert advertised_timeout(header) == seconds


def test_a_stand_in_is_not_judged_as_the_tasks_server(results: Results) -> None:
    """Marked (`stand-in:`) or evidently another server than the task's image: not applicable, never a finding."""
    judged = [f.evidence for f in results.probed.findings if f.resource != "edge.keep-alive"]
    assert not [evidence for evidence in judged if "/go-gateway → " in evidence or "/go-edge → " in evidence]
    note = next(f for f in results.probed.findings if f.resource == "edge.keep-alive").evidence
    assert (
        "sp-test/go-gateway → go-gateway-tg (behind sp-idle-60-alb, idle timeout 60 s): not applicable: measured a "
        f"stand-in (gateway=stand-in:{SERVER} --idle 2 is marked as a stand-in), whose keep-alive is its own "
        "server's, not the task's; go-gateway:1 container gateway (image "
    ) in note
    assert (
        f"not applicable: measured a stand-in (the task's image {GO_IMAGE} is a Go server and `{SERVER} --idle 2` "
        "is a Python one: evidently different servers)"
    ) in note
    assert results.stand_ins_only.status is Status.NOT_APPLICABLE
    assert "measured a stand-in" in results.stand_ins_only.not_applicable_reason
