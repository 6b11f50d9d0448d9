"""edge.waf-prod on hand-written states: the association names the load balancer by ARN, or CloudFront with a
web ACL sits in front of it; production only, by the environment decision."""

from __future__ import annotations

from typing import Any

import pytest
from plan_builders import context, state, stateful

from stackprobe.checks.base import Status
from stackprobe.checks.waf import waf_prod
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/{name}/50dc6c495c0c9188"
ACL = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/edge/a1b2"


def alb(name: str, **attributes: Any) -> dict[str, Any]:
    values = {
        "arn": ARN.format(name=name),
        "name": name,
        "internal": False,
        "load_balancer_type": "application",
        "dns_name": f"{name}-1.eu-west-1.elb.amazonaws.com",
        "tags": {},
        **attributes,
    }
    return stateful("aws_alb", name, values)  # the alias spelling: judged as aws_lb


def association(name: str, lb: str) -> dict[str, Any]:
    return stateful("aws_wafv2_web_acl_association", name, {"resource_arn": ARN.format(name=lb), "web_acl_arn": ACL})


def test_an_internet_facing_alb_without_a_web_acl_fails_and_one_with_passes() -> None:
    defective = state(
        alb("public"),
        alb("guarded"),
        association("guarded", "guarded"),
        alb("inside", internal=True),
        alb("tcp", load_balancer_type="network"),
        alb("fronted"),
        stateful(
            "aws_cloudfront_distribution",
            "cdn",
            {"web_acl_id": ACL, "origin": [{"domain_name": "fronted-1.eu-west-1.elb.amazonaws.com"}]},
        ),
    )
    result = assert_check(context(state=defective), waf_prod, Status.FAIL)

    by = {str(f.address): f for f in result.findings}
    assert sorted(by) == ["aws_alb.fronted", "aws_alb.guarded", "aws_alb.public"]
    assert not by["aws_alb.public"].passed
    assert by["aws_alb.public"].evidence.startswith(
        "aws_alb.public (public, internet-facing): no web ACL is associated with it and no CloudFront distribution"
    )
    assert "production rules: environment unknown" in by["aws_alb.public"].evidence
    assert (
        by["aws_alb.guarded"].passed
        and "aws_wafv2_web_acl_association.guarded (web ACL edge)" in by["aws_alb.guarded"].evidence
    )
    assert by["aws_alb.fronted"].passed and "aws_cloudfront_distribution.cdn" in by["aws_alb.fronted"].evidence


def test_outside_production_the_rule_is_not_applicable_and_says_why() -> None:
    declared = assert_check(
        context(state=state(alb("public")), environment="development"), waf_prod, Status.NOT_APPLICABLE
    )
    assert "environment `development` is not production (declared with --environment development)" in (
        declared.not_applicable_reason
    )
    tagged = state(alb("public", tags={"Environment": "dev"}), alb("prod"))
    result = assert_check(context(state=tagged), waf_prod, Status.FAIL)
    assert [f.address for f in result.findings] == ["aws_alb.prod"]
