"""The whole verification of one configuration, as the CLI runs it: a RunReport comes out.

plan → apply (destroy armed) → checks on the deployed state → second plan → destroy → teardown
proof. A failure at any step is recorded with its context (reproduce line, terraform's error, the
emulator's last requests) and the remaining steps that still make sense run; destroy always does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from stackprobe.backends.compat import KNOWN_GAPS, PATCHES, applied_patches
from stackprobe.checks import CATALOGUE, run_checks
from stackprobe.checks.base import Check, CheckContext
from stackprobe.checks.lifecycle import clean_teardown, idempotent
from stackprobe.context import build_context
from stackprobe.errors import StackprobeError
from stackprobe.report.model import RunReport, StepTiming
from stackprobe.session import StackSession
from stackprobe.settings import CheckSettings, RunSettings, StackSpec
from stackprobe.stack import StackUnderTest
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.pipeline")


def emulator_limitations(plan: Plan | None) -> list[str]:
    """Known emulator gaps that touch resource types in this plan (patched ones say so)."""
    if plan is None:
        return []
    types = plan.types()
    applied = {p.name for p in applied_patches()}
    lines = []
    for patch in PATCHES:
        hit = sorted(types & set(patch.resource_types))
        if hit:
            state = "patched by stackprobe" if patch.name in applied else "NOT patched for this moto version"
            lines.append(f"{', '.join(hit)}: {patch.gap} ({state}: {patch.name})")
    for gap in KNOWN_GAPS:
        hit = sorted(types & set(gap.resource_types))
        if hit:
            lines.append(f"{', '.join(hit)}: {gap.gap} {gap.consequence}")
    return lines


def verify(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    *,
    title: str = "verify",
    checks: Iterable[Check] | None = None,
    progress: Callable[[str], None] | None = None,
    check_settings: CheckSettings | None = None,
    session: StackSession | None = None,
) -> RunReport:
    """Verify `spec` end to end; `session` is a caller's own (stackprobe parity), else one is made here.

    On LocalStack, a plan that needs services it does not serve is kept as LocalStack's result and
    the apply (checks, second plan, destroy) runs on an embedded moto; the report's notes say so.
    """
    say = progress or (lambda message: None)
    session = session or StackSession(settings, work_root, on_output=None)
    report = RunReport(title=title, stack=spec.name, backend=settings.backend, source_dir=spec.tf_dir)
    selected = list(CATALOGUE if checks is None else checks)
    lifecycle = [c for c in selected if c in (idempotent, clean_teardown)]
    selected = [c for c in selected if c not in lifecycle]
    stack = None
    plan: Plan | None = None

    def step(name: str, started: float) -> None:
        report.timings.append(StepTiming(name, time.monotonic() - started))

    try:
        started = time.monotonic()
        say(f"==> starting the {settings.backend} backend and preparing {spec.tf_dir}")
        _ = session.backend  # start (and guard) the emulator before anything else
        stack = session.stack(spec)
        stack.prepare()
        step("init", started)
        started = time.monotonic()
        say("==> plan")
        plan = session.plan(spec)
        step("plan", started)
        deferred = session.deferral(spec)
        if deferred is not None:
            report.backend = f"{settings.backend} (plan only) + moto (apply)"
            report.notes.append(deferred.describe())
            say(f"==> {deferred.describe()}")
        if session.applying_backend(spec).name == "moto":
            # moto's gaps, only where moto applies; asked once it runs, so its patches count as applied.
            report.limitations = emulator_limitations(plan)
        started = time.monotonic()
        say(f"==> apply ({plan.count()} resources; the provider's own waits set the pace)")
        session.deploy(spec)
        stack = session.stack(spec)  # the embedded moto's stack when the apply was deferred
        step("apply", started)
        started = time.monotonic()
        say(f"==> {len(selected)} checks on the deployed stack")
        context = build_context(stack, check_settings or CheckSettings())
        report.results += run_checks(context, selected)
        step("checks", started)
        if idempotent in lifecycle:
            started = time.monotonic()
            say("==> second plan (idempotency)")
            _, drift = stack.second_plan()
            context.drift = drift
            report.results += run_checks(context, [idempotent])
            step("second plan", started)
    except StackprobeError as exc:
        stack = _applied_stack(session, spec, stack)
        report.errors.append(stack.failure_context(exc) if stack else str(exc))
    except KeyboardInterrupt:
        report.errors.append("Interrupted: destroying what was applied before exiting.")
        raise
    finally:
        stack = _applied_stack(session, spec, stack)
        if stack is not None and not settings.keep_stack:
            started = time.monotonic()
            say("==> destroy, then inventory the emulator")
            teardown = stack.teardown()
            step("destroy", started)
            if clean_teardown in lifecycle:
                report.results += run_checks(CheckContext(backend=stack.backend, teardown=teardown), [clean_teardown])
        elif stack is not None:
            report.notes.append(f"--keep-stack: workspace kept at {stack.work_dir}")
        session.close()
    return report


def _applied_stack(session: StackSession, spec: StackSpec, stack: StackUnderTest | None) -> StackUnderTest | None:
    """The stack that was (or was being) applied: the embedded moto's when the apply was deferred there."""
    if stack is None or not session.is_deferred(spec):
        return stack
    return session.stack(spec)
