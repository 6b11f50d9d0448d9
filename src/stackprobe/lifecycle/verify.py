"""The whole verification of one configuration, as the CLI runs it: a RunReport comes out, whatever happens.

plan → apply (its end armed) → checks on the deployed state, with the second plan beside them → the stack's
end (destroy and the teardown proof, or kept for a live session), all through one `StackRun` whose lifetime
says what the end is. The second plan only reads what the apply made, and the checks mostly wait (a worker's
graceful stop, a connection held idle): it runs in a thread while they do, niced so that the probes that
measure time get the cores first, and is judged (lifecycle.idempotent) once both are done. A failure at any
step is recorded with its context (reproduce line, terraform's error, the emulator's last requests) and the
remaining steps that still make sense run; the stack's end always does. How far the run got is the report's
outcome:
- the configuration could not be planned (a syntax error, a missing provider), or the live session could
  not be opened: NOT_RUN, with the error and nothing else;
- the apply failed part-way: PARTIAL, the checks judge what was deployed before it stopped, and the
  report names the resources that failed and why;
- otherwise COMPLETE.
An interrupt (Ctrl-C, SIGTERM) ends the stack too and is recorded (`RunReport.interrupted`): the caller
still writes every report it was asked for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stackprobe.aws.inventory import TeardownReport
from stackprobe.backends.registry import kind_of
from stackprobe.checks import CHECKS, run_checks
from stackprobe.checks.base import Check, CheckContext, Unapplied, without_index
from stackprobe.checks.lifecycle import clean_teardown, idempotent
from stackprobe.errors import InputError, StackprobeError, TerraformFailed
from stackprobe.lifecycle.context import build_context
from stackprobe.lifecycle.datastores import end_datastores
from stackprobe.lifecycle.deployment import DeployedStack, Deployment, StackMode
from stackprobe.lifecycle.stack_run import RunContext, StackRun
from stackprobe.probes.containers import StandIns, check_planned_names
from stackprobe.report.model import RunOutcome, RunReport, StepTiming
from stackprobe.settings import CheckSettings, RunSettings, StackSpec
from stackprobe.terraform.drift import DriftReport
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.runner import TerraformRunner

LOG = logging.getLogger("stackprobe.lifecycle")
# The second plan's CPU priority beside the checks (see the module docstring).
SECOND_PLAN_NICENESS = 10
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

    def done_beside(self, name: str, seconds: float) -> None:
        """A step that ran beside the previous one, and took `seconds` of its own."""
        self.report.timings.append(StepTiming(name, seconds))
        self.started = time.monotonic()


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
        # Before the plan: a plan that fails on what a fallback version lacks must still say which version it was.
        prepared = stack_run.run.prepared_if_made(stack_run.spec)
        report.provider_fallbacks = prepared.provider_fallbacks() if prepared is not None else []
        steps.done("init")
        steps.say("==> plan")
        deployment = stack_run.deployment()
        plan = deployment.plan()
        steps.done("plan")
        _check_container_names(plan, check_settings)
        report.notes += stack_run.notes
        report.stand_ins = deployment.prepared.stand_ins
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
        # Only a runner terraform already ran in: a live session's kept copy runs none (its second plan is recorded).
        runner = deployment.prepared.runner() if deployment.prepared.initialised else None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stackprobe-second-plan") as beside:
            if second_plan:
                steps.say("==> second plan (idempotency), beside the checks")
            drift = beside.submit(_second_plan, stack_run, runner) if second_plan else None
            try:
                context = _judge(deployed, steps, selected, check_settings)
            except BaseException:
                if runner is not None:
                    runner.interrupt()  # the plan proves nothing now; the stack's end must not wait for it
                raise
            steps.done("checks")
            if drift is not None:
                found, seconds = drift.result()
                report.results += run_checks(replace(context, drift=found), [idempotent])
                steps.done_beside("second plan (beside the checks)", seconds)
    except StackprobeError as exc:
        unarmed = deployment is None or not deployment.armed
        if isinstance(exc, InputError) or (report.outcome == RunOutcome.COMPLETE and unarmed):
            report.outcome = RunOutcome.NOT_RUN
        report.errors.append(stack_run.failure_context(exc, report.title))
    except KeyboardInterrupt:
        report.interrupted = True
        report.errors.append("Interrupted: destroying what was applied before exiting.")


def _second_plan(stack_run: StackRun, runner: TerraformRunner | None) -> tuple[DriftReport, float]:
    """The plan right after apply, classified, and the seconds it took (run beside the checks, niced on `runner`)."""
    started = time.monotonic()
    with runner.yielding(SECOND_PLAN_NICENESS) if runner is not None else contextlib.nullcontext():
        return stack_run.drift(), time.monotonic() - started


def _check_container_names(plan: Plan, check_settings: CheckSettings) -> None:
    """Configured container names against the planned task definitions, when the plan knows all of them."""
    planned: dict[str, list[str]] = {}
    for resource in plan.resources("aws_ecs_task_definition"):
        definitions = resource.values.get("container_definitions")
        if not isinstance(definitions, str):
            return  # known only after apply: checked then (see _judge)
        names = [str(c.get("name")) for c in json.loads(definitions) if isinstance(c, dict) and c.get("name")]
        planned.setdefault(str(resource.values.get("family") or resource.address), []).extend(names)
    if check_settings.container_commands:
        check_planned_names(dict(check_settings.container_commands), planned)


def _judge(
    deployed: DeployedStack,
    steps: _Steps,
    selected: list[Check],
    check_settings: CheckSettings,
    failed: Sequence[str] | None = None,
) -> CheckContext:
    """Run the checks on `deployed`; `failed` (an apply that stopped part-way) names what failed and why."""
    steps.say(f"==> {len(selected)} checks on the deployed stack")
    context = build_context(deployed, check_settings)
    if failed is not None:
        created = [resource.address for resource in context.state_resources()]
        context = replace(context, unapplied=unapplied_resources(deployed.plan, created, failed))
    steps.report.environment = context.decision.describe()
    if context.container_commands:
        # A name the plan could not settle (definitions known only after apply): found here, before any probe.
        StandIns.configured(context, context.account.ecs.workloads())
    if context.datastores is not None and failed is None:
        # A --datastore or --datastore-sql value that names nothing it can use: the run is NOT RUN, before any probe
        # (after a failed apply, what it names may be what the apply did not create: the checks say so).
        context.datastores.select(context)
    steps.report.results += run_checks(context, selected)
    steps.report.notes += end_datastores([deployed.owner])  # the local datastores end with the checks
    return context


def _judge_partial(
    deployment: Deployment, exc: TerraformFailed, steps: _Steps, selected: list[Check], check_settings: CheckSettings
) -> None:
    """The apply failed part-way: judge what was deployed before it stopped (destroy still follows); a check
    whose verdict depends on what the apply did not create is "not checked", naming it."""
    steps.report.outcome = RunOutcome.PARTIAL
    steps.report.failed_resources = failed_resources(exc)
    deployed = deployment.partial()
    if deployed is not None:
        steps.say(f"==> the apply stopped part-way: {len(selected)} checks on what was deployed")
        _judge(deployed, steps, selected, check_settings, steps.report.failed_resources)


# What a reference names when it is no managed resource of the module it is written in.
_NOT_RESOURCES = frozenset({"var", "local", "module", "data", "each", "count", "path", "terraform", "self"})


@dataclass(frozen=True)
class _Module:
    """One module of the configuration as `terraform show -json` describes it, and the call that made it."""

    prefix: str  # "module.edge." ("" for the root)
    body: Mapping[str, Any]
    call: Mapping[str, Any] | None = None
    parent: _Module | None = None

    def child(self, name: str) -> _Module | None:
        call = (self.body.get("module_calls") or {}).get(name)
        return None if call is None else _Module(f"{self.prefix}module.{name}.", call.get("module") or {}, call, self)


def _references_in(node: Any) -> Iterator[str]:
    """Every reference in an expression tree of the configuration JSON (nested blocks included)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "references" and isinstance(value, list):
                yield from (str(reference) for reference in value)
            elif key != "constant_value":  # a literal map may hold any key, `references` too
                yield from _references_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references_in(item)


def _resolve(reference: str, module: _Module, depth: int = 0) -> set[str]:
    """The managed resources (addresses without index) a reference leads to: through `var.` to the module
    call's argument, through `module.NAME.OUTPUT` to that output's expression. A local's expression is not in
    the configuration JSON, so what a local refers to is not followed."""
    parts = [re.sub(r"\[.*$", "", part) for part in reference.split(".")]
    if len(parts) < 2 or depth > 20:
        return set()
    if parts[0] == "var" and module.call is not None and module.parent is not None:
        argument = (module.call.get("expressions") or {}).get(parts[1])
        return {found for ref in _references_in(argument) for found in _resolve(ref, module.parent, depth + 1)}
    if parts[0] == "module" and len(parts) >= 3 and (child := module.child(parts[1])) is not None:
        output = (child.body.get("outputs") or {}).get(parts[2])
        return {found for ref in _references_in(output) for found in _resolve(ref, child, depth + 1)}
    if parts[0] in _NOT_RESOURCES:
        return set()
    return {f"{module.prefix}{parts[0]}.{parts[1]}"}


def configuration_references(configuration: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Each managed resource of the configuration (address without index) -> the managed resources its
    arguments, count, for_each and depends_on refer to."""
    found: dict[str, frozenset[str]] = {}
    pending = [_Module("", configuration.get("root_module") or {})]
    while pending:
        module = pending.pop()
        pending += [child for name in module.body.get("module_calls") or {} if (child := module.child(name))]
        for resource in module.body.get("resources") or []:
            if resource.get("mode") != "managed":
                continue
            written = [
                *_references_in(resource.get("expressions")),
                *_references_in(resource.get("count_expression")),
                *_references_in(resource.get("for_each_expression")),
                *(resource.get("depends_on") or []),
            ]
            found[module.prefix + resource["address"]] = frozenset(
                target for reference in written for target in _resolve(reference, module)
            )
    return found


def _failed_cause(base: str, references: Mapping[str, frozenset[str]], failed: set[str]) -> str | None:
    """The failed resource (address without index) that `base` needs, directly or through what it needs."""
    seen, pending = {base}, list(references.get(base, ()))
    while pending:
        current = pending.pop()
        if current in failed:
            return current
        if current not in seen:
            seen.add(current)
            pending += references.get(current, ())
    return None


def unapplied_resources(plan: Plan, created: Iterable[str], failed: Sequence[str]) -> tuple[Unapplied, ...]:
    """What `plan` holds and an apply that failed part-way did not create, each with why.

    `created` are the state's addresses; `failed` the `ADDRESS: error` lines of `failed_resources` (a resource
    that failed after its create, left tainted in the state, is among them). A resource not created names
    the failed one it needs, through the configuration's references, when there is one."""
    errors = {line.split(": ", 1)[0] for line in failed}
    done = set(created) - errors
    references = configuration_references(plan.configuration())
    failed_bases = {without_index(address) for address in errors}
    found: list[Unapplied] = []
    for resource in plan.resources():
        if resource.address in done:
            continue
        base = without_index(resource.address)
        if resource.address in errors or base in failed_bases:
            why = "failed to apply"
        elif (cause := _failed_cause(base, references, failed_bases)) is not None:
            why = f"was not created (it needs `{cause}`, which failed to apply)"
        else:
            why = "was not created (the apply stopped before it)"
        found.append(Unapplied(resource.address, why, resource.values, tuple(sorted(references.get(base, ())))))
    return tuple(found)


def _end(stack_run: StackRun, steps: _Steps, teardown_check: bool) -> None:
    """The stack's end, whatever happened before: recorded, and judged when its proof was asked for."""
    report = steps.report
    try:
        deployment = stack_run.current()
        if deployment is not None and deployment.armed:
            ephemeral = deployment.mode == StackMode.EPHEMERAL
            steps.say("==> destroy, then inventory the emulator" if ephemeral else "==> end")
            ending = stack_run.end()
            # A teardown report's verdict is lifecycle.clean-teardown's; what else ended with the stack is a note.
            report.notes += ending.notes if isinstance(ending, TeardownReport) else [ending.render()]
            steps.done("destroy" if isinstance(ending, TeardownReport) else "end")
            if teardown_check and isinstance(ending, TeardownReport):
                report.results += run_checks(
                    CheckContext(backend=deployment.backend, teardown=ending), [clean_teardown]
                )
    except StackprobeError as exc:
        report.errors.append(f"Ending the stack failed: {exc}")
    finally:
        stack_run.close()
