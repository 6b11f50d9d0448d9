"""Interface endpoints where the tasks' calls are, and only there.

An interface VPC endpoint costs about 7.3 USD per AZ a month and keeps one AWS API off the NAT gateways
(cheaper per GB, private, and working through a NAT outage). One for a service nothing in the VPC calls is
money for nothing; the busiest API the tasks call going out through NAT instead is the opposite mistake.

What the ECS tasks of a VPC call is read from their roles with `stackprobe.aws.policy`: the task role's
allowed actions (the app's calls) and the execution role's (the agent's image pulls, log shipping and
secret injection). Actions that reach no API endpoint from the task are left out: KMS used only through
another service (a `kms:ViaService` condition), database and cache IAM tokens (signed locally), and ECS
task protection (asked of the ECS agent). S3 and DynamoDB calls are served by a gateway endpoint as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackprobe.checks._principals import Principal, principals, role_named
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check

# IAM service prefix -> the endpoint service names that serve its API.
ENDPOINT_SERVICES: Mapping[str, tuple[str, ...]] = {
    "ecr": ("ecr.api", "ecr.dkr"),
    "logs": ("logs",),
    "sqs": ("sqs",),
    "sns": ("sns",),
    "secretsmanager": ("secretsmanager",),
    "ssm": ("ssm",),
    "kms": ("kms",),
    "sts": ("sts",),
    "cloudwatch": ("monitoring",),
    "events": ("events",),
    "states": ("states",),
    "lambda": ("lambda",),
    "kinesis": ("kinesis-streams",),
    "firehose": ("kinesis-firehose",),
    "xray": ("xray",),
    "execute-api": ("execute-api",),
    "s3": ("s3",),
    "dynamodb": ("dynamodb",),
    "bedrock": ("bedrock-runtime",),
    "sagemaker": ("sagemaker.runtime",),
}
GATEWAY_CAPABLE = {"s3", "dynamodb"}
# Actions that reach no API endpoint from the task's network.
NOT_FROM_THE_TASK = {
    "rds-db:connect": "an IAM database token is signed locally",
    "elasticache:connect": "an IAM cache token is signed locally",
    "ecs:updatetaskprotection": "asked of the ECS agent",
    "ecs:gettaskprotection": "asked of the ECS agent",
}


@dataclass
class Calls:
    """Endpoint services the tasks of one VPC call, with who calls each (for evidence)."""

    by_service: dict[str, set[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # principals allowed every action: their calls are unknowable

    def add(self, service: str, caller: str) -> None:
        self.by_service.setdefault(service, set()).add(caller)


def _called_services(role: Principal) -> tuple[set[str], bool]:
    """(endpoint services the role's statements let it call, whether it may call every service)."""
    found: set[str] = set()
    for grant in role.grants:
        statement = grant.statement
        if any(c.key.lower() == "kms:viaservice" for c in statement.conditions):
            continue  # the service named there calls KMS, not the task
        if statement.not_actions is not None or statement.covers_all_actions():
            return found, True
        for action in statement.actions:
            prefix, _, name = action.lower().partition(":")
            if action.lower() in NOT_FROM_THE_TASK or f"{prefix}:{name}" in NOT_FROM_THE_TASK:
                continue
            found |= set(ENDPOINT_SERVICES.get(prefix, ()))
    return found, False


def _short_name(service_name: str, region: str) -> str:
    prefix = f"com.amazonaws.{region}."
    return service_name[len(prefix) :] if service_name.startswith(prefix) else service_name.rsplit(".", 1)[-1]


def _workload_subnets(service: Mapping[str, Any]) -> list[str]:
    network = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return [str(s) for s in network.get("subnets") or []]


def _default_routes(ctx: CheckContext, vpc_id: str, subnets: Iterable[str]) -> set[str]:
    """Where 0.0.0.0/0 goes from `subnets`: "nat", "internet" or nothing."""
    tables = [t for t in ctx.account.ec2.route_tables() if t.get("VpcId") == vpc_id]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations") or [])), None)
    found: set[str] = set()
    for subnet in subnets:
        table = next((t for t in tables if any(a.get("SubnetId") == subnet for a in t.get("Associations") or [])), main)
        for route in (table or {}).get("Routes") or []:
            if route.get("DestinationCidrBlock") != "0.0.0.0/0":
                continue
            if route.get("NatGatewayId"):
                found.add("nat")
            elif str(route.get("GatewayId") or "").startswith("igw-"):
                found.add("internet")
    return found


@check(
    "vpc.endpoints-match-task-calls",
    "Interface endpoints serve what the tasks call, and nothing else",
    severity=Severity.MEDIUM,
    category=Category.COST,
    services=("ec2", "ecs", "iam"),
    why="An interface endpoint costs about 7.3 USD per AZ a month: one for a service nothing in the VPC calls "
    "is paid for nothing. A service the tasks do call without one goes out through the NAT gateways: "
    "0.045 USD per GB more, across the internet edge, and not at all while a NAT gateway is down.",
    fix="List in the endpoint services exactly what the task and execution roles call (ECR and Logs for the "
    "agent, the app's own APIs such as SQS); S3 and DynamoDB through their free gateway endpoints. Drop "
    "endpoints no role calls.",
    reference="terraform/modules/network (interface_endpoint_services)",
    reads=("aws_vpc",),
)
def endpoints_match_task_calls(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    region = ctx.account.region
    everyone = principals(ctx)
    subnet_vpc = {str(s["SubnetId"]): str(s.get("VpcId")) for s in ctx.account.ec2.subnets()}
    endpoints = ctx.account.ec2.vpc_endpoints()
    other_compute = {str(i.get("VpcId")) for i in ctx.account.ec2.instances() if i.get("VpcId")}
    other_compute |= {
        str((f.get("VpcConfig") or {}).get("VpcId"))
        for f in ctx.account.lambda_.functions()
        if (f.get("VpcConfig") or {}).get("VpcId")
    }
    for vpc in ctx.account.ec2.vpcs():
        vpc_id = str(vpc["VpcId"])
        workloads = [
            w
            for w in ctx.account.ecs.workloads()
            if any(subnet_vpc.get(s) == vpc_id for s in _workload_subnets(w.service))
        ]
        if not workloads:
            continue
        calls = Calls()
        subnets: set[str] = set()
        for workload in workloads:
            subnets |= set(_workload_subnets(workload.service))
            for field_name in ("taskRoleArn", "executionRoleArn"):
                role = role_named(everyone, workload.task_definition.get(field_name))
                if role is None:
                    continue
                services, everything = _called_services(role)
                if everything:
                    calls.unknown.append(role.name)
                for service in services:
                    calls.add(service, f"{workload.name} ({role.name})")
        present = {
            _short_name(str(e.get("ServiceName", "")), region): str(e.get("VpcEndpointType", ""))
            for e in endpoints
            if e.get("VpcId") == vpc_id and str(e.get("State", "available")).lower() in ("available", "pending")
        }
        interface = {name for name, kind in present.items() if kind == "Interface"}
        routes = _default_routes(ctx, vpc_id, subnets)
        problems: list[str] = []
        notes: list[str] = []
        production = ctx.decision.for_resource(vpc.get("Tags") or []).production
        for service in sorted(set(calls.by_service) - set(present)):
            callers = ", ".join(sorted(calls.by_service[service]))
            if service in GATEWAY_CAPABLE:
                problems.append(f"{service} is called ({callers}) with no gateway endpoint")
            elif "nat" in routes and production:
                problems.append(f"{service} is called ({callers}) with no endpoint, so through the NAT gateway")
            elif "nat" in routes:
                notes.append(f"{service} goes through the NAT gateway (not production)")
            elif not routes:
                problems.append(f"{service} is called ({callers}) and nothing routes it: no endpoint, no NAT")
        unused = sorted(interface - set(calls.by_service))
        if unused and (calls.unknown or vpc_id in other_compute):
            why = "roles allowed every action" if calls.unknown else "other compute (instances, functions) in the VPC"
            notes.append(f"endpoints {', '.join(unused)} not judged as unused: {why}")
        elif unused:
            problems.append(
                f"interface endpoint{'s' if len(unused) > 1 else ''} {', '.join(unused)}: no task role calls it"
            )
        called = ", ".join(sorted(calls.by_service)) or "nothing"
        evidence = f"{vpc_id}: the tasks call {called}; endpoints {', '.join(sorted(present)) or 'none'}"
        if problems:
            evidence += ": " + "; ".join(problems)
        if notes:
            evidence += " (" + "; ".join(notes) + ")"
        yield ctx.finding(check_, not problems, vpc_id, evidence)
