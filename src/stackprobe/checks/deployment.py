"""Deployment safety of ECS services: rollback on failure, and no capacity dip during a deploy.

On plain moto these settings read back empty (moto drops them); stackprobe's compat patch
`ecs-service-deployment-settings` stores them, so the check judges what was configured.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

REFERENCE = "terraform/modules/service"


@check(
    "deployment.circuit-breaker",
    "ECS deployments roll back automatically when new tasks fail",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("ecs",),
    why="Without the circuit breaker a broken image keeps replacing healthy tasks until someone notices; "
    "with it, ECS stops the deployment and returns to the last working task definition.",
    fix="Set deployment_circuit_breaker { enable = true, rollback = true } on the service.",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
)
def circuit_breaker(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for workload in ctx.account.ecs.workloads():
        if (workload.service.get("deploymentController") or {}).get("type", "ECS") != "ECS":
            continue
        breaker = (workload.service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
        passed = bool(breaker.get("enable")) and bool(breaker.get("rollback"))
        evidence = (
            f"{workload.label}: circuit breaker enable={breaker.get('enable', False)} "
            f"rollback={breaker.get('rollback', False)}"
        )
        yield ctx.finding(check_, passed, workload.arn, evidence)


@check(
    "deployment.zero-downtime",
    "Rolling deployments never drop below the running capacity",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("ecs",),
    why="With minimum healthy below 100% a deployment stops old tasks before new ones pass health checks, "
    "so every deploy briefly removes capacity, and a deploy at peak drops requests.",
    fix="Set deployment_minimum_healthy_percent = 100 and deployment_maximum_percent = 200 for services "
    "behind a load balancer.",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
)
def zero_downtime(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for workload in ctx.account.ecs.workloads():
        if workload.is_daemon or not workload.load_balancers:
            continue
        config = workload.service.get("deploymentConfiguration") or {}
        minimum = int(config.get("minimumHealthyPercent", 100))
        maximum = int(config.get("maximumPercent", 200))
        passed = minimum >= 100 and maximum > 100
        yield ctx.finding(
            check_, passed, workload.arn, f"{workload.label}: minimumHealthyPercent={minimum} maximumPercent={maximum}"
        )
