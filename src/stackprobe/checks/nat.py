"""One NAT gateway per availability zone in production.

A NAT gateway lives in one zone. When private subnets in several zones send their default route to the
same one, losing that zone cuts the outbound traffic of all of them (image pulls, AWS APIs without an
endpoint, third-party calls): the multi-AZ service survives the zone only on paper. Read from the deployed
route tables: for each NAT gateway, the zones of the subnets whose default route goes to it. Production
only (the environment decision, refined by the VPC's own environment tag): one shared NAT gateway is a
reasonable saving in development.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from stackprobe.checks._support import ProductionRule
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.network.model import RouteTarget

DEFAULT_ROUTE = ipaddress.ip_network("0.0.0.0/0")


@check(
    "vpc.nat-per-az",
    "In production, private subnets in each zone go out through a NAT gateway in their own zone",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    services=("ec2",),
    why="A NAT gateway is a zonal resource: private subnets of several zones routed through one lose their "
    "outbound traffic together when its zone fails, so tasks in the surviving zones cannot pull images, reach "
    "AWS APIs without endpoints or call third parties. Cross-zone NAT traffic is also billed twice.",
    fix="Create one aws_nat_gateway per public subnet (one per zone) and one private route table per zone whose "
    "0.0.0.0/0 route goes to that zone's NAT gateway (count or for_each over the zones); keep one shared NAT "
    "gateway only for development.",
    reference="terraform/modules/network (aws_nat_gateway.this per AZ, aws_route_table.private_app per AZ)",
    reads=("aws_vpc",),
)
def nat_per_az(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    network = ctx.network_graph.network
    rule = ProductionRule(ctx)
    served: dict[str, set[str]] = {}
    for subnet in network.subnets.values():
        table = network.route_table(subnet)
        route = table.route_for(DEFAULT_ROUTE) if table is not None else None
        if route is not None and route.target is RouteTarget.NAT_GATEWAY:
            served.setdefault(route.target_id, set()).add(subnet.id)
    judged = False
    for nat_id, subnet_ids in sorted(served.items()):
        nat = network.nat_gateways.get(nat_id)
        if nat is None or not network.in_scope(nat.vpc_id):
            continue
        vpc = network.vpcs.get(nat.vpc_id)
        decision = rule.applies(vpc.tags if vpc is not None else None)
        if decision is None:
            continue
        judged = True
        home = network.subnets[nat.subnet_id].az if nat.subnet_id in network.subnets else "?"
        zones = network.subnet_azs(subnet_ids)
        others = [zone for zone in zones if zone != home]
        if others:
            evidence = (
                f"{nat_id} (in {home}) is the default route of {len(subnet_ids)} private subnet(s) in "
                f"{', '.join(zones)}: losing {home} cuts the outbound traffic of {', '.join(others)} too "
                f"({decision.rule})"
            )
        else:
            evidence = f"{nat_id} (in {home}) serves private subnets of its own zone only ({decision.rule})"
        yield ctx.finding(check_, not others, nat_id, evidence)
    if not judged:
        rule.nothing_judged()
