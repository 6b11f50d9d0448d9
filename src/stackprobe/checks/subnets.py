"""Subnets that host tasks give nothing launched in them a public address.

`map_public_ip_on_launch = true` makes a subnet hand a public IPv4 address to every network interface
created in it: every EC2 container instance, every task on an instance, every interface a future change
adds. Tasks belong in private subnets behind a load balancer and a NAT gateway; a public-IP subnet is a
public subnet, whatever its name or `Tier` tag says. Read from the deployed subnets of every ECS service
(awsvpc network configuration).
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.network.model import WorkloadKind


@check(
    "vpc.task-subnets-private",
    "Subnets hosting ECS tasks do not assign public IPs on launch",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("ec2", "ecs"),
    why="A subnet with map_public_ip_on_launch gives a public IPv4 address to everything launched in it: one "
    "security group rule away from the internet reaching the tasks directly, and a public IPv4 charge per "
    "address. Tasks belong in private subnets, reached through the load balancer and going out through a "
    "NAT gateway or VPC endpoints.",
    fix="Run the services in private subnets (map_public_ip_on_launch = false, the default; a default route to a "
    "NAT gateway), keep the public subnets for the load balancer and the NAT gateway, and set "
    "assign_public_ip = false in the service's network_configuration.",
    reference="terraform/modules/network (aws_subnet.private_app)",
    reads=("aws_ecs_service",),
)
def task_subnets_private(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    raw = {str(s["SubnetId"]): s for s in ctx.account.ec2.subnets()}
    network = ctx.network_graph.network
    services: dict[str, list[str]] = {}
    for workload in network.workloads:
        if workload.kind is WorkloadKind.ECS_SERVICE:
            for subnet_id in workload.subnet_ids:
                services.setdefault(subnet_id, []).append(workload.name)
    for subnet_id, names in sorted(services.items()):
        subnet = raw.get(subnet_id)
        if subnet is None:
            continue
        public = bool(subnet.get("MapPublicIpOnLaunch"))
        where = f"{subnet_id} ({subnet.get('AvailabilityZone', '?')}, {subnet.get('CidrBlock', '?')})"
        hosting = f"hosts the tasks of {', '.join(sorted(set(names)))}"
        if public:
            default = ", a default VPC subnet" if subnet.get("DefaultForAz") else ""
            evidence = f"{where}{default} {hosting} and gives every interface launched in it a public IP"
        else:
            evidence = f"{where} {hosting}; no public IP on launch"
        yield ctx.finding(check_, not public, subnet_id, evidence, subnet.get("SubnetArn"))
