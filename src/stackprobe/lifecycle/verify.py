"""The whole verification of one configuration, as the CLI runs it: a RunReport comes out.

plan → apply (its end armed) → checks on the deployed state → second plan → the stack's end (destroy
and the teardown proof, or kept for a live session). A failure at any step is recorded with its
context (reproduce line, terraform's error, the emulator's last requests) and the remaining steps
that still make sense run; the stack's end always does. How far the run got is the report's outcome:
- the configuration could not be planned (a syntax error, a missing provider): NOT_RUN, terraform's
  diagnostics and nothing else;
- the apply failed part-way: PARTIAL, the checks judge what was deployed before it stopped, and the
  report names the resources that failed and why;
- otherwise COMPLETE.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from stackprobe.aws.environment import environment_decision
from stackprobe.aws.inventory import TeardownReport
from stackprobe.checks import CHECKS, run_checks
from stackprobe.checks.base import Check, CheckContext
from stackprobe.checks.lifecycle import clean_teardown, idempotent
from stackprobe.errors import StackprobeError, TerraformFailed
from stackprobe.lifecycle.context import build_context
from stackprobe.lifecycle.plan_store import PlanStore
from stackprobe.lifecycle.run import Run
from stackprobe.lifecycle.stack import KeptStack, StackMode, StackUnderTest
from stackprobe.report.model import RunOutcome, RunReport, StepTiming
from stackprobe.settings import CheckSettings, Lifetime, RunSettings, StackSpec
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.lifecycle.verify")
# terraform names the resource of each error paragraph in a "with ADDRESS," line.
_FAILED_RESOURCE = re.compile(r"^with (\S+),$", re.MULTILINE)


def emulator_limitations(plan: Plan | None) -> list[str]:
    """Known emulator gaps that touch resource types in this plan (patched ones say so)."""
    from stackprobe.backends.compat import KNOWN_GAPS, PATCHES, applied_patches, moto_version

    if plan is None:
        return []
    types = plan.types()
    applied = {p.name for p in applied_patches()}
    installed = moto_version()
    lines = []
    # A gap moto fixed upstream (the patch does not apply to this moto) is no limitation of this run.
    for patch in (p for p in PATCHES if p.applies_to(installed)):
        hit = sorted(types & set(patch.resource_types))
        if hit:
            state = "patched by stackprobe" if patch.name in applied else "NOT patched in this run"
            lines.append(f"{', '.join(hit)}: {patch.gap} ({state}: {patch.name})")
    for gap in KNOWN_GAPS:
        hit = sorted(types & set(gap.resource_types))
        if hit:
            lines.append(f"{', '.join(hit)}: {gap.gap} {gap.consequence}")
    return lines


def failed_resources(exc: TerraformFailed) -> list[str]:
    """`ADDRESS: first line of terraform's error` for every resource an apply's errors name."""
    found: dict[str, str] = {}
    for paragraph in (exc.detail or "").split("\n\n"):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        match = _FAILED_RESOURCE.search("\n".join(lines))
        if match and lines:
            found.setdefault(match.group(1), lines[0].removeprefix("Error: "))
    return [f"{address}: {why}" for address, why in found.items()]


def verify(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    *,
    title: str = "verify",
    checks: Iterable[Check] | None = None,
    progress: Callable[[str], None] | None = None,
    check_settings: CheckSettings | None = None,
    run: Run | None = None,
) -> RunReport:
    """Verify `spec` end to end; `run` is a caller's own (stackprobe parity), else one is made here.

    `settings.lifetime` says what becomes of the stack: destroyed (the default), or kept in a live
    session (`--keep-stack` starts one, `--reuse` attaches to it or starts one).
    """
    say = progress or (lambda message: None)
    report = RunReport(title=title, stack=spec.name, backend=settings.backend, source_dir=spec.tf_dir)
    selected = list(CHECKS if checks is None else checks)
    lifecycle = [c for c in selected if c in (idempotent, clean_teardown)]
    selected = [c for c in selected if c not in lifecycle]
    check_settings = check_settings or CheckSettings()
    if settings.lifetime != Lifetime.EPHEMERAL:
        return _verify_live(spec, settings, work_root, report, selected, lifecycle, check_settings, say)
    run = run or Run(settings, work_root, plans=_plan_store(settings), workspaces_outlive_run=False)
    stack: StackUnderTest | None = None
    started = time.monotonic()

    def step(name: str) -> None:
        nonlocal started
        report.timings.append(StepTiming(name, time.monotonic() - started))
        started = time.monotonic()

    try:
        say(f"==> starting the {settings.backend} backend and preparing {spec.tf_dir}")
        _ = run.backend  # start (and guard) the emulator before anything else
        stack = run.stack(spec)
        report.notes += stack.prepare().init_notes
        step("init")
        say("==> plan")
        route = run.route(spec)
        step("plan")
        if route.deferral is not None:
            report.backend = f"{settings.backend} (plan only) + moto (apply)"
            report.notes.append(route.deferral.describe())
            say(f"==> {route.deferral.describe()}")
        stack = route.stack
        if clean_teardown not in lifecycle and (route.deferral is not None or run.discards_emulator):
            # Nobody asked for the teardown proof, and the emulator goes with the run: no destroy needed.
            stack.mode = StackMode.DISCARDED
        if stack.backend.name == "moto":
            # moto's gaps, only where moto applies; asked once it runs, so its patches count as applied.
            report.limitations = emulator_limitations(route.plan)
        say(f"==> apply ({route.plan.count()} resources; the provider's own waits set the pace)")
        try:
            deployed = stack.deploy()
        except TerraformFailed as exc:
            _judge_partial(stack, exc, report, selected, check_settings, say)
            raise
        step("apply")
        say(f"==> {len(selected)} checks on the deployed stack")
        context = build_context(deployed, check_settings)
        report.environment = environment_decision(context).describe()
        report.results += run_checks(context, selected)
        step("checks")
        if idempotent in lifecycle:
            say("==> second plan (idempotency)")
            _, context.drift = stack.second_plan()
            report.results += run_checks(context, [idempotent])
            step("second plan")
    except StackprobeError as exc:
        if report.outcome == RunOutcome.COMPLETE and (stack is None or not stack.armed):
            report.outcome = RunOutcome.NOT_RUN
        report.errors.append(stack.failure_context(exc, command=report.title) if stack else str(exc))
    except KeyboardInterrupt:
        report.errors.append("Interrupted: destroying what was applied before exiting.")
        raise
    finally:
        try:
            if stack is not None and stack.armed:
                say("==> destroy, then inventory the emulator" if stack.mode != StackMode.DISCARDED else "==> end")
                ending = stack.end()
                if not isinstance(ending, TeardownReport):
                    report.notes.append(ending.render())
                step("destroy" if isinstance(ending, TeardownReport) else "end")
                if clean_teardown in lifecycle and isinstance(ending, TeardownReport):
                    report.results += run_checks(CheckContext(backend=stack.backend, teardown=ending), [clean_teardown])
        finally:
            run.close()
    return report


def _judge_partial(
    stack: StackUnderTest,
    exc: TerraformFailed,
    report: RunReport,
    selected: list[Check],
    check_settings: CheckSettings,
    say: Callable[[str], None],
) -> None:
    """The apply failed part-way: judge what was deployed before it stopped (destroy still follows)."""
    report.outcome = RunOutcome.PARTIAL
    report.failed_resources = failed_resources(exc)
    deployed = stack.partial_deployment()
    if deployed is None:
        return
    say(f"==> the apply stopped part-way: {len(selected)} checks on what was deployed")
    context = build_context(deployed, check_settings)
    report.environment = environment_decision(context).describe()
    report.results += run_checks(context, selected)


def _verify_live(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    report: RunReport,
    selected: list[Check],
    lifecycle: list[Check],
    check_settings: CheckSettings,
    say: Callable[[str], None],
) -> RunReport:
    """`--keep-stack` and `--reuse`: the stack lives in a live session and is left running."""
    from stackprobe.lifecycle.live import LiveSessionError, LiveSessions, open_live

    sessions = LiveSessions(settings.cache_dir)
    with sessions.hold(spec, f"verify --{settings.lifetime.value}"):
        if settings.lifetime == Lifetime.KEEP and sessions.load(spec) is not None:
            raise LiveSessionError(
                f"A live session of {spec.name} already runs",
                f"attach to it with --reuse, or end it first with `stackprobe down {spec.cli_arguments()}`.",
            )
        opened = open_live(spec, settings, work_root, create=True, say=say)
        report.notes.append(f"Live session: {opened.how}.")
        try:
            context = build_context(opened.deployed, check_settings)
            report.environment = environment_decision(context).describe()
            say(f"==> {len(selected)} checks on the live stack")
            report.results += run_checks(context, selected)
            if idempotent in lifecycle:
                context.drift = opened.drift()
                report.results += run_checks(context, [idempotent])
            ending = opened.stack.end()
            if isinstance(ending, KeptStack):
                report.notes.append(ending.render())
        except StackprobeError as exc:
            report.errors.append(opened.stack.failure_context(exc, command=report.title))
        finally:
            opened.run.close()
    return report


def _plan_store(settings: RunSettings) -> PlanStore | None:
    return PlanStore(settings.plan_store) if settings.plan_store is not None else None
