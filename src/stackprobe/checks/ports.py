"""Ports of ECS services on EC2 instances: what the security groups open, and what a rolling deploy needs.

Two habits of stacks that run ECS on their own instances (bridge or host network mode):
- the load balancer's security group is allowed a whole port range on the instances (0-65535, or the
  ephemeral range) although every container publishes one fixed host port: the range is what dynamic host
  ports need, and with fixed ports it only opens the instances' other services to the load balancer's group;
- a fixed `hostPort` with as many tasks as instances: one task per instance can hold the port, so a rolling
  deploy (minimum healthy 100%, maximum 200%) has nowhere to start a new task and never progresses, and a
  service with more tasks than instances never reaches its desired count.

Read from the Terraform state (task definitions, services, Auto Scaling groups, instances, security group
rules as applied; the emulator stores no deployment configuration and runs no task, so the state is the
record). Types are canonical.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Holder, Severity, StateResource, check

REFERENCE = "terraform/modules/service (awsvpc tasks: the group admits the load balancer on the container port only)"


@dataclass(frozen=True)
class HostPort:
    """A port a container publishes on its host (or task ENI): fixed, or chosen by ECS (dynamic)."""

    container: str
    container_port: int
    host_port: int | None  # None: dynamic (bridge mode, hostPort 0 or unset)


def _containers(definition: StateResource) -> list[Mapping[str, Any]]:
    raw = definition.attributes.get("container_definitions")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [c for c in parsed if isinstance(c, Mapping)] if isinstance(parsed, list) else []


def network_mode(definition: StateResource) -> str:
    return str(definition.attributes.get("network_mode") or "bridge")


def host_ports(definition: StateResource) -> list[HostPort]:
    """Every port mapping of the task definition, with the host port it takes."""
    mode = network_mode(definition)
    found = []
    for container in _containers(definition):
        for mapping in container.get("portMappings") or []:
            port = int(mapping.get("containerPort") or 0)
            host = int(mapping.get("hostPort") or 0)
            fixed = port if mode in ("awsvpc", "host") else (host or None)
            found.append(HostPort(str(container.get("name", "?")), port, fixed))
    return found


def task_definition_of(ctx: CheckContext, service: StateResource) -> StateResource | None:
    """The task definition a service runs: by ARN, `family:revision` or family."""
    wanted = str(service.attributes.get("task_definition") or "")
    for definition in ctx.state_resources("aws_ecs_task_definition"):
        attributes = definition.attributes
        family, revision = attributes.get("family"), attributes.get("revision")
        if wanted in (attributes.get("arn"), attributes.get("arn_without_revision"), family, f"{family}:{revision}"):
            return definition
    return None


def _on_instances(service: StateResource, definition: StateResource) -> bool:
    """Whether the service's tasks run on EC2 instances of the stack (not Fargate)."""
    attributes = service.attributes
    if attributes.get("launch_type") == "FARGATE":
        return False
    strategy = attributes.get("capacity_provider_strategy") or []
    if any(str(s.get("capacity_provider", "")).startswith("FARGATE") for s in strategy):
        return False
    return attributes.get("launch_type") == "EC2" or bool(strategy) or network_mode(definition) != "awsvpc"


def _host_groups(ctx: CheckContext) -> set[str]:
    """Security groups of the stack's EC2 hosts (instances, launch templates, launch configurations)."""
    groups: set[str] = set()
    for instance in ctx.state_resources("aws_instance"):
        groups |= set(instance.attributes.get("vpc_security_group_ids") or [])
    for template in ctx.state_resources("aws_launch_template"):
        groups |= set(template.attributes.get("vpc_security_group_ids") or [])
        for interface in template.attributes.get("network_interfaces") or []:
            groups |= set(interface.get("security_groups") or [])
    for configuration in ctx.state_resources("aws_launch_configuration"):
        groups |= set(configuration.attributes.get("security_groups") or [])
    return groups


def _target_groups(ctx: CheckContext, service: StateResource, definition: StateResource) -> set[str]:
    """The security groups that admit traffic to the service's tasks."""
    if network_mode(definition) == "awsvpc":
        configs = service.attributes.get("network_configuration") or []
        return {g for config in configs for g in config.get("security_groups") or []}
    return _host_groups(ctx) if _on_instances(service, definition) else set()


@dataclass(frozen=True)
class IngressRule:
    """One ingress rule from a peer security group, wherever the configuration wrote it."""

    address: str  # the rule's own resource, or the security group holding it inline
    group_id: str
    peer: str
    protocol: str
    low: int
    high: int

    @property
    def span(self) -> str:
        if self.protocol in ("-1", "all"):
            return "every port and protocol"
        return f"{self.protocol} {self.low}-{self.high}"

    @property
    def wide(self) -> bool:
        return self.protocol in ("-1", "all") or self.high > self.low

    def covers(self, port: int) -> bool:
        return self.protocol in ("-1", "all") or self.low <= port <= self.high


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def peer_ingress_rules(ctx: CheckContext) -> list[IngressRule]:
    """Ingress rules whose source is another security group: inline, aws_security_group_rule, and
    aws_vpc_security_group_ingress_rule."""
    rules: list[IngressRule] = []
    for group in ctx.state_resources("aws_security_group"):
        group_id = str(group.attributes.get("id") or "")
        for rule in group.attributes.get("ingress") or []:
            for peer in rule.get("security_groups") or []:
                if peer != group_id:
                    protocol = str(rule.get("protocol") or "tcp")
                    low, high = _int(rule.get("from_port"), 0), _int(rule.get("to_port"), 65535)
                    rules.append(IngressRule(group.address, group_id, str(peer), protocol, low, high))
    for rule in ctx.state_resources("aws_security_group_rule"):
        attributes = rule.attributes
        peer = attributes.get("source_security_group_id")
        if attributes.get("type") == "ingress" and peer and not attributes.get("self"):
            protocol = str(attributes.get("protocol") or "tcp")
            low, high = _int(attributes.get("from_port"), 0), _int(attributes.get("to_port"), 65535)
            rules.append(
                IngressRule(rule.address, str(attributes.get("security_group_id")), str(peer), protocol, low, high)
            )
    for rule in ctx.state_resources("aws_vpc_security_group_ingress_rule"):
        attributes = rule.attributes
        peer = attributes.get("referenced_security_group_id")
        if peer:
            protocol = str(attributes.get("ip_protocol") or "tcp")
            low, high = _int(attributes.get("from_port"), 0), _int(attributes.get("to_port"), 65535)
            rules.append(
                IngressRule(rule.address, str(attributes.get("security_group_id")), str(peer), protocol, low, high)
            )
    return rules


@check(
    "vpc.single-port-rules",
    "Where tasks publish fixed ports, security groups admit those ports, not a range",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=(),
    why="A port range from the load balancer's group to the instances is what dynamic host ports need; with "
    "fixed ports it opens every other service on the instances (the ECS agent's introspection port, SSH, a "
    "sidecar's admin port) to anything that carries that group, and hides which port the service really uses.",
    fix="Admit the load balancer's security group on the published port only (from_port = to_port = the "
    "container's hostPort, or the container port in awsvpc mode); keep a range only with dynamic host ports "
    "(hostPort = 0 in bridge mode).",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
    holder=Holder.STATE,
)
def single_port_rules(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    fixed: dict[str, set[int]] = {}
    dynamic: set[str] = set()
    for service in ctx.state_resources("aws_ecs_service"):
        definition = task_definition_of(ctx, service)
        if definition is None:
            continue
        groups = _target_groups(ctx, service, definition)
        ports = host_ports(definition)
        for entry in service.attributes.get("load_balancer") or []:
            used = [p for p in ports if p.container == entry.get("container_name")]
            for group in groups:
                if any(p.host_port is None for p in used):
                    dynamic.add(group)
                else:
                    fixed.setdefault(group, set()).update(p.host_port for p in used if p.host_port is not None)
    for rule in peer_ingress_rules(ctx):
        published = fixed.get(rule.group_id)
        if not published or rule.group_id in dynamic or not any(rule.covers(p) for p in published):
            continue
        shown = ", ".join(str(p) for p in sorted(published))
        if rule.wide:
            evidence = (
                f"{rule.address}: admits {rule.span} from {rule.peer} on {rule.group_id}, whose tasks publish fixed "
                f"port(s) {shown} only: the rest of the range opens the hosts' other services to that group"
            )
        else:
            evidence = f"{rule.address}: admits tcp {rule.low} from {rule.peer}, the fixed port the tasks publish"
        yield Finding(check_.id, not rule.wide, rule.address, evidence, rule.address)


def _instance_capacity(ctx: CheckContext) -> tuple[int, str] | None:
    """How many instances the cluster may have at most, and from what; None when the stack holds none."""
    groups = ctx.state_resources("aws_autoscaling_group")
    if groups:
        total = sum(_int(g.attributes.get("max_size"), 0) for g in groups)
        names = ", ".join(f"{g.address} (max_size {_int(g.attributes.get('max_size'), 0)})" for g in groups)
        return total, names
    instances = ctx.state_resources("aws_instance")
    if instances:
        return len(instances), f"{len(instances)} aws_instance"
    return None


@check(
    "ecs.static-host-port-deploys",
    "Services with a fixed host port have room on their instances for a rolling deploy",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=(),
    why="Only one task per instance can hold a fixed host port. With as many tasks as instances and a minimum "
    "healthy percent of 100, a rolling deploy (maximum percent 200) must start new tasks before stopping old "
    "ones and finds no instance with the port free: the deployment never progresses (and a service with more "
    "tasks than instances never reaches its desired count). The emulator runs no task, so only the numbers "
    "show it.",
    fix="Use dynamic host ports (hostPort = 0 in bridge mode, the target group registers the port ECS picks) or "
    "awsvpc mode; or give the Auto Scaling group room for the extra tasks (max_size above desired_count, with "
    "a capacity provider's managed scaling), or lower deployment_minimum_healthy_percent so that ECS may stop "
    "an old task first.",
    reference=REFERENCE,
    reads=("aws_ecs_service",),
    holder=Holder.STATE,
)
def static_host_port_deploys(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    capacity = _instance_capacity(ctx)
    if capacity is None:
        return
    instances, counted = capacity
    for service in ctx.state_resources("aws_ecs_service"):
        attributes = service.attributes
        definition = task_definition_of(ctx, service)
        if definition is None or attributes.get("scheduling_strategy") == "DAEMON":
            continue
        if network_mode(definition) == "awsvpc" or not _on_instances(service, definition):
            continue
        fixed = sorted({p.host_port for p in host_ports(definition) if p.host_port is not None})
        if not fixed:
            continue
        desired = _int(attributes.get("desired_count"), 0)
        minimum = _int(attributes.get("deployment_minimum_healthy_percent"), 100)
        maximum = _int(attributes.get("deployment_maximum_percent"), 200)
        stoppable = desired - math.ceil(desired * minimum / 100)
        free = instances - desired
        ports = ", ".join(str(p) for p in fixed)
        numbers = (
            f"{service.address}: desired_count {desired} with fixed host port {ports} on at most {instances} "
            f"instance(s) ({counted}), minimum healthy {minimum}%, maximum {maximum}%"
        )
        if desired > instances:
            evidence = (
                f"{numbers}: only {instances} task(s) can hold the port at once; the service never reaches {desired}"
            )
        elif free + stoppable <= 0:
            evidence = (
                f"{numbers}: a deploy must start a new task before stopping an old one, and no instance has the port "
                "free: the deployment never progresses"
            )
        else:
            evidence = f"{numbers}: a deploy can start {free} new task(s) and stop {stoppable} old one(s) at a time"
        passed = desired <= instances and free + stoppable > 0
        yield Finding(check_.id, passed, service.address, evidence, service.address)
