"""The scenarios of the reference stack: one per tfvars file in terraform/environments/."""

from __future__ import annotations

from pathlib import Path

from stackprobe.settings import StackSpec

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ENVIRONMENTS = TERRAFORM / "environments"
SCENARIOS = sorted(p.stem for p in ENVIRONMENTS.glob("*.tfvars"))
# The stack's one test-only variable, applied only before destroy (as pyproject.toml configures the
# integration run): the prod scenario below is then the very spec the integration tests deploy, and
# its plan is computed once for both.
TEARDOWN_VARIABLES = (("allow_destroy_for_tests", "true"),)


def scenario_spec(name: str) -> StackSpec:
    return StackSpec(
        tf_dir=TERRAFORM, var_files=(ENVIRONMENTS / f"{name}.tfvars",), teardown_variables=TEARDOWN_VARIABLES
    )
