"""Egress with intent: task and database security groups do not allow everything to everywhere.

Ingress is where most reviews stop; egress is what a compromised task or a malicious dependency uses to
send data out. The intent is as short as for ingress: an ECS task reaches AWS APIs and registries over
HTTPS (through VPC endpoints or the NAT gateway) and its data stores on their ports; a database or cache
initiates nothing. Read from the deployed security groups (`stackprobe.network.model`): a rule that allows
every protocol and port to 0.0.0.0/0 (or ::/0) on a task's group, and any rule to the world on a data
store's group, fail, with the narrower path the network already offers named in the evidence.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.network.model import DATA_STORES, Network, RouteTarget, SgRule, Workload, WorkloadKind

JUDGED = frozenset({WorkloadKind.ECS_SERVICE}) | DATA_STORES


def _narrower_path(network: Network, workload: Workload) -> str:
    """What the VPC already offers instead of "everything to everywhere" (endpoints, a NAT gateway)."""
    offers = []
    endpoints = sorted({e.service for e in network.endpoints if e.vpc_id == workload.vpc_id})
    if endpoints:
        offers.append(f"VPC endpoints for {', '.join(endpoints)}")
    nat = any(
        route.target is RouteTarget.NAT_GATEWAY
        for subnet in network.subnets_of(workload)
        if (table := network.route_table(subnet)) is not None
        for route in table.routes
    )
    if nat:
        offers.append("a NAT gateway for the rest")
    return f" (the VPC offers {' and '.join(offers)})" if offers else ""


def _too_wide(workload: Workload, rule: SgRule) -> bool:
    if not rule.is_world:
        return False
    if workload.kind in DATA_STORES:
        return True  # a data store answers; it never needs to open a connection to the internet
    return rule.all_traffic


@check(
    "vpc.narrow-egress",
    "Task and data store security groups do not allow all outbound traffic to anywhere",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("ec2",),
    why="Allowing every protocol and port to 0.0.0.0/0 lets a compromised task (or a malicious dependency) send "
    "data anywhere, tunnel out on any port and reach other networks, and hides what the workload really "
    "needs. A database or cache never initiates connections to the internet at all.",
    fix="Replace the allow-all egress rule: for tasks, tcp 443 to 0.0.0.0/0 (or to the VPC endpoints' security "
    "group and the S3 prefix list) plus the database port to the database's security group; for databases "
    "and caches, no egress rule at all (an aws_security_group with no egress block).",
    reference="terraform/modules/service (aws_vpc_security_group_egress_rule.https, .to_security_groups)",
    reads=(
        "aws_ecs_service",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
    ),
)
def narrow_egress(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    network = ctx.network_graph.network
    for workload in network.workloads:
        if workload.kind not in JUDGED:
            continue
        problems = [
            f"{group.label} allows {rule.port_label} to {rule.cidr}"
            for group in network.groups_of(workload)
            for rule in group.egress
            if _too_wide(workload, rule)
        ]
        groups = ", ".join(g.label for g in network.groups_of(workload)) or "no security group"
        if problems:
            what = (
                "a data store initiates nothing"
                if workload.kind in DATA_STORES
                else "tasks need HTTPS and their data stores"
            )
            evidence = f"{workload.label}: " + "; ".join(problems) + f": {what}{_narrower_path(network, workload)}"
        else:
            evidence = f"{workload.label}: egress of {groups} is limited to named ports or peers"
        yield ctx.finding(check_, not problems, workload.id, evidence, *workload.other_ids)
