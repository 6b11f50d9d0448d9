"""The error-rate objective is stated once for the harness and once for the stack, and they agree.

terraform/stackprobe-requirements.yaml states it for stackprobe (alarms.error-rate-below-slo judges the 5xx
alarm against it); variables.tf's error_rate_slo_percent states it for the stack (a precondition keeps the
alarm's threshold below it). A scenario that planned another objective than the one the harness checks
would be judged against the wrong number.
"""

from __future__ import annotations

import pytest
from scenario_specs import SCENARIOS, TERRAFORM

from stackprobe.settings import load_requirements
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_plans_the_stated_objective_and_alarms_below_it(
    scenario: str, scenario_plans: dict[str, Plan]
) -> None:
    stated = load_requirements(TERRAFORM)["error_rate_slo_percent"]
    plan = scenario_plans[scenario]
    assert plan.variables()["error_rate_slo_percent"] == stated, (
        f"{scenario}: error_rate_slo_percent differs from terraform/stackprobe-requirements.yaml ({stated})"
    )
    for alarm in plan.resources("aws_cloudwatch_metric_alarm"):
        if alarm.name == "alb_5xx_rate":
            assert alarm.get("threshold") < stated, f"{alarm.address}: {alarm.get('threshold')} >= {stated}"
