"""`aws_alb*` is the AWS provider's second name for `aws_lb*`: checks, the plan model, the state and the
account snapshot read either spelling as the other, and never count one resource twice.

deployment.listener-before-service is the check that reads load balancer types from the state; the tests
write its state in each spelling, and mixed, and expect the same verdicts and evidence (up to the
addresses, which keep the configuration's spelling).
"""

from __future__ import annotations

from typing import Any

import pytest
from compute_builders import alb, network

from stackprobe.aws.account import Account
from stackprobe.aws.clients import AwsClients
from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Status
from stackprobe.checks.first_apply import listener_before_service
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.resource_types import ALIASES, canonical_type

pytestmark = pytest.mark.harness

TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/sp-api/0123456789abcdef"
OFFLINE = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")


def _resource(kind: str, name: str, attributes: dict[str, Any], depends: list[str]) -> dict[str, Any]:
    instance = {"attributes": attributes, "dependencies": depends}
    return {"mode": "managed", "module": "module.edge", "type": kind, "name": name, "instances": [instance]}


def _state(group: str, listener: str, *, waits: bool) -> dict[str, Any]:
    """A target group, a listener forwarding to it, and a service in it: each type spelled as given."""
    forward = [{"type": "forward", "target_group_arn": TG}]
    action = "default_action" if listener.endswith("_listener") else "action"
    service_depends = [f"module.edge.{group}.api"] + ([f"module.edge.{listener}.https"] if waits else [])
    return {
        "resources": [
            _resource(group, "api", {"arn": TG, "id": TG}, []),
            _resource(listener, "https", {"arn": "listener-arn", action: forward}, [f"module.edge.{group}.api"]),
            _resource(
                "aws_ecs_service",
                "api",
                {"id": "service-arn", "load_balancer": [{"target_group_arn": TG}]},
                service_depends,
            ),
        ]
    }


def _judged(state: dict[str, Any]) -> CheckResult:
    return run_check(listener_before_service, CheckContext(backend=OFFLINE, state=state))


def _spelled_as_lb(result: CheckResult) -> list[tuple[bool, str]]:
    return [(f.passed, f.evidence.replace("aws_alb_", "aws_lb_")) for f in result.findings]


@pytest.mark.parametrize("waits", [True, False])
@pytest.mark.parametrize(
    ("group", "listener"),
    [
        ("aws_alb_target_group", "aws_alb_listener"),
        ("aws_alb_target_group", "aws_lb_listener"),
        ("aws_lb_target_group", "aws_alb_listener"),
        ("aws_alb_target_group", "aws_alb_listener_rule"),
        ("aws_lb_target_group", "aws_alb_listener_rule"),
    ],
)
def test_a_check_judges_either_spelling_as_the_other(group: str, listener: str, waits: bool) -> None:
    canonical = _judged(_state(canonical_type(group), canonical_type(listener), waits=waits))
    aliased = _judged(_state(group, listener, waits=waits))

    assert canonical.status is (Status.PASS if waits else Status.FAIL)
    assert aliased.status is canonical.status
    assert _spelled_as_lb(aliased) == _spelled_as_lb(canonical)


def test_resources_that_reference_each_other_across_spellings_are_judged_once() -> None:
    """An aws_lb_listener and an aws_alb_listener_rule both forward to one aws_alb_target_group: one finding for
    the service, naming each listener once."""
    state = _state("aws_alb_target_group", "aws_lb_listener", waits=True)
    rule = {"arn": "rule-arn", "action": [{"type": "forward", "target_group_arn": TG}]}
    state["resources"].insert(2, _resource("aws_alb_listener_rule", "api", rule, ["module.edge.aws_lb_listener.https"]))

    result = _judged(state)

    assert [(f.passed, f.resource) for f in result.findings] == [(True, "module.edge.aws_ecs_service.api")]
    assert result.findings[0].evidence == (
        "module.edge.aws_ecs_service.api → target group sp-api: created after module.edge.aws_lb_listener.https"
    )


def test_the_plan_model_reads_either_spelling_as_the_other() -> None:
    def planned(kind: str, name: str) -> dict[str, Any]:
        return {"address": f"{kind}.{name}", "mode": "managed", "type": kind, "name": name, "values": {}}

    plan = Plan(
        {
            "planned_values": {"root_module": {"resources": [planned("aws_alb", "web"), planned("aws_lb", "api")]}},
            "resource_changes": [
                {"address": "aws_alb.web", "mode": "managed", "type": "aws_alb", "change": {"actions": ["create"]}}
            ],
        }
    )

    assert [r.address for r in plan.resources("aws_lb")] == ["aws_alb.web", "aws_lb.api"]
    assert [r.address for r in plan.resources("aws_alb")] == ["aws_alb.web", "aws_lb.api"]
    assert plan.types() == {"aws_lb"} and plan.count("aws_lb*") == 2
    assert [c.type for c in plan.changes()] == ["aws_lb"]


def test_the_account_finds_the_same_load_balancers_under_either_name(clean_backend: AwsBackend) -> None:
    arn = alb(clean_backend, network(clean_backend))
    account = Account(AwsClients(clean_backend))

    assert [lb["LoadBalancerArn"] for lb in account.resources("aws_alb")] == [arn]  # type: ignore[index]
    assert account.resources("aws_alb") == account.resources("aws_lb")


def test_every_alias_names_an_aws_lb_type_and_only_aliases_change() -> None:
    assert all(
        alias.startswith("aws_alb") and name == alias.replace("aws_alb", "aws_lb", 1) for alias, name in ALIASES.items()
    )
    assert canonical_type("data.aws_alb_listener") == "data.aws_lb_listener"
    assert canonical_type("aws_albatross") == "aws_albatross"
