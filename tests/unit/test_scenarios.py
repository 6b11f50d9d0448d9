"""Every scenario's plan meets its expectations file (tests/unit/scenarios/<scenario>.yaml).

Expectations are partial: each entry names a resource address pattern and only the attributes that
matter, so a provider upgrade that adds defaults does not break the suite. Every address pattern must
match at least one planned resource, and every match must satisfy the expectation.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_specs import SCENARIOS

from stackprobe.terraform.plan import Plan, subset_mismatches

pytestmark = pytest.mark.unit

EXPECTATIONS = Path(__file__).parent / "scenarios"


def _load(name: str) -> dict[str, Any]:
    path = EXPECTATIONS / f"{name}.yaml"
    return dict(yaml.safe_load(path.read_text())) if path.exists() else {}


def test_every_scenario_has_an_expectations_file() -> None:
    missing = [name for name in SCENARIOS if not (EXPECTATIONS / f"{name}.yaml").exists()]
    assert not missing, f"add tests/unit/scenarios/<name>.yaml for: {', '.join(missing)}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_plan_matches_expectations(scenario: str, scenario_plans: dict[str, Plan]) -> None:
    plan = scenario_plans[scenario]
    expectations = _load(scenario)
    problems: list[str] = []
    for type_pattern, expected in (expectations.get("counts") or {}).items():
        found = plan.count(type_pattern)
        if found != expected:
            problems.append(f"count {type_pattern}: expected {expected}, planned {found}")
    for address_pattern, expected in (expectations.get("resources") or {}).items():
        # `*` is the only wildcard: brackets are index keys in addresses, not character classes.
        pattern = address_pattern.replace("[", "[[]")
        matches = [r for r in plan.resources() if fnmatch.fnmatchcase(r.address, pattern)]
        if not matches:
            problems.append(f"{address_pattern}: no planned resource matches")
        for resource in matches:
            problems += [f"{resource.address}: {p}" for p in subset_mismatches(resource.values, expected)]
    for type_pattern in expectations.get("absent") or []:
        if plan.count(type_pattern):
            problems.append(f"{type_pattern}: expected none, planned {plan.count(type_pattern)}")
    assert not problems, (
        f"scenario {scenario} does not meet tests/unit/scenarios/{scenario}.yaml:\n  "
        + "\n  ".join(problems)
        + f"\nReproduce: pytest tests/unit/test_scenarios.py -k {scenario}  "
        f"(plan by hand: stackprobe verify terraform --var-file terraform/environments/{scenario}.tfvars)"
    )
