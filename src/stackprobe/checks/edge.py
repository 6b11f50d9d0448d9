"""Load balancer edge checks: HTTPS only, a modern TLS policy, header hygiene, logs and protection.

Read from ELBv2 (every load balancer and listener in the account). On an emulator these are
configuration checks: they prove what the load balancer is configured to do, not that TLS works.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

REFERENCE = "terraform/modules/edge"
# Policies that allow only TLS 1.2 and 1.3 (AWS's documented names).
MODERN_TLS_PREFIXES = ("ELBSecurityPolicy-TLS13-", "ELBSecurityPolicy-TLS-1-2-", "ELBSecurityPolicy-FS-1-2-")


def _load_balancers(ctx: CheckContext) -> list[Mapping[str, Any]]:
    return [lb for lb in ctx.account.elbv2.load_balancers() if lb.get("Type") == "application"]


@check(
    "edge.https-only",
    "Internet-facing load balancers serve HTTPS; plain HTTP only redirects to it",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("elbv2",),
    why="An HTTP listener that forwards to the application sends credentials, tokens and data in clear "
    "text across the internet, where anyone on the path can read or change them.",
    fix="Serve the application on an HTTPS listener (ACM certificate) and make the port-80 listener's default "
    "action a redirect to HTTPS (status HTTP_301).",
    reference=REFERENCE,
    reads=("aws_lb",),
)
def https_only(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for lb in _load_balancers(ctx):
        # AWS's default scheme is internet-facing (moto leaves the field out when it was not given).
        if lb.get("Scheme", "internet-facing") != "internet-facing":
            continue
        listeners = ctx.account.elbv2.listeners(lb["LoadBalancerArn"])
        https = [x for x in listeners if x.get("Protocol") == "HTTPS"]
        for listener in listeners:
            if listener.get("Protocol") != "HTTP":
                continue
            actions = listener.get("DefaultActions", [])
            redirects = all(
                a.get("Type") == "redirect" and (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS"
                for a in actions
            )
            kinds = ", ".join(a.get("Type", "?") for a in actions)
            evidence = (
                f"HTTP:{listener.get('Port')} redirects to HTTPS"
                if redirects
                else f"HTTP:{listener.get('Port')} default action {kinds} serves plain HTTP"
            )
            yield ctx.finding(check_, redirects, listener["ListenerArn"], evidence, lb["LoadBalancerArn"])
        if not https:
            yield ctx.finding(check_, False, lb["LoadBalancerArn"], f"{lb['LoadBalancerName']} has no HTTPS listener")


@check(
    "edge.tls-policy",
    "HTTPS listeners accept only TLS 1.2 and newer",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("elbv2",),
    why="TLS 1.0/1.1 have known weaknesses and are refused by compliance regimes (PCI DSS); an old policy "
    "also keeps weak ciphers enabled.",
    fix='Use ssl_policy = "ELBSecurityPolicy-TLS13-1-2-2021-06" (TLS 1.3 with 1.2 fallback).',
    reference=REFERENCE,
    reads=("aws_lb",),
)
def tls_policy(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for lb in _load_balancers(ctx):
        for listener in ctx.account.elbv2.listeners(lb["LoadBalancerArn"]):
            if listener.get("Protocol") != "HTTPS":
                continue
            policy = str(listener.get("SslPolicy") or "")
            yield ctx.finding(
                check_,
                policy.startswith(MODERN_TLS_PREFIXES),
                listener["ListenerArn"],
                f"HTTPS:{listener.get('Port')} SslPolicy={policy or 'none'}",
                lb["LoadBalancerArn"],
            )


@check(
    "edge.load-balancer-hardening",
    "Load balancers drop invalid headers, keep access logs, and are deletion-protected in production",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=("elbv2",),
    why="Invalid header fields enable request smuggling; without access logs an incident has no record of "
    "who called what; a production load balancer deleted by mistake takes the service down.",
    fix="Set drop_invalid_header_fields = true, access_logs { enabled = true } to an S3 bucket, and "
    "enable_deletion_protection = true in production.",
    reference=REFERENCE,
    reads=("aws_lb",),
)
def hardening(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for lb in _load_balancers(ctx):
        attributes = ctx.account.elbv2.attributes(lb["LoadBalancerArn"])
        environment = ctx.decision.for_resource(ctx.account.elbv2.tags(lb["LoadBalancerArn"]))
        problems = []
        if attributes.get("routing.http.drop_invalid_header_fields.enabled") != "true":
            problems.append("drop_invalid_header_fields disabled")
        if attributes.get("access_logs.s3.enabled") != "true":
            problems.append("access logs disabled")
        if environment.production and attributes.get("deletion_protection.enabled") != "true":
            problems.append(f"deletion protection off ({environment.rule})")
        evidence = "; ".join(problems) or (
            "drops invalid headers, logs to s3://"
            + attributes.get("access_logs.s3.bucket", "?")
            + (f"; deletion protection on ({environment.rule})" if environment.production else "")
        )
        yield ctx.finding(check_, not problems, lb["LoadBalancerArn"], evidence)


@check(
    "edge.service-behind-load-balancer",
    "ECS services that serve a port do so behind a load balancer",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("ecs",),
    why="A service reached directly on its tasks' addresses has no health-checked routing, no TLS termination "
    "and no way to spread load over several tasks; every task replacement changes the address clients use.",
    fix="Register the service with a target group (load_balancer block) behind an ALB, and keep the tasks in "
    "private subnets.",
    reference="terraform/modules/edge",
    reads=("aws_ecs_service",),
)
def service_behind_load_balancer(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for workload in ctx.account.ecs.workloads():
        ports = [
            mapping.get("containerPort")
            for container in workload.containers
            for mapping in container.get("portMappings") or []
        ]
        if not ports:
            continue  # a worker that serves nothing needs no load balancer
        if workload.load_balancers:
            groups = ", ".join(lb["targetGroupArn"].rsplit(":", 1)[-1] for lb in workload.load_balancers)
            yield ctx.finding(check_, True, workload.arn, f"{workload.label}: behind {groups}")
        else:
            yield ctx.finding(
                check_,
                False,
                workload.arn,
                f"{workload.label} serves port(s) {', '.join(str(p) for p in ports)} with no load balancer",
            )
