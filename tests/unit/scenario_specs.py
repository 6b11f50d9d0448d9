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


# Scenarios that read what an account holds before the stack: brief 001's existing VPC (ml-serving). Its
# plan reads every given subnet, so it needs a real VPC: the prerequisites configuration creates one on the
# emulator first and passes its ids (existing_network) over the tfvars' placeholders.
PREREQUISITES = {"ml-serving": TERRAFORM / "prerequisites" / "existing-network"}


def scenario_spec(name: str) -> StackSpec:
    prerequisites = PREREQUISITES.get(name)
    return StackSpec(
        tf_dir=TERRAFORM,
        var_files=(ENVIRONMENTS / f"{name}.tfvars",),
        teardown_variables=TEARDOWN_VARIABLES,
        prerequisites=StackSpec(tf_dir=prerequisites) if prerequisites is not None else None,
    )
