"""verify's second plan runs beside the checks, and an interrupt during the checks stops it before the destroy.

The checks mostly wait (a worker's graceful stop, a connection held idle) and the second plan only reads what
the apply made, so it runs in a thread while they do (stackprobe.lifecycle.verify). One small deployment shows
both sides: a check that waits until the plan's terraform is running (it would wait in vain if the plan came
after the checks), then raises KeyboardInterrupt as Ctrl-C does; verify interrupts the plan in flight rather
than waiting for it, and the destroy that follows finds the state unlocked and leaves the emulator clean.
What terraform does with the interrupt is terraform's: one that comes before its operation listens for it is
taken after the operation, and a plan this small then ends 0 (a fresh clone's run under load saw it), so the
test asserts that the interrupt was sent to the running plan, not how the plan ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, Status, check
from stackprobe.checks.lifecycle import clean_teardown, idempotent
from stackprobe.lifecycle.deployment import Deployment
from stackprobe.lifecycle.verify import verify
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.runner import TerraformRunner

pytestmark = pytest.mark.harness

STACK = Path(__file__).parent / "stacks" / "live"  # two resources that create at once
WAIT_SECONDS = 60.0


def test_the_second_plan_runs_during_the_checks_and_an_interrupt_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planning: list[TerraformRunner] = []
    started = threading.Event()
    second_plan = Deployment.second_plan

    def observed(self: Deployment, targets: tuple[str, ...] = ()) -> object:
        planning.append(self.prepared.runner())
        started.set()
        return second_plan(self, targets)

    monkeypatch.setattr(Deployment, "second_plan", observed)
    interrupts: list[bool] = []  # each interrupt of a runner, and whether a command was in flight then
    interrupt = TerraformRunner.interrupt

    def recorded(self: TerraformRunner) -> None:
        interrupts.append(self._current is not None)
        interrupt(self)

    monkeypatch.setattr(TerraformRunner, "interrupt", recorded)
    seen: list[bool] = []

    @check(
        "demo.waits-for-the-second-plan",
        "A check that waits until the second plan's terraform runs, then is interrupted",
        severity=Severity.LOW,
        category=Category.RELIABILITY,
        services=(),
        why="why",
        fix="fix",
    )
    def waits(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
        deadline = time.monotonic() + WAIT_SECONDS
        running = False
        if started.wait(WAIT_SECONDS):
            while not (running := planning[0]._current is not None) and time.monotonic() < deadline:
                time.sleep(0.05)
        seen.append(running)
        raise KeyboardInterrupt
        yield  # a generator, as checks are

    report = verify(
        StackSpec(tf_dir=STACK.resolve()), RunSettings(), tmp_path, checks=[waits, idempotent, clean_teardown]
    )

    assert seen == [True], "the second plan's terraform was not running while the checks ran"
    assert report.interrupted
    assert interrupts == [True], "verify did not interrupt the second plan in flight"
    teardown = next(r for r in report.results if r.check is clean_teardown)
    assert teardown.status is Status.PASS, [f.evidence for f in teardown.findings] or teardown.error
    assert not any(r.check is idempotent for r in report.results)  # interrupted: the drift is not judged
