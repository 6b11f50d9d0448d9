"""Each check's time is recorded and the reports name the slowest, so that a user sees where a run's checks go.

A verify's checks phase is mostly the probes that start the app and wait as ECS would: health.live waits out a
worker's graceful stop (its SQS long poll), edge.keep-alive holds a connection idle past the app's keep-alive.
The "Timings" line gave the phase as one figure; the text report now names the checks that took a second or
more, the JSON report carries each check's seconds and JUnit each test case's time, as CI systems show them.
The clock is the test's own: the figures are exact, not raced against the machine.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

import stackprobe.checks as checks_module
from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import Category, Check, CheckContext, CheckResult, Finding, Severity, check
from stackprobe.report.model import SLOWEST_SHOWN, RunReport
from stackprobe.report.render import to_json, to_junit, to_terminal

pytestmark = pytest.mark.harness


class Clock:
    """run_check's clock: moves only when a check says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(checks_module, "monotonic", fake)
    return fake


def _timed(check_id: str, seconds: float, clock: Clock | None = None) -> Check:
    @check(
        check_id,
        f"A check that takes {seconds} s",
        severity=Severity.LOW,
        category=Category.RELIABILITY,
        services=(),
        why="why",
        fix="fix",
    )
    def takes(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
        if clock is not None:
            clock.now += seconds
        yield Finding(check_.id, True, "r", "seen")

    return takes


def _context() -> CheckContext:
    # Never contacted: the demo checks read nothing and call no service.
    return CheckContext(backend=AwsBackend("moto", "http://127.0.0.1:9", "eu-west-1", "123456789012"))


def test_run_check_records_how_long_the_check_took(clock: Clock) -> None:
    result = run_check(_timed("demo.probe", 2.5, clock), _context())
    assert result.findings and result.seconds == 2.5


def _report(durations: dict[str, float]) -> RunReport:
    results = [
        CheckResult(check=_timed(check_id, seconds), findings=[Finding(check_id, True, "r", "seen")], seconds=seconds)
        for check_id, seconds in durations.items()
    ]
    return RunReport(title="verify", stack="demo", backend="moto", results=results)


def test_the_text_report_names_the_checks_of_a_second_or_more_slowest_first() -> None:
    report = _report({"demo.quick": 0.4, "demo.keep-alive": 8.04, "demo.live": 23.27, "demo.jobs": 1.0})
    [line] = [line for line in to_terminal(report).splitlines() if line.startswith("Slowest checks:")]
    assert line == "Slowest checks: demo.live 23.3s, demo.keep-alive 8.0s, demo.jobs 1.0s"


def test_no_line_when_every_check_was_quick() -> None:
    assert "Slowest checks" not in to_terminal(_report({"demo.quick": 0.4, "demo.quicker": 0.1}))


def test_at_most_a_few_are_named() -> None:
    report = _report({f"demo.c{n}": 10.0 + n for n in range(SLOWEST_SHOWN + 2)})
    [line] = [line for line in to_terminal(report).splitlines() if line.startswith("Slowest checks:")]
    named = line.removeprefix("Slowest checks: ").split(", ")
    assert len(named) == SLOWEST_SHOWN and named[0] == f"demo.c{SLOWEST_SHOWN + 1} {11.0 + SLOWEST_SHOWN:.1f}s"


def test_json_and_junit_carry_each_checks_seconds() -> None:
    report = _report({"demo.live": 23.274, "demo.quick": 0.4})
    by_id = {c["id"]: c["seconds"] for c in json.loads(to_json(report))["checks"]}
    assert by_id == {"demo.live": 23.27, "demo.quick": 0.4}
    cases = {case.get("name"): case.get("time") for case in ET.fromstring(to_junit(report)).iter("testcase")}
    assert cases == {"demo.live": "23.274", "demo.quick": "0.400"}
