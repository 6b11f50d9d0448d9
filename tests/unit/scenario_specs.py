"""The scenarios of the reference stack: one per tfvars file in terraform/environments/."""

from __future__ import annotations

from pathlib import Path

from stackprobe.settings import StackSpec

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ENVIRONMENTS = TERRAFORM / "environments"
SCENARIOS = sorted(p.stem for p in ENVIRONMENTS.glob("*.tfvars"))


# Scenarios that read what an account holds before the stack: brief 001's existing VPC (image-classifier).
# Its plan reads every given subnet, so it needs a real VPC: the prerequisites configuration creates one on
# the emulator first and passes its ids (existing_network) over the tfvars' placeholders.
PREREQUISITES = {"image-classifier": TERRAFORM / "prerequisites" / "existing-network"}


def scenario_spec(name: str) -> StackSpec:
    prerequisites = PREREQUISITES.get(name)
    return StackSpec(
        tf_dir=TERRAFORM,
        var_files=(ENVIRONMENTS / f"{name}.tfvars",),
        prerequisites=StackSpec(tf_dir=prerequisites) if prerequisites is not None else None,
    )
