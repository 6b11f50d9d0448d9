"""How a mutation run reacts when an apply fails: the cost it reports and the reason it gives.

The catalogue's own test (tests/mutants) runs on a real deployment and only sees the outcome; these
tests drive `MutationRun` with a runner whose applies fail on cue, so each fallback is exercised on
purpose: a transient provider error is applied again (not split into one apply per mutant), a batch
that keeps failing is split, and every failure is named in the report.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe.checks import by_id
from stackprobe.checks.base import CheckContext, CheckResult, Finding
from stackprobe.errors import StackprobeError, TerraformFailed
from stackprobe.lifecycle.stack import StackMode
from stackprobe.mutants import runner as mutation_runner
from stackprobe.mutants.catalogue import Mutant
from stackprobe.mutants.runner import MUTANT_FILE_MARKER, MutationRun, Verdict, plan_batches

KILLERS = ("s3.versioning", "kms.rotation", "ecr.immutable-tags")
MUTANTS = [
    Mutant(id=f"m{n}", description=f"mutant {n}", killers=(killer,), files=((f"m{n}.tf", "# planted\n"),))
    for n, killer in enumerate(KILLERS)
]
PROVIDER_ERROR = "Error: waiting for SQS Queue (jobs) attributes create: timeout while waiting\n  with module.queue"


class FlakyRunner:
    """Applies fail while `failures` lasts; each failure is the provider error a loaded machine gives."""

    def __init__(self, module_dir: Path, failures: int) -> None:
        self.workspace = SimpleNamespace(module_dir=module_dir)
        self.variables: dict[str, Any] = {}
        self.failures = failures
        self.applied = 0

    def plan(self, refresh: bool = True) -> dict[str, Any]:
        return {}

    def apply_plan(self, plan: dict[str, Any]) -> None:
        self.applied += 1
        if self.failures:
            self.failures -= 1
            raise TerraformFailed("apply failed", "see the output", PROVIDER_ERROR, output=PROVIDER_ERROR)

    def apply(self, refresh: bool = True) -> None:
        """An apply of the configuration as it is (no saved plan): what reverts the last batch."""
        self.reverts = getattr(self, "reverts", 0) + 1
        self.planted_at_revert = sorted(p.name for p in self.workspace.module_dir.glob(f"{MUTANT_FILE_MARKER}*"))


def planted_failures(module_dir: Path) -> Any:
    """run_checks stand-in: each planted mutant makes its killer report one failing finding."""

    def run_checks(context: CheckContext, checks: list[Any]) -> list[CheckResult]:
        planted = {p.name for p in module_dir.glob(f"{MUTANT_FILE_MARKER}*")}
        results = []
        for check in checks:
            result = CheckResult(check)
            for mutant in MUTANTS:
                if check.id in mutant.killers and any(mutant.id in name for name in planted):
                    result.findings.append(Finding(check.id, False, mutant.id, "planted"))
            results.append(result)
        return results

    return run_checks


@pytest.fixture
def flaky_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(mutation_runner, "run_checks", planted_failures(tmp_path))

    def make(failures: int, mode: StackMode = StackMode.EPHEMERAL) -> tuple[MutationRun, FlakyRunner]:
        runner = FlakyRunner(tmp_path, failures)
        stack = SimpleNamespace(runner=runner, deployed=object(), mode=mode)
        return MutationRun(stack, lambda: SimpleNamespace(plan=None)), runner  # type: ignore[arg-type]

    return make


def test_the_killer_checks_exist() -> None:
    assert [by_id(k).id for k in KILLERS] == list(KILLERS)


def test_a_transient_apply_failure_is_applied_again_not_split(flaky_run: Any) -> None:
    run, runner = flaky_run(failures=1)
    report = run.run(MUTANTS)
    assert [r.verdict for r in report.results] == [Verdict.KILLED] * 3
    assert report.applies == 2 == runner.applied
    assert report.incidents == [
        "batch 1 failed to apply (Error: waiting for SQS Queue (jobs) attributes create: timeout while waiting "
        "with module.queue); applied it again"
    ]
    assert "note: batch 1 failed to apply" in report.render()


def test_a_kept_stack_is_left_as_it_was_found(flaky_run: Any) -> None:
    """A live session's stack has no teardown apply to revert the last batch: the run applies once more."""
    run, runner = flaky_run(failures=0, mode=StackMode.KEPT)
    report = run.run(MUTANTS)
    assert runner.reverts == 1 and runner.planted_at_revert == []
    assert report.applies == runner.applied + 1
    ephemeral, plain = flaky_run(failures=0)
    ephemeral.run(MUTANTS)
    assert not hasattr(plain, "reverts"), "an ephemeral stack's teardown apply reverts it: no extra apply"


def test_a_batch_that_keeps_failing_is_split_and_says_so(flaky_run: Any) -> None:
    run, runner = flaky_run(failures=2)
    report = run.run(MUTANTS)
    assert [r.verdict for r in report.results] == [Verdict.KILLED] * 3
    assert report.applies == 2 + len(MUTANTS) == runner.applied
    assert report.incidents[-1].endswith("ran its mutants one by one")


def test_a_mutant_that_cannot_be_applied_alone_is_an_error_not_a_kill(flaky_run: Any) -> None:
    run, _ = flaky_run(failures=99)
    report = run.run(MUTANTS[:1])
    assert report.results[0].verdict == Verdict.ERROR
    assert report.applies == 2  # applied, then applied again: one mutant is never split further
    assert not list(run.runner.workspace.module_dir.glob(f"{MUTANT_FILE_MARKER}*")), "planted files left behind"


def test_the_largest_batch_is_applied_last() -> None:
    """Its revert then shares the teardown apply (which waits on the database anyway)."""
    shared = Mutant(id="clash", description="shares a killer", killers=("s3.versioning",))
    batches = plan_batches([*MUTANTS, shared])
    assert [len(b) for b in batches] == [1, 3]
    assert batches[0] == [shared]


class RefusingRunner:
    """Plans fail with the errors Terraform would give: `hidden` is refused only while `hider` is valid."""

    def __init__(self, module_dir: Path) -> None:
        self.workspace = SimpleNamespace(module_dir=module_dir)
        self.variables: dict[str, Any] = {}
        self.plans: list[set[str]] = []

    def plan(self, refresh: bool = True) -> dict[str, Any]:
        planted = set(self.variables)
        self.plans.append(planted)
        errors = [f"Error: {name} is invalid" for name in sorted(planted & {"hider", "plain"})]
        if "hidden" in planted and "hider" not in planted:
            errors.append("Error: hidden failed its precondition")
        if errors:
            raise TerraformFailed("plan failed", "see the output", errors[0], output="\n".join(errors))
        return {}


def _refusal(name: str, error: str) -> Mutant:
    return Mutant(id=name, description=name, killers=(), variables=((name, 1),), plan_error=error)


def test_a_refusal_hidden_by_another_is_found_by_planning_the_rest_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation_runner, "run_checks", lambda context, checks: [])
    deployed = FlakyRunner(tmp_path / "deployed", failures=0)
    runner = RefusingRunner(tmp_path / "copy")
    stack = SimpleNamespace(runner=deployed, deployed=object(), mode=StackMode.EPHEMERAL)
    run = MutationRun(stack, lambda: None, refusal_runner=lambda: runner)  # type: ignore[arg-type, return-value]
    mutants = [
        _refusal("hider", "hider is invalid"),
        _refusal("hidden", "hidden failed its precondition"),
        _refusal("plain", "plain is invalid"),
        _refusal("accepted", "accepted is invalid"),
    ]

    report = run.run(mutants)

    assert {r.mutant.id: r.verdict for r in report.results} == {
        "hider": Verdict.KILLED,
        "hidden": Verdict.KILLED,
        "plain": Verdict.KILLED,
        "accepted": Verdict.SURVIVED,
    }
    # All four; then the two not refused yet (`hidden` is refused once `hider` is gone); then the last.
    assert runner.plans == [{"hider", "hidden", "plain", "accepted"}, {"hidden", "accepted"}, {"accepted"}]
    assert report.plans == 3
    assert runner.variables == {}, "planted variables left behind"
    assert deployed.applied == 0, "a mutant Terraform must refuse reached the deployed stack"


def _planned_only(name: str, killer: str) -> Mutant:
    return Mutant(
        id=name, description=name, killers=(killer,), files=((f"{name}.tf", "# planted\n"),), planned_only=True
    )


def test_a_mutant_aws_refuses_is_planned_not_applied_and_killed_from_its_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its killers read the plan made with it planted, before any batch changes the deployed stack."""
    seen: list[tuple[str, Any]] = []

    def run_checks(context: Any, checks: list[Any]) -> list[CheckResult]:
        planted = sorted(p.name for p in tmp_path.glob(f"{MUTANT_FILE_MARKER}*"))
        seen.append((",".join(c.id for c in checks), context.plan))
        results = []
        for check in checks:
            result = CheckResult(check)
            if context.plan == {"planted": ["replica"]}:
                result.findings.append(Finding(check.id, False, "aws_db_instance.replica", "refused by RDS"))
            results.append(result)
        assert planted == [], "checks ran while the mutant's files were still planted"
        return results

    class PlanningRunner(FlakyRunner):
        def plan(self, refresh: bool = True) -> dict[str, Any]:
            return {"planted": sorted(p.name.split("_")[-1][:-3] for p in tmp_path.glob(f"{MUTANT_FILE_MARKER}*"))}

    monkeypatch.setattr(mutation_runner, "run_checks", run_checks)
    runner = PlanningRunner(tmp_path, failures=0)
    stack = SimpleNamespace(runner=runner, deployed=object(), mode=StackMode.EPHEMERAL)
    run = MutationRun(stack, lambda: SimpleNamespace(plan=None))  # type: ignore[arg-type]

    report = run.run([_planned_only("replica", "database.replica-managed-password")])

    assert [(r.verdict, r.killed_by) for r in report.results] == [(Verdict.KILLED, "database.replica-managed-password")]
    assert runner.applied == 0, "a mutant AWS refuses reached an apply"
    assert (report.applies, report.plans) == (0, 1)
    assert seen[-1] == ("database.replica-managed-password", {"planted": ["replica"]})


def test_a_planned_only_mutant_needs_a_plan_level_killer(flaky_run: Any) -> None:
    run, runner = flaky_run(failures=0)
    with pytest.raises(StackprobeError, match=r"s3\.versioning would not read their plan"):
        run.run([_planned_only("versioning-off", "s3.versioning")])
    assert runner.applied == 0
