"""Every catalogued defect, planted in the deployed reference stack, is caught (terraform/mutants.yaml).

The whole catalogue runs once, in batches (see stackprobe.mutants.runner); each mutant is then one
test named after it, which fails with the verdict and what was (or was not) seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.lifecycle.context import build_context
from stackprobe.lifecycle.deployment import DeployedStack
from stackprobe.lifecycle.run import Run
from stackprobe.mutants.catalogue import load_catalogue
from stackprobe.mutants.runner import MutationReport, MutationRun, Verdict
from stackprobe.pytest_plugin import check_settings

pytestmark = pytest.mark.mutants

CATALOGUE = load_catalogue(Path(__file__).resolve().parents[2] / "terraform" / "mutants.yaml")


@pytest.fixture(scope="session")
def mutation_report(request: pytest.FixtureRequest, stacks: Run, deployed_stack: DeployedStack) -> MutationReport:
    if stacks.settings.backend != "moto":
        # The catalogue mutates the whole reference stack (ECS, ALB, RDS, autoscaling...); the subset a
        # LocalStack without those services applies would leave most mutants nothing to act on, and
        # they would "survive" for the wrong reason. The checks' ability to fail is proven on moto.
        pytest.skip(
            f"mutants run on the embedded moto, where the whole reference stack applies; this session's "
            f"backend is {stacks.settings.backend} (run: pytest -m mutants)"
        )
    settings = check_settings(request.config)
    run = MutationRun(deployed_stack.owner, lambda: build_context(deployed_stack, settings))
    report = run.run(CATALOGUE.mutants)
    print("\n" + report.render())
    return report


def test_catalogue_has_at_least_25_mutants_with_killers() -> None:
    assert len(CATALOGUE.mutants) >= 25
    assert all(m.killers for m in CATALOGUE.mutants)


@pytest.mark.parametrize("mutant_id", [m.id for m in CATALOGUE.mutants])
def test_mutant_is_killed(mutation_report: MutationReport, mutant_id: str) -> None:
    result = mutation_report.result(mutant_id)
    assert result.verdict == Verdict.KILLED, (
        f"{mutant_id} {result.verdict.value}: {result.mutant.description}\n"
        f"expected a failure from {', '.join(result.mutant.killers)}; saw: {result.evidence}"
    )
    # Killed by one of its own killers, not by Terraform refusing the apply: tests/harness/test_check_coverage.py
    # counts a mutant's sole killer as proven able to fail.
    assert result.killed_by in result.mutant.killers, (
        f"{mutant_id} was killed by {result.killed_by}, not by {', '.join(result.mutant.killers)}: {result.evidence}"
    )


def test_batching_keeps_the_run_cheap(mutation_report: MutationReport) -> None:
    """At most one apply or plan per five mutants (the speed target; bench/ measures the seconds)."""
    assert mutation_report.applies + mutation_report.plans <= len(CATALOGUE.mutants) / 5 + 1, mutation_report.render()
