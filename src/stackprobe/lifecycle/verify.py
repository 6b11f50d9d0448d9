"""The whole verification of one configuration, as the CLI runs it: a RunReport comes out, whatever happens.

plan → apply (its end armed) → checks on the deployed state → second plan → the stack's end (destroy and
the teardown proof, or kept for a live session), all through one `StackRun` whose lifetime says what the
end is. A failure at any step is recorded with its context (reproduce line, terraform's error, the
emulator's last requests) and the remaining steps that still make sense run; the stack's end always
does. How far the run got is the report's outcome:
- the configuration could not be planned (a syntax error, a missing provider), or the live session could
  not be opened: NOT_RUN, with the error and nothing else;
- the apply failed part-way: PARTIAL, the checks judge what was deployed before it stopped, and the
  report names the resources that failed and why;
- otherwise COMPLETE.
An interrupt (Ctrl-C, SIGTERM) ends the stack too and is recorded (`RunReport.interrupted`): the caller
still writes every report it was asked for.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from stackprobe.aws.environment import environment_decision
from stackprobe.aws.inventory import TeardownReport
from stackprobe.backends.registry import kind_of
from stackprobe.checks import CHECKS, run_checks
from stackprobe.checks.base import Check, CheckContext
from stackprobe.checks.lifecycle import clean_teardown, idempotent
from stackprobe.errors import StackprobeError, TerraformFailed
from stackprobe.lifecycle.context import build_context
from stackprobe.lifecycle.deployment import DeployedStack, Deployment, StackMode
from stackprobe.lifecycle.stack_run import RunContext, StackRun
from stackprobe.report.model import RunOutcome, RunReport, StepTiming
from stackprobe.settings import CheckSettings, RunSettings, StackSpec
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.lifecycle")
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


@dataclass
class _Steps:
    """The report being written, and the step timings as they pass."""

    report: RunReport
    say: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.report.timings.append(StepTiming(name, now - self.started))
        self.started = now


def verify(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    *,
    title: str = "verify",
    checks: Iterable[Check] | None = None,
    progress: Callable[[str], None] | None = None,
    check_settings: CheckSettings | None = None,
    stack_run: StackRun | None = None,
) -> RunReport:
    """Verify `spec` end to end and return the report; never raises but for a bug (see the module docstring).

    `stack_run` is a caller's own (stackprobe parity), else one is opened here for `settings.lifetime`.
    """
    say = progress or (lambda message: None)
    steps = _Steps(RunReport(title=title, stack=spec.name, backend=settings.backend, source_dir=spec.tf_dir), say)
    selected = list(CHECKS if checks is None else checks)
    lifecycle = [c for c in selected if c in (idempotent, clean_teardown)]
    selected = [c for c in selected if c not in lifecycle]
    context = RunContext(
        work_root, say=say, workspaces_outlive_run=False, purpose=f"{title} --{settings.lifetime.value}",
        discard_unproven=clean_teardown not in lifecycle,
    )  # fmt: skip
    try:
        say(f"==> starting the {settings.backend} backend and preparing {spec.tf_dir}")
        stack_run = stack_run or StackRun.open(spec, settings, context)
    except StackprobeError as exc:
        steps.report.outcome = RunOutcome.NOT_RUN
        steps.report.errors.append(str(exc))
        return steps.report
    except KeyboardInterrupt:
        steps.report.interrupted = True
        steps.report.errors.append("Interrupted before anything was applied.")
        return steps.report
    try:
        _verify_on(stack_run, steps, selected, check_settings or CheckSettings(), idempotent in lifecycle)
    finally:
        _end(stack_run, steps, clean_teardown in lifecycle)
    return steps.report


def _verify_on(
    stack_run: StackRun, steps: _Steps, selected: list[Check], check_settings: CheckSettings, second_plan: bool
) -> None:
    """Everything up to the end: plan, apply, checks, second plan; failures recorded, an interrupt too."""
    report = steps.report
    deployment: Deployment | None = None
    try:
        _ = stack_run.run.backend  # start (and guard) the emulator before anything else
        if stack_run.current() is None:
            # A fresh workspace: init now (a live session's kept one is initialised, and runs no terraform).
            report.notes += stack_run.run.prepared(stack_run.spec).runner().init_notes
        steps.done("init")
        steps.say("==> plan")
        deployment = stack_run.deployment()
        plan = deployment.plan()
        steps.done("plan")
        report.notes += stack_run.notes
        if deployment.backend.name != report.backend:
            report.backend = f"{report.backend} (plan only) + {deployment.backend.name} (apply)"
        if kind_of(deployment.backend.name).moto_compatibility:
            # moto's gaps, only where moto applies; asked once it runs, so its patches count as applied.
            report.limitations = emulator_limitations(plan)
        steps.say(f"==> apply ({plan.count()} resources; the provider's own waits set the pace)")
        try:
            deployed = deployment.apply()
        except TerraformFailed as exc:
            _judge_partial(deployment, exc, steps, selected, check_settings)
            raise
        steps.done("apply")
        context = _judge(deployed, steps, selected, check_settings)
        steps.done("checks")
        if second_plan:
            steps.say("==> second plan (idempotency)")
            report.results += run_checks(replace(context, drift=stack_run.drift()), [idempotent])
            steps.done("second plan")
    except StackprobeError as exc:
        if report.outcome == RunOutcome.COMPLETE and (deployment is None or not deployment.armed):
            report.outcome = RunOutcome.NOT_RUN
        report.errors.append(stack_run.failure_context(exc, report.title))
    except KeyboardInterrupt:
        report.interrupted = True
        report.errors.append("Interrupted: destroying what was applied before exiting.")


def _judge(
    deployed: DeployedStack, steps: _Steps, selected: list[Check], check_settings: CheckSettings
) -> CheckContext:
    steps.say(f"==> {len(selected)} checks on the deployed stack")
    context = build_context(deployed, check_settings)
    steps.report.environment = environment_decision(context).describe()
    steps.report.results += run_checks(context, selected)
    return context


def _judge_partial(
    deployment: Deployment, exc: TerraformFailed, steps: _Steps, selected: list[Check], check_settings: CheckSettings
) -> None:
    """The apply failed part-way: judge what was deployed before it stopped (destroy still follows)."""
    steps.report.outcome = RunOutcome.PARTIAL
    steps.report.failed_resources = failed_resources(exc)
    deployed = deployment.partial()
    if deployed is not None:
        steps.say(f"==> the apply stopped part-way: {len(selected)} checks on what was deployed")
        _judge(deployed, steps, selected, check_settings)


def _end(stack_run: StackRun, steps: _Steps, teardown_check: bool) -> None:
    """The stack's end, whatever happened before: recorded, and judged when its proof was asked for."""
    report = steps.report
    try:
        deployment = stack_run.current()
        if deployment is not None and deployment.armed:
            ephemeral = deployment.mode == StackMode.EPHEMERAL
            steps.say("==> destroy, then inventory the emulator" if ephemeral else "==> end")
            ending = stack_run.end()
            if not isinstance(ending, TeardownReport):
                report.notes.append(ending.render())
            steps.done("destroy" if isinstance(ending, TeardownReport) else "end")
            if teardown_check and isinstance(ending, TeardownReport):
                report.results += run_checks(
                    CheckContext(backend=deployment.backend, teardown=ending), [clean_teardown]
                )
    except StackprobeError as exc:
        report.errors.append(f"Ending the stack failed: {exc}")
    finally:
        stack_run.close()
