"""A health check path the quickstart's app does not serve makes health.live fail with the 404 it answers.

Not collected by this repository's suite: tests/integration/test_quickstart_example.py hands it to the
quickstart's own pytest session (configured only by examples/quickstart/pyproject.toml), after
examples/quickstart/tests/test_quickstart.py, so that both verdicts come from one deployment: health.live
passes on the stack as written, then fails on the mutant from examples/quickstart/mutants.yaml.
"""

from __future__ import annotations

import pytest

from stackprobe.lifecycle.context import build_context
from stackprobe.lifecycle.deployment import DeployedStack
from stackprobe.mutants.catalogue import load_catalogue
from stackprobe.mutants.runner import MutationRun, Verdict
from stackprobe.pytest_plugin import check_settings

MUTANT = "health-check-path-404"


def test_a_health_check_path_the_app_does_not_serve_fails_health_live(
    request: pytest.FixtureRequest, deployed_stack: DeployedStack
) -> None:
    stack = deployed_stack.owner
    catalogue = load_catalogue(stack.spec.tf_dir / "mutants.yaml")
    settings = check_settings(request.config)
    report = MutationRun(stack, lambda: build_context(deployed_stack, settings)).run([catalogue.by_id(MUTANT)])
    result = report.result(MUTANT)
    print(f"\n{MUTANT}: {result.verdict.value} by {result.killed_by}: {result.evidence}")
    assert result.verdict is Verdict.KILLED and result.killed_by == "health.live", report.render()
    assert "ALB check unhealthy: GET /health on 127.0.0.1:" in result.evidence
    assert "→ [404, 404] vs matcher 200" in result.evidence
