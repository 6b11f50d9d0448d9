"""The example's database no longer admitting web makes health.live fail with the refused connection.

Not collected by this repository's suite: tests/integration/test_datastores_example.py hands it to the example's
own pytest session (configured only by examples/datastores/pyproject.toml), after its tests, so that every
verdict comes from one deployment.
"""

from __future__ import annotations

import pytest

from stackprobe.lifecycle.context import build_context
from stackprobe.lifecycle.deployment import DeployedStack
from stackprobe.mutants.catalogue import load_catalogue
from stackprobe.mutants.runner import MutationRun, Verdict
from stackprobe.pytest_plugin import check_settings

MUTANT = "database-refuses-web"


def test_a_database_that_no_longer_admits_web_fails_its_health_check(
    request: pytest.FixtureRequest, deployed_stack: DeployedStack
) -> None:
    stack = deployed_stack.owner
    catalogue = load_catalogue(stack.spec.tf_dir / "mutants.yaml")
    settings = check_settings(request.config)
    report = MutationRun(stack, lambda: build_context(deployed_stack, settings)).run([catalogue.by_id(MUTANT)])
    result = report.result(MUTANT)
    print(f"\n{MUTANT}: {result.verdict.value} by {result.killed_by}: {result.evidence}")
    assert result.verdict is Verdict.KILLED and result.killed_by == "health.live", report.render()
    assert "so the connection is refused as AWS would drop it" in result.evidence
