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

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import by_id
from stackprobe.checks.base import CheckContext, CheckResult, Finding
from stackprobe.errors import StackprobeError, TerraformFailed
from stackprobe.lifecycle.deployment import Deployment, StackMode
from stackprobe.lifecycle.prepared import planted
from stackprobe.mutants import runner as mutation_runner
from stackprobe.mutants.catalogue import Mutant
from stackprobe.mutants.runner import MUTANT_FILE_MARKER, MutationRun, Verdict, plan_batches
from stackprobe.settings import StackSpec

KILLERS = ("s3.versioning", "kms.rotation", "ecr.immutable-tags")
MUTANTS = [
    Mutant(id=f"m{n}", description=f"mutant {n}", killers=(killer,), files=((f"m{n}.tf", "# planted\n"),))
    for n, killer in enumerate(KILLERS)
]
PROVIDER_ERROR = "Error: waiting for SQS Queue (jobs) attributes create: timeout while waiting\n  with module.queue"


BACKEND = AwsBackend("moto", "http://127.0.0.1:1", "eu-west-1", "123456789012")  # never asked


class FlakyRunner:
    """Applies fail while `failures` lasts; each failure is the provider error a loaded machine gives."""

    def __init__(self, module_dir: Path, failures: int) -> None:
        self.module_dir = module_dir
        self.failures = failures
        self.applied = 0
        self.variables: dict[str, Any] = {}

    def plan(self, variables: dict[str, Any], refresh: bool = True) -> Any:
        self.variables = dict(variables)
        return {}

    def apply_plan(self, plan: Any) -> None:
        self.applied += 1
        if self.failures:
            self.failures -= 1
            raise TerraformFailed("apply failed", "see the output", PROVIDER_ERROR, output=PROVIDER_ERROR)

    def apply(self, variables: dict[str, Any], refresh: bool = True) -> None:
        """An apply of the configuration as it is (no saved plan): what leaves a kept stack as it was found."""
        self.reverts = getattr(self, "reverts", 0) + 1
        self.planted_at_revert = sorted(p.name for p in self.module_dir.glob(f"{MUTANT_FILE_MARKER}*"))


class StandInPrepared:
    """The part of a PreparedStack a deployment's variants use, around a stand-in runner."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self.spec = StackSpec(tf_dir=runner.module_dir)
        self.backend = BACKEND
        self.work_dir = runner.module_dir
        self.variables: dict[str, Any] = {}

    def runner(self) -> Any:
        return self._runner

    def workspace(self) -> Any:
        return SimpleNamespace(module_dir=self._runner.module_dir)

    def plan_variant(self, files: Any, variables: dict[str, Any]) -> Any:
        with planted(self._runner.module_dir, files):
            return self._runner.plan(dict(variables), refresh=False)


def deployment_of(runner: Any, mode: StackMode = StackMode.EPHEMERAL) -> Deployment:
    runner.module_dir.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(StandInPrepared(runner), mode)  # type: ignore[arg-type]
    deployment.deployed = object()  # type: ignore[assignment]
    return deployment


def context() -> CheckContext:
    return CheckContext(backend=BACKEND)


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
        return MutationRun(deployment_of(runner, mode), context), runner

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
    """A live session's stack is applied once more when it ends after mutants, without them; an ephemeral one
    is destroyed as it is (no revert: nothing would see it)."""
    run, runner = flaky_run(failures=0, mode=StackMode.KEPT)
    run.run(MUTANTS)
    assert not hasattr(runner, "reverts"), "reverted before the deployment ended"
    run.deployment.end()
    assert runner.reverts == 1 and runner.planted_at_revert == []
    ephemeral, plain = flaky_run(failures=0)
    ephemeral.run(MUTANTS)
    assert not hasattr(plain, "reverts"), "an ephemeral stack was applied once more for nothing"


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
    assert not list(run.deployment.prepared.workspace().module_dir.glob(f"{MUTANT_FILE_MARKER}*")), "files left"


def test_the_largest_batch_is_applied_last() -> None:
    """Its revert then shares the teardown apply (which waits on the database anyway)."""
    shared = Mutant(id="clash", description="shares a killer", killers=("s3.versioning",))
    batches = plan_batches([*MUTANTS, shared])
    assert [len(b) for b in batches] == [1, 3]
    assert batches[0] == [shared]


class RefusingRunner:
    """Plans fail with the errors Terraform would give: `hidden` is refused only while `hider` is valid."""

    def __init__(self, module_dir: Path) -> None:
        self.module_dir = module_dir
        self.plans: list[set[str]] = []

    def plan(self, variables: dict[str, Any], refresh: bool = True) -> Any:
        planted = set(variables)
        self.plans.append(planted)
        errors = [f"Error: {name} is invalid" for name in sorted(planted & {"hider", "plain"})]
        if "hidden" in planted and "hider" not in planted:
            errors.append("Error: hidden failed its precondition")
        if errors:
            raise TerraformFailed("plan failed", "see the output", errors[0], output="\n".join(errors))
        return {}


def _refusal(name: str, error: str) -> Mutant:
    files = ((f"{name}.tf", "# planted\n"),)
    return Mutant(id=name, description=name, killers=(), variables=((name, 1),), files=files, plan_error=error)


def test_a_refusal_hidden_by_another_is_found_by_planning_the_rest_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mutation_runner, "run_checks", lambda context, checks: [])
    deployed = FlakyRunner(tmp_path / "deployed", failures=0)
    runner = RefusingRunner(tmp_path / "copy")
    runner.module_dir.mkdir()
    copy = StandInPrepared(runner)
    run = MutationRun(deployment_of(deployed), context, refusals=lambda: copy)  # type: ignore[arg-type,return-value]
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
    assert not list(runner.module_dir.iterdir()), "planted files left behind in the copy"
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
        def plan(self, variables: dict[str, Any], refresh: bool = True) -> Any:
            return {"planted": sorted(p.name.split("_")[-1][:-3] for p in tmp_path.glob(f"{MUTANT_FILE_MARKER}*"))}

    monkeypatch.setattr(mutation_runner, "run_checks", run_checks)
    runner = PlanningRunner(tmp_path, failures=0)
    run = MutationRun(deployment_of(runner), context)

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
