"""Run a mutant catalogue against a deployed stack, in few applies, and say which check killed each.

Batching is what makes this affordable: mutants that share no file, variable or killer check are
planted together and applied in one `terraform apply` (without refresh: the state is fresh), and the
next batch's apply also reverts the previous one. Attribution stays exact because no two mutants in a
batch share a killer: a new failing finding of a killer check can only come from its own mutant.
Mutants Terraform itself must refuse (validation, preconditions) are planned together, in a copy
of the configuration that is never applied, while the batches apply.
`isolated=True` runs one mutant per apply instead, to check that batching changes no verdict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from stackprobe.checks import by_id, run_checks
from stackprobe.checks.base import CheckContext, CheckResult
from stackprobe.errors import StackprobeError, TerraformFailed
from stackprobe.lifecycle.deployment import Deployment
from stackprobe.lifecycle.prepared import PreparedStack
from stackprobe.mutants.catalogue import TERRAFORM_KILLER, Mutant
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.mutants")
MUTANT_FILE_MARKER = "zz_stackprobe_mutant_"


class Verdict(StrEnum):
    KILLED = "killed"
    SURVIVED = "survived"
    ERROR = "error"


@dataclass
class MutantResult:
    mutant: Mutant
    verdict: Verdict
    killed_by: str = ""
    evidence: str = ""
    batch: int = 0


@dataclass
class MutationReport:
    results: list[MutantResult] = field(default_factory=list)
    applies: int = 0
    plans: int = 0
    seconds: float = 0.0
    # Applies that failed and what was done about them: the cost figures are unexplained without them.
    incidents: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(r.verdict == Verdict.KILLED for r in self.results) / len(self.results) if self.results else 0.0

    def result(self, mutant_id: str) -> MutantResult:
        for item in self.results:
            if item.mutant.id == mutant_id:
                return item
        raise KeyError(mutant_id)

    def render(self) -> str:
        lines = []
        for item in self.results:
            by = f" by {item.killed_by}" if item.killed_by else ""
            lines.append(f"[{item.verdict.value.upper():8}] {item.mutant.id:<36}{by}")
            if item.evidence:
                lines.append(f"             {item.evidence[:300]}")
        lines += [f"note: {incident}" for incident in self.incidents]
        killed = sum(r.verdict == Verdict.KILLED for r in self.results)
        lines.append(
            f"Mutation score: {killed}/{len(self.results)} killed ({self.score:.0%}) with {self.applies} applies "
            f"and {self.plans} plans in {self.seconds:.0f} s"
        )
        return "\n".join(lines)


def plan_batches(mutants: list[Mutant], isolated: bool = False) -> list[list[Mutant]]:
    """Greedy batches of mutants that share nothing (files, variables, killers); slow ones, then the
    largest, last.

    Each apply also reverts the batch before it, and the teardown apply reverts the last one. The
    largest batch holds most of the resources whose updates the provider waits on (a database
    modification waits at least 50 s): applied last, its revert shares the teardown apply, which waits
    on the database anyway to lift its deletion protection, instead of costing the next batch's apply
    one more wait (measured in the full suite: the small batch's apply went from 105 s, second, to
    19 s, first; the large batch's and the teardown's stayed about 100 s each).
    """
    if isolated:
        return [[m] for m in mutants]
    batches: list[tuple[set[str], list[Mutant]]] = []
    for mutant in sorted(mutants, key=lambda m: m.slow):
        for used, members in batches:
            if not used & mutant.touches() and members[0].slow == mutant.slow:
                used |= mutant.touches()
                members.append(mutant)
                break
        else:
            batches.append((set(mutant.touches()), [mutant]))
    return sorted((members for _, members in batches), key=lambda members: (members[0].slow, len(members)))


def _failure_keys(results: list[CheckResult]) -> set[tuple[str, str, str]]:
    return {(r.check.id, f.resource, f.evidence) for r in results for f in r.failures}


def planting(batch: list[Mutant]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The files and variables a batch plants: each file named after its mutant, so that nothing collides
    with the configuration's own files or another mutant's."""
    files: list[tuple[str, str]] = []
    variables: dict[str, str] = {}
    for mutant in batch:
        for relative, text in mutant.files:
            path = Path(relative)
            # Keep the `_override.tf` suffix last: Terraform recognises override files by it.
            override = path.name.endswith("_override.tf")
            stem = path.name[: -len("_override.tf")] if override else path.name.removesuffix(".tf")
            name = f"{MUTANT_FILE_MARKER}{mutant.id.replace('-', '_')}_{stem}{'_override' if override else ''}.tf"
            files.append((str(path.with_name(name)), text))
        variables.update(dict(mutant.variables))
    return files, variables


class MutationRun:
    """Runs a catalogue against a deployment, through its variants (nothing else writes its workspace).

    The mutants Terraform must refuse never reach an apply, so they need neither the deployed state
    nor its workspace: they are planned in a copy of the configuration that is never applied
    (`refusals`), in a thread, while the batches apply. Their plans cost CPU the applies leave
    idle (an apply is mostly the provider's fixed waits) instead of about 100 s of the run's length.
    A kept deployment (a live session) is applied once more at its end, so it is left as it was found.
    """

    def __init__(
        self,
        deployment: Deployment,
        context: Callable[[], CheckContext],
        *,
        refusals: Callable[[], PreparedStack] | None = None,
    ) -> None:
        if deployment.deployed is None:
            raise StackprobeError("Mutants need a deployed stack", "deploy the stack before running mutants.")
        self.deployment = deployment
        self.context = context
        self.refusals = refusals or (lambda: deployment.prepared.copy_for_plans("mutant-refusals"))

    # -- running -------------------------------------------------------------------------------
    def run(self, mutants: list[Mutant], *, isolated: bool = False) -> MutationReport:
        started = time.monotonic()
        report = MutationReport()
        killers = sorted({k for m in mutants for k in m.killers if k != TERRAFORM_KILLER})
        checks = [by_id(k) for k in killers]
        baseline = _failure_keys(run_checks(self.context(), checks))
        plan_stage = [m for m in mutants if m.plan_stage]
        planned_only = [m for m in mutants if m.planned_only and not m.plan_stage]
        applied = [m for m in mutants if not m.plan_stage and not m.planned_only]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mutant-refusals") as pool:
            refusals = pool.submit(self._run_plan_stage, plan_stage, report, isolated) if plan_stage else None
            # First, while the deployed stack is still the baseline the plan is made against.
            for batch in plan_batches(planned_only, isolated):
                report.results += self._run_planned_only(batch, baseline, report)
            for number, batch in enumerate(plan_batches(applied, isolated), 1):
                report.results += self._run_batch(number, batch, baseline, report)
            if refusals is not None:
                report.results += refusals.result()
        order = {m.id: i for i, m in enumerate(mutants)}
        report.results.sort(key=lambda r: order[r.mutant.id])
        report.seconds = time.monotonic() - started
        return report

    def _run_plan_stage(self, mutants: list[Mutant], report: MutationReport, isolated: bool) -> list[MutantResult]:
        """Plant the plan-stage mutants together: one plan must report each one's expected refusal.

        One refusal can hide another (a variable that fails its validation skips every precondition
        that reads it), so the mutants a combined plan did not refuse are planned together again, and
        one at a time only once a combined plan refuses none of them.
        """
        copy = self.refusals()
        results: list[MutantResult] = []
        pending = list(mutants)
        together = not isolated
        while pending:
            group = pending if together else pending[:1]
            output = self._plan_output(copy, group, report)
            killed = [m for m in group if m.plan_error in output]
            results += [MutantResult(m, Verdict.KILLED, TERRAFORM_KILLER, m.plan_error) for m in killed]
            survived = group if len(group) == 1 and not killed else []
            results += [MutantResult(m, Verdict.SURVIVED, evidence="Terraform accepted the plan") for m in survived]
            together = together and bool(killed)
            pending = [m for m in pending if m not in killed and m not in survived]
        return results

    @staticmethod
    def _plan_output(copy: PreparedStack, group: list[Mutant], report: MutationReport) -> str:
        report.plans += 1
        try:
            copy.plan_variant(*planting(group))
            return ""
        except TerraformFailed as exc:
            return " ".join(exc.output.replace("│", " ").split())

    def _run_planned_only(
        self, batch: list[Mutant], baseline: set[tuple[str, str, str]], report: MutationReport
    ) -> list[MutantResult]:
        """Plant mutants AWS would refuse to apply, plan them on the deployed stack, and run their killers
        on that plan: applying them would fail (on AWS, and on the emulator patched to refuse them too)
        before any killer could see them, and the failure alone would not say which defect it was."""
        killers = {k for m in batch for k in m.killers}
        unplanned = sorted(k for k in killers if k == TERRAFORM_KILLER or not by_id(k).plan_level)
        if unplanned:
            raise StackprobeError(
                f"Mutants {', '.join(m.id for m in batch)} are planned only, but {', '.join(unplanned)} "
                "would not read their plan",
                "a planned-only mutant's killers must be plan-level checks; apply the mutant instead "
                "(drop `planned_only`), or name a plan-level killer.",
            )
        LOG.info("planned-only mutants: %s", ", ".join(m.id for m in batch))
        report.plans += 1
        try:
            with self.deployment.variant(*planting(batch)) as variant:
                plan = variant.plan()
        except TerraformFailed as exc:
            return [MutantResult(m, Verdict.ERROR, "", exc.detail[:500]) for m in batch]
        context = replace(self.context(), plan=plan)
        results = []
        for mutant in batch:
            fresh = _failure_keys(run_checks(context, [by_id(k) for k in mutant.killers])) - baseline
            if fresh:
                check_id, resource, evidence = sorted(fresh)[0]
                results.append(MutantResult(mutant, Verdict.KILLED, check_id, f"{resource}: {evidence} (planned)"))
            else:
                results.append(MutantResult(mutant, Verdict.SURVIVED, evidence="no killer check failed on its plan"))
        return results

    def _run_batch(
        self,
        number: int,
        batch: list[Mutant],
        baseline: set[tuple[str, str, str]],
        report: MutationReport,
        *,
        retried: bool = False,
    ) -> list[MutantResult]:
        LOG.info("mutant batch %d: %s", number, ", ".join(m.id for m in batch))
        report.applies += 1
        try:
            with self.deployment.variant(*planting(batch)) as variant:
                # Plan, then apply that saved plan: the same cost as one apply, and plan-level killers (which
                # read the configuration) see the mutated plan; the checks run while the variant is planted,
                # so configuration-level ones read it too.
                plan = variant.plan()
                variant.apply(plan)
                return self._judge_batch(number, batch, baseline, plan)
        except TerraformFailed as exc:
            return self._failed_batch(number, batch, baseline, report, exc, retried)

    def _judge_batch(
        self, number: int, batch: list[Mutant], baseline: set[tuple[str, str, str]], plan: Plan
    ) -> list[MutantResult]:
        context = replace(self.context(), plan=plan)
        results = []
        for mutant in batch:
            checks = [by_id(k) for k in mutant.killers if k != TERRAFORM_KILLER]
            fresh = _failure_keys(run_checks(context, checks)) - baseline
            if fresh:
                check_id, resource, evidence = sorted(fresh)[0]
                results.append(MutantResult(mutant, Verdict.KILLED, check_id, f"{resource}: {evidence}", number))
            else:
                evidence = "no killer check reported a new failure"
                results.append(MutantResult(mutant, Verdict.SURVIVED, evidence=evidence, batch=number))
        return results

    def _failed_batch(
        self,
        number: int,
        batch: list[Mutant],
        baseline: set[tuple[str, str, str]],
        report: MutationReport,
        exc: TerraformFailed,
        retried: bool,
    ) -> list[MutantResult]:
        text = " ".join(exc.output.replace("│", " ").split())
        refused = "precondition" in text.lower() or "Invalid value for variable" in text
        cause = _first_error(exc)
        if not refused and not retried:
            # A provider error is often a wait that lost a race under load; the usual remedy, applying again,
            # also converges whatever the failed apply left half-done.
            report.incidents.append(f"batch {number} failed to apply ({cause}); applied it again")
            LOG.warning("batch %d failed to apply (%s); applying it again", number, cause)
            return self._run_batch(number, batch, baseline, report, retried=True)
        if len(batch) > 1:
            report.incidents.append(f"batch {number} failed to apply again ({cause}); ran its mutants one by one")
            LOG.warning("batch %d failed to apply again (%s); running its mutants one by one", number, cause)
            results = []
            for mutant in batch:
                results += self._run_batch(number, [mutant], baseline, report, retried=True)
            return results
        verdict = Verdict.KILLED if refused else Verdict.ERROR
        return [MutantResult(batch[0], verdict, TERRAFORM_KILLER if refused else "", exc.detail[:500], number)]


def _first_error(exc: TerraformFailed) -> str:
    """The first of terraform's error paragraphs (already extracted into `detail`), on one line."""
    first = exc.detail.split("\n\n", 1)[0] if exc.detail else ""
    return " ".join(line.strip() for line in first.splitlines()[:3] if line.strip())[:300] or "no error text"
