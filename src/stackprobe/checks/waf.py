"""A web application firewall in front of every internet-facing production load balancer.

Read from the Terraform state, where an association names the load balancer it protects by ARN: AWS WAF
(`aws_wafv2_web_acl_association`, or the classic `aws_wafregional_web_acl_association`) attached to the
load balancer itself, or a CloudFront distribution with a web ACL whose origin is the load balancer.
Production only (the stack's environment decision, refined by the load balancer's own environment tag).
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks._support import ProductionRule
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Holder, Severity, check

ASSOCIATIONS = ("aws_wafv2_web_acl_association", "aws_wafregional_web_acl_association")


def _acl_name(acl: str) -> str:
    """`arn:aws:wafv2:...:regional/webacl/NAME/ID` -> NAME (a classic WAF's id as it is)."""
    parts = acl.split("/")
    return parts[-2] if len(parts) >= 3 else acl


def _protected(ctx: CheckContext) -> dict[str, str]:
    """Load balancer ARN or DNS name -> what protects it (an association, or a distribution with a web ACL)."""
    found: dict[str, str] = {}
    for kind in ASSOCIATIONS:
        for association in ctx.state_resources(kind):
            arn = str(association.attributes.get("resource_arn") or "")
            acl = association.attributes.get("web_acl_arn") or association.attributes.get("web_acl_id") or "?"
            if arn:
                found.setdefault(arn, f"{association.address} (web ACL {_acl_name(str(acl))})")
    for distribution in ctx.state_resources("aws_cloudfront_distribution"):
        acl = distribution.attributes.get("web_acl_id")
        if not acl:
            continue
        for origin in distribution.attributes.get("origin") or []:
            domain = str(origin.get("domain_name") or "")
            if domain:
                found.setdefault(domain, f"{distribution.address} (CloudFront with a web ACL in front of it)")
    return found


@check(
    "edge.waf-prod",
    "Internet-facing production load balancers are behind a web application firewall",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=(),
    why="An internet-facing application load balancer passes every request to the application: injection "
    "probes, credential stuffing, known-bad bots and request floods all reach the code. A web ACL with AWS's "
    "managed rule groups and a per-IP rate limit stops most of them for a few dollars a month, and its logs "
    "show what was blocked.",
    fix='Add an aws_wafv2_web_acl (scope = "REGIONAL", managed rule groups AWSManagedRulesCommonRuleSet and '
    "AWSManagedRulesKnownBadInputsRuleSet, a rate_based_statement) and an aws_wafv2_web_acl_association with "
    "resource_arn = the load balancer's arn.",
    reference="terraform/modules/edge (aws_wafv2_web_acl.this, aws_wafv2_web_acl_association.alb)",
    reads=("aws_lb",),
    holder=Holder.STATE,
)
def waf_prod(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    rule = ProductionRule(ctx)
    protected = _protected(ctx)
    judged = False
    for lb in ctx.state_resources("aws_lb"):
        attributes = lb.attributes
        if attributes.get("internal") or str(attributes.get("load_balancer_type") or "application") != "application":
            continue
        decision = rule.applies(attributes.get("tags") or attributes.get("tags_all"))
        if decision is None:
            continue
        judged = True
        arn, dns = str(attributes.get("arn") or ""), str(attributes.get("dns_name") or "")
        by = protected.get(arn) or protected.get(dns)
        name = attributes.get("name") or lb.address
        if by is not None:
            evidence = f"{lb.address} ({name}, internet-facing): protected by {by} ({decision.rule})"
        else:
            evidence = (
                f"{lb.address} ({name}, internet-facing): no web ACL is associated with it and no CloudFront "
                f"distribution with one is in front of it: every request reaches the application ({decision.rule})"
            )
        yield Finding(check_.id, by is not None, lb.address, evidence, lb.address)
    if not judged:
        rule.nothing_judged()
