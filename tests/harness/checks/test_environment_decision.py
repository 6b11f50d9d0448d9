"""stackprobe.aws.environment: which environment a stack and each resource is judged as, and why.

Pure functions over plan JSON, var file names and tags: no emulator.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stackprobe.aws.environment import (
    UNKNOWN_LINE,
    EnvironmentDecision,
    canonical,
    decide_environment,
    environment_decision,
    relaxed_reason,
    selected_workspace,
)
from stackprobe.backends.base import AwsBackend
from stackprobe.checks.base import CheckContext
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness


def plan(tags: list[dict[str, str]] | None = None, **variables: str) -> dict[str, Any]:
    resources = [
        {"address": f"aws_s3_bucket.b{i}", "values": {"tags_all": t, "tags": {}}} for i, t in enumerate(tags or [])
    ]
    return {
        "planned_values": {"root_module": {"resources": resources}},
        "variables": {name: {"value": value} for name, value in variables.items()},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("prod", "production"),
        ("Production", "production"),
        ("prod-eu", "production"),
        ("prod-test", "production"),  # names production: the stricter reading
        ("pre-prod", "staging"),
        ("UAT", "staging"),
        ("preview", "staging"),
        ("dev", "development"),
        ("dev-eu", "development"),
        ("qa2", "development"),
        ("ci", "development"),
        ("sbx", "development"),
        ("non-prod", "development"),
        ("demo", None),
        ("challenge", None),
        ("main", None),
        ("private", None),
    ],
)
def test_canonical_names(value: str, expected: str | None) -> None:
    assert canonical(value) == expected


def test_nothing_names_an_environment_so_production_rules_apply() -> None:
    decision = decide_environment(None, plan(region="eu-west-1"), ())
    assert decision.production and decision.name == "unknown"
    assert (
        decision.describe()
        == UNKNOWN_LINE
        == ("environment unknown: production rules applied (set --environment to change)")
    )
    assert decision.rule == "production rules: environment unknown, set --environment to change"


def test_tags_come_first_then_variables_then_var_files() -> None:
    tagged = decide_environment(
        None, plan([{"Environment": "dev"}, {"Environment": "dev"}], environment="prod"), (Path("prod.tfvars"),)
    )
    assert (tagged.name, tagged.production, tagged.reason) == (
        "development",
        False,
        "tag Environment=dev on 2 resources",
    )
    variable = decide_environment(None, plan(env="staging"), (Path("prod.tfvars"),))
    assert (variable.name, variable.reason) == ("staging", 'variable env = "staging"')
    assert variable.describe() == 'environment: staging (variable env = "staging"): production rules relaxed'
    named = decide_environment(None, plan(), (Path("env/common.tfvars"), Path("environments/prod/terraform.tfvars")))
    assert (named.name, named.production, named.reason) == ("production", True, "var file prod/terraform.tfvars")
    assert named.describe() == "environment: production (var file prod/terraform.tfvars): production rules apply"


def test_a_name_that_is_not_clearly_non_production_applies_production_rules() -> None:
    """`environment = "challenge"` is some environment's name, but not one that relaxes anything."""
    challenge = decide_environment(None, plan(environment="challenge"), ())
    assert (challenge.name, challenge.production, challenge.value) == ("challenge", True, "challenge")
    assert challenge.describe() == (
        'environment: challenge (variable environment = "challenge"): production rules apply, '
        "`challenge` is not a non-production name"
    )
    assert challenge.rule == 'production: variable environment = "challenge" (not a non-production name)'
    assert decide_environment(None, plan([{"Environment": "main"}]), ()).production
    assert decide_environment(None, plan(stage="prod-eu"), ()).name == "production"


def test_tier_tags_name_no_environment() -> None:
    """`Tier = "private"` says where a subnet sits: it was once read as "environment: private"."""
    tiered = decide_environment(None, plan([{"Tier": "private"}, {"Tier": "public"}]), ())
    assert (tiered.name, tiered.production, tiered.describe()) == ("unknown", True, UNKNOWN_LINE)
    assert tiered.for_resource({"Tier": "private"}) is tiered
    assert tiered.for_resource({"Stage": "dev"}).name == "development"


def test_a_variable_with_no_value_applies_production_rules_and_says_why() -> None:
    configuration = {"root_module": {"variables": {"environment": {"description": "where it runs"}}}}
    valueless = decide_environment(None, {**plan(), "variables": {"environment": {"value": None}}}, ())
    declared_only = decide_environment(None, {**plan(), "configuration": configuration}, ())
    for decision in (valueless, declared_only):
        assert decision.production and decision.name == "unknown"
        assert decision.describe() == (
            "environment unknown: production rules applied (variable environment has no value: null or empty, "
            "and none given; set --environment to change)"
        )


def test_the_workspace_the_user_selected_names_an_environment(tmp_path: Path) -> None:
    assert decide_environment(None, plan(), (), workspace="default").name == "unknown"
    staging = decide_environment(None, plan(), (Path("prod.tfvars"),), workspace="staging")
    assert (staging.name, staging.reason) == ("staging", "terraform workspace staging")
    (tmp_path / ".terraform").mkdir()
    (tmp_path / ".terraform" / "environment").write_text("qa\n")
    assert selected_workspace(tmp_path, {}) == "qa"
    assert selected_workspace(tmp_path, {"TF_WORKSPACE": "prod"}) == "prod"
    assert selected_workspace(None, {}) is None


def test_several_environments_in_one_stack() -> None:
    mixed = decide_environment(None, plan([{"Environment": "dev"}, {"env": "prod"}]), ())
    assert mixed.production and mixed.reason == "tags name several environments (Environment=dev, env=prod)"
    lower = decide_environment(None, plan([{"Environment": "dev"}, {"Environment": "dev"}, {"Environment": "qa"}]), ())
    assert not lower.production and lower.name == "development"
    unread = decide_environment(None, plan([{"Environment": "dev"}, {"Environment": "challenge"}]), ())
    assert unread.production


def test_a_resource_tag_wins_for_that_resource_and_a_declaration_wins_over_everything() -> None:
    stack = decide_environment(None, plan([{"Environment": "prod"}]), ())
    dev_service = stack.for_resource([{"key": "env", "value": "dev"}], {"Environment": "prod"})
    assert (dev_service.production, dev_service.reason) == (False, "tag env=dev")
    assert stack.for_resource(None, {}) is stack
    declared = decide_environment("staging", plan([{"Environment": "prod"}]), (Path("prod.tfvars"),))
    assert declared.for_resource({"Environment": "prod"}) is declared
    assert declared.rule == "not production: declared with --environment staging"
    assert decide_environment("auto", plan(environment="qa"), ()).name == "development"


def test_an_unknown_value_is_judged_as_production() -> None:
    demo = EnvironmentDecision("unknown", True, "nothing").for_resource({"Stage": "demo"})
    assert (demo.name, demo.production, demo.rule) == (
        "demo",
        True,
        "production: tag Stage=demo (not a non-production name)",
    )


def test_a_relaxed_rule_names_the_environment_as_written() -> None:
    dev = decide_environment(None, plan(environment="dev"), ())
    tagged = dev.for_resource({"Environment": "sandbox"})
    assert relaxed_reason([dev, dev, tagged]) == (
        'environment `dev` is not production (variable environment = "dev"); '
        "environment `sandbox` is not production (tag Environment=sandbox)"
    )


def test_a_declared_environment_must_be_one_of_three() -> None:
    with pytest.raises(ValueError, match="choose one of production, staging, development or auto"):
        decide_environment("moon", None, ())


def test_the_decision_is_computed_once_per_context() -> None:
    backend = AwsBackend(name="moto", endpoint="http://127.0.0.1:9", region="eu-west-1", account_id="123456789012")
    context = CheckContext(backend=backend, plan=Plan(plan(environment="prod")), var_files=(Path("dev.tfvars"),))
    first = context.decision
    assert first.describe() == 'environment: production (variable environment = "prod"): production rules apply'
    assert context.decision is first
    assert environment_decision(context, {}) == first
    # Another context (here without the plan) decides afresh: from the var file's name, this time.
    assert environment_decision(replace(context, plan=None), {}).describe() == (
        "environment: development (var file dev.tfvars): production rules relaxed"
    )
