"""The reference stack meets what each legacy service's brief requires, in that service's scenario.

`stackprobe-requirements.yaml` next to a legacy stack declares what its service needs beyond universal
good practice (read replicas, a cache, a CDN). The deployed integration run uses prod.tfvars, which
needs none of them, so the "fixed in the reference" half of those defects is proven here: the
scenario tfvars named after the legacy stack must plan what the brief requires. Each requirement is
named after the live check that finds it missing on the legacy stack, so tests/integration/
test_legacy_audits.py can tell which defects are proven fixed where.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from scenario_specs import REPO, SCENARIOS

from stackprobe.settings import load_requirements
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.unit

LEGACY = REPO / "terraform" / "legacy"
DECLARED = sorted(p.parent.name for p in LEGACY.glob("*/stackprobe-requirements.yaml"))


def _read_replicas(plan: Plan, required: object) -> list[str]:
    wanted = int(str(required or 0))
    replicas = [r for r in plan.resources("aws_db_instance") if r.get("replicate_source_db") not in (None, "")]
    primaries = plan.count("aws_db_instance") - len(replicas)
    if wanted and len(replicas) < wanted * max(primaries, 1):
        return [f"{len(replicas)} read replica(s) for {primaries} primary database(s), {wanted} each required"]
    return []


def _cache(plan: Plan, required: object) -> list[str]:
    if not required:
        return []
    encrypted = [
        r
        for r in plan.resources("aws_elasticache_replication_group")
        if r.get("transit_encryption_enabled") is True
        and str(r.get("at_rest_encryption_enabled")).lower() == "true"  # a string in the provider schema
    ]
    return [] if encrypted else ["no ElastiCache replication group encrypted in transit and at rest"]


def _static_assets_cdn(plan: Plan, required: object) -> list[str]:
    if not required:
        return []
    return [] if plan.count("aws_cloudfront_distribution") else ["no CloudFront distribution"]


# Requirement key -> (the live check that reports it missing, what the plan must contain).
REQUIREMENTS: dict[str, tuple[str, Callable[[Plan, object], list[str]]]] = {
    "database_read_replicas": ("requirements.read-replicas", _read_replicas),
    "cache": ("requirements.cache", _cache),
    "static_assets_cdn": ("requirements.static-assets-cdn", _static_assets_cdn),
}


def test_every_declared_requirement_is_understood() -> None:
    """A key nobody checks would pass silently; the live checks read the same keys."""
    for name in DECLARED:
        unknown = set(load_requirements(LEGACY / name)) - set(REQUIREMENTS)
        assert not unknown, f"terraform/legacy/{name}/stackprobe-requirements.yaml: no check reads {sorted(unknown)}"


@pytest.mark.parametrize("name", DECLARED)
def test_scenario_plans_what_the_brief_requires(name: str, scenario_plans: dict[str, Plan]) -> None:
    assert name in SCENARIOS, f"terraform/legacy/{name} declares requirements but has no {name}.tfvars scenario"
    declared = load_requirements(LEGACY / name)
    plan = scenario_plans[name]
    problems = [
        f"{REQUIREMENTS[key][0]}: {problem}"
        for key, required in declared.items()
        if key in REQUIREMENTS
        for problem in REQUIREMENTS[key][1](plan, required)
    ]
    assert not problems, (
        f"terraform/environments/{name}.tfvars does not meet {Path('terraform/legacy') / name}/"
        f"stackprobe-requirements.yaml: {problems}\nReproduce: pytest tests/unit/test_requirements.py -k {name}"
    )


def test_requirement_checks_are_the_catalogue_s() -> None:
    from stackprobe.checks import by_id

    for check_id, _ in REQUIREMENTS.values():
        assert by_id(check_id).id == check_id
