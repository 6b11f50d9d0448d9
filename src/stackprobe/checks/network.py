"""Network intent: who can reach what, judged on the deployed network as a reachability graph.

The intent of a web stack fits in a sentence: the internet reaches the load balancer on 80/443, the
load balancer reaches the service on its container port, the service reaches the database on its
port, and nothing else reaches anything. These checks read every VPC, subnet, route table, NACL,
security group and workload in the account (`stackprobe.network.model`) and test that sentence piece
by piece with `stackprobe.network.reachability`, quoting the path (or the rule) they found.

Severity follows exposure, not the rule alone: a port the internet actually reaches on a server or a
database is critical; the same rule on a private resource is still serious (one routing change away);
a world rule on a security group attached to nothing is a latent hazard (medium).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check, type_of, without_index
from stackprobe.errors import NotApplicable
from stackprobe.network.model import (
    ALL,
    COMPUTE,
    DATA_STORES,
    TCP,
    UDP,
    Network,
    PortRange,
    SgRule,
    Workload,
    WorkloadKind,
    is_private_network,
    is_world,
    parse_network,
)
from stackprobe.network.reachability import Graph, Source

WEB_PORTS = frozenset({80, 443})
# Ports that give a shell, a remote desktop, a container runtime or a data store when reachable: a
# world rule on them is critical wherever it is attached.
SENSITIVE_PORTS = frozenset(
    {
        21,
        22,
        23,
        135,
        139,
        445,
        1433,
        1521,
        2049,
        2375,
        2376,
        2379,
        3306,
        3389,
        5432,
        5601,
        5900,
        5984,
        5985,
        5986,
        6379,
        6443,
        7001,
        8500,
        9042,
        9092,
        9200,
        9300,
        10250,
        11211,
        27017,
    }
)


# What the network checks judge: every kind of workload the network model reads, and its parts.
WORKLOADS = (
    "aws_lb",
    "aws_elb",
    "aws_ecs_service",
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_db_proxy",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "aws_instance",
    "aws_lambda_function",
)
DATA_STORE_TYPES = (
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
)


def _finding(
    check_: Check,
    ctx: CheckContext,
    workload: Workload,
    problems: list[tuple[Severity, str]],
    passed_evidence: str,
    notes: list[str] | None = None,
) -> Finding:
    if not problems:
        evidence = "; ".join([passed_evidence, *(notes or [])])
        return ctx.finding(check_, True, workload.id, evidence, *workload.other_ids)
    severity = max(s for s, _ in problems)
    evidence = "; ".join([*(text for _, text in sorted(problems, key=lambda p: -p[0])), *(notes or [])])
    return ctx.finding(check_, False, workload.id, evidence, *workload.other_ids, severity=severity)


def _ports_of(ranges: tuple[PortRange, ...]) -> set[int] | None:
    """The individual ports of small ranges (None for anything wider than a few ports)."""
    if sum(r.high - r.low + 1 for r in ranges) > 64:
        return None
    return {p for r in ranges for p in range(r.low, r.high + 1)}


def _within(rule: SgRule, ports: set[int]) -> bool:
    """Whether a TCP rule opens nothing but `ports`."""
    if rule.protocol != TCP or not ports:
        return False
    span = rule.port_span()
    return span.high - span.low < 64 and all(p in ports for p in range(span.low, span.high + 1))


def _opens_sensitive(rule: SgRule, extra: AbstractSet[int] = frozenset()) -> bool:
    span = rule.port_span()
    return rule.all_traffic or any(span.contains(p) for p in SENSITIVE_PORTS | extra)


def _intent_note(network: Network, text: str, group_id: str) -> str | None:
    """A note, not a problem, for a rule that admits a security group nothing here uses.

    Admitting a named group is the right way to write the rule; when nothing in this configuration is
    attached to that group, the compute that carries it is deployed elsewhere (another stack, another
    repository, another account), and whether it should reach this workload is not visible here.
    """
    if group_id not in network.groups:
        return f"note: {text} (a group this account does not hold: the compute that carries it is not visible here)"
    if network.is_attached(group_id):
        return None
    return (
        f"note: {text} (nothing in this configuration is attached to {network.group_label(group_id)}: "
        "presumably compute deployed elsewhere, admitted by group as the rule intends)"
    )


# ---------------------------------------------------------------------------------------------------
# The internet reaches only load balancers
# ---------------------------------------------------------------------------------------------------


@check(
    "network.internet-reaches-only-lb",
    "The internet reaches only load balancers, and only on 80/443",
    severity=Severity.CRITICAL,
    category=Category.SECURITY,
    services=("ec2",),
    why="Anything the internet can reach directly (a server's SSH, a database port, a task's app port) is "
    "attacked within minutes, without the TLS termination, health checks and request filtering of a load "
    "balancer. A path needs a world-open security group rule, a public address and a subnet routed to an "
    "internet gateway, with NACLs allowing the port both ways; the evidence quotes each.",
    fix="Put workloads in private subnets without public addresses (publicly_accessible = false, "
    "assign_public_ip = false, no public IP on instances), reach them through an internet-facing load "
    "balancer on 443 (80 only to redirect), and use SSM Session Manager instead of SSH.",
    reference="terraform/modules/edge, terraform/modules/network",
    reads=WORKLOADS,
)
def internet_reaches_only_lb(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    for workload in graph.network.workloads:
        exposure = graph.internet_exposure(workload)
        problems: list[tuple[Severity, str]] = []
        for path in exposure.paths:
            ports = _ports_of(path.ranges)
            web_only = ports is not None and ports <= WEB_PORTS and path.protocol in (TCP, ALL)
            if path.protocol not in (TCP, UDP, ALL):
                problems.append((Severity.LOW, path.render()))  # ICMP: answers pings, opens no service
            elif workload.is_load_balancer:
                if not web_only:
                    # An extra listener is still behind the LB's own filtering, but widens the surface.
                    problems.append((Severity.MEDIUM, path.render()))
            else:
                problems.append((Severity.HIGH if web_only else Severity.CRITICAL, path.render()))
        if workload.is_load_balancer and exposure.paths and not problems:
            passed = "internet reaches it only on " + ", ".join(dict.fromkeys(p.port for p in exposure.paths))
        else:
            passed = f"not reachable from the internet: {exposure.reason}"
        yield _finding(check_, ctx, workload, problems, passed)


# ---------------------------------------------------------------------------------------------------
# Services are reached only through their load balancer
# ---------------------------------------------------------------------------------------------------


@check(
    "network.service-only-from-lb",
    "Services behind a load balancer admit only the load balancer, on the container port",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("ec2", "ecs", "elbv2"),
    why="A service registered behind a load balancer relies on it for TLS, WAF, authentication and health "
    "checks. Any other ingress (the VPC CIDR, another security group, extra ports) lets a compromised "
    "neighbour or a misrouted client bypass all of it. And if the load balancer's own rules cannot reach "
    "the container port, every target fails its health check.",
    fix="Admit only the load balancer's security group on the container port "
    "(aws_vpc_security_group_ingress_rule with referenced_security_group_id), and give the load "
    "balancer an egress rule to the service's group on that port.",
    reference="terraform/modules/service, terraform/modules/edge",
    reads=("aws_ecs_service",),
)
def service_only_from_lb(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    network = graph.network
    unjudged = list(network.unplaced.values())
    for workload in network.workloads:
        if workload.kind is not WorkloadKind.ECS_SERVICE:
            continue
        lbs = {
            lb.id: lb
            for a in workload.attachments
            for arn in a.load_balancer_arns
            if (lb := network.load_balancer(arn)) is not None
        }
        if not lbs:
            # No target group, or one attached to no load balancer we can see: nothing to compare with.
            unjudged.append(f"{workload.label} is registered behind no load balancer")
            continue
        lb_groups = {g for lb in lbs.values() for g in lb.group_ids}
        # Without security groups (a plain NLB) clients arrive with their own addresses.
        client_ips_arrive = any(not lb.group_ids for lb in lbs.values())
        ports = {a.container_port for a in workload.attachments}
        problems, notes = _service_ingress_problems(graph, workload, lb_groups, ports, client_ips_arrive)
        reaches = []
        for lb in sorted(lbs.values(), key=lambda w: w.id):
            for port in sorted(ports):
                reach = graph.reach(Source.of_workload(lb), workload, port)
                if reach.reachable:
                    reaches.append(reach.path.render())
                else:
                    problems.append(
                        (Severity.HIGH, f"{lb.label} cannot reach the tasks on {port}: " + "; ".join(reach.blockers))
                    )
        sources = ", ".join(sorted(network.group_label(g) for g in lb_groups)) or "the load balancer's clients"
        shown = f"{workload.dynamic_ports.label} (dynamic host ports)" if workload.dynamic_ports else ""
        passed = f"admits only {sources} on {shown or ', '.join(map(str, sorted(ports)))}: " + "; ".join(reaches)
        if workload.hosts:
            passed += f" (a {workload.network_mode}-mode service on {workload.hosts})"
        yield _finding(check_, ctx, workload, problems, passed, notes)
    _say_unjudged(unjudged)


def _say_unjudged(reasons: list[str]) -> None:
    """After a check's last finding: NotApplicable naming what it could not judge, and why. The run loop keeps
    the findings yielded before it and shows the reasons beside them; with none, they are the result's reason."""
    if reasons:
        raise NotApplicable("; ".join(reasons))


def _serves(workload: Workload, rule: SgRule, ports: set[int]) -> bool:
    """Whether a TCP rule opens nothing but the service's ports (a bridge-mode service's dynamic host ports
    are a range: a rule within it is the load balancer's way in)."""
    dynamic = workload.dynamic_ports
    if dynamic is not None and rule.protocol == TCP and dynamic.covers(rule.port_span()):
        return True
    return _within(rule, ports)


def _service_ingress_problems(
    graph: Graph, workload: Workload, lb_groups: set[str], ports: set[int], client_ips_arrive: bool
) -> tuple[list[tuple[Severity, str]], list[str]]:
    problems: list[tuple[Severity, str]] = []
    notes: list[str] = []
    for admission in graph.admissions(workload):
        rule, text = admission.rule, admission.path.render()
        if rule.peer_group in lb_groups:
            if not _serves(workload, rule, ports):
                problems.append((Severity.LOW, f"{text} (the load balancer needs only {sorted(ports)})"))
        elif rule.peer_group in workload.group_ids:
            problems.append((Severity.LOW, f"{text} (the group admits itself: tasks reach each other directly)"))
        elif (
            rule.peer_group
            and _serves(workload, rule, ports)
            and (note := _intent_note(graph.network, text, rule.peer_group))
        ):
            notes.append(note)
        elif rule.peer_group:
            problems.append((Severity.MEDIUM, f"{text} (bypasses the load balancer)"))
        elif client_ips_arrive and _serves(workload, rule, ports):
            continue  # behind an NLB without security groups, client CIDRs are how access is restricted
        elif is_world(rule.cidr):
            problems.append((Severity.HIGH, f"{text} (open to the world, bypassing the load balancer)"))
        else:
            problems.append((Severity.MEDIUM, f"{text} (address-based ingress bypasses the load balancer)"))
    return problems, notes


# ---------------------------------------------------------------------------------------------------
# Data stores are reached only from compute
# ---------------------------------------------------------------------------------------------------


@check(
    "network.data-only-from-service",
    "Databases and caches admit only the application's compute, on their port",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("ec2",),
    why="A database reachable from a CIDR (even the VPC's) can be brute-forced from any compromised host "
    "in that range, and PubliclyAccessible=true gives it a public address, so one security group rule "
    "separates it from the internet. Referencing the application's security groups ties access to "
    "identity rather than to addresses.",
    fix="publicly_accessible = false; ingress only from the security groups of the ECS services, Lambda "
    "functions or RDS Proxy that use the store, on its port (no cidr_blocks).",
    reference="terraform/modules/database, terraform/modules/cache",
    reads=DATA_STORE_TYPES,
)
def data_only_from_service(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    network = graph.network
    compute_groups = {g for w in network.workloads if w.kind in COMPUTE for g in w.group_ids}
    for workload in network.workloads:
        if workload.kind not in DATA_STORES:
            continue
        problems = _public_database_problems(graph, workload)
        ingress, notes = _data_ingress_problems(graph, workload, compute_groups)
        problems += ingress
        sources = sorted({graph.peer_label(a.rule) for a in graph.admissions(workload)})
        port = ", ".join(map(str, workload.ports)) or "its port"
        passed = f"admits only {', '.join(sources)} on {port}" if sources else "admits nothing (no ingress rule)"
        yield _finding(check_, ctx, workload, problems, passed, notes)


def _public_database_problems(graph: Graph, workload: Workload) -> list[tuple[Severity, str]]:
    if not workload.public_ipv4:
        return []
    public = [(s.id, igw) for s in graph.network.subnets_of(workload) if (igw := graph.internet_gateway(s))]
    if public:
        where = ", ".join(f"{subnet} public via {igw}" for subnet, igw in public)
        return [(Severity.CRITICAL, f"{workload.public_ipv4} with a public address in {where}")]
    return [(Severity.HIGH, f"{workload.public_ipv4} (no subnet of its group routes to an internet gateway yet)")]


def _data_ingress_problems(
    graph: Graph, workload: Workload, compute_groups: set[str]
) -> tuple[list[tuple[Severity, str]], list[str]]:
    network = graph.network
    ports = set(workload.ports)
    problems: list[tuple[Severity, str]] = []
    notes: list[str] = []
    for admission in graph.admissions(workload):
        rule, text = admission.rule, admission.path.render()
        if rule.peer_group:
            wide = bool(ports) and not _within(rule, ports)
            if rule.peer_group in compute_groups:
                if wide:
                    problems.append((Severity.LOW, f"{text} (the application needs only {sorted(ports)})"))
            elif rule.peer_group in workload.group_ids:
                problems.append((Severity.LOW, f"{text} (the group admits itself)"))
            elif not wide and (note := _intent_note(network, text, rule.peer_group)):
                notes.append(note)
            else:
                carried = ", ".join(w.label for w in network.workloads_with_group(rule.peer_group)) or "nothing"
                problems.append((Severity.MEDIUM, f"{text} (that group is on {carried}, not application compute)"))
        elif is_world(rule.cidr):
            exposure = graph.internet_exposure(workload)
            today = (
                "internet-reachable now: " + exposure.paths[0].render()
                if exposure.paths
                else f"not internet-reachable today: {exposure.reason}"
            )
            problems.append((Severity.CRITICAL, f"{text} ({today})"))
        else:
            net = parse_network(rule.cidr) if rule.cidr else None
            if net is not None and not is_private_network(net):
                problems.append((Severity.HIGH, f"{text} (a public address range)"))
            else:
                problems.append((Severity.MEDIUM, f"{text} (address-based: any host in the range)"))
    return problems, notes


# ---------------------------------------------------------------------------------------------------
# No world ingress outside load balancer listeners
# ---------------------------------------------------------------------------------------------------


@check(
    "network.no-world-ingress",
    "No security group admits 0.0.0.0/0 or ::/0, except load balancers on their listener ports",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("ec2",),
    why="A world-open rule is judged as written, whether or not a route makes it reachable today: moving "
    "a workload to a public subnet, giving it a public IP or attaching the group elsewhere turns it into "
    "an open door. Severity follows what the group is on: attached to a server, task or data store with "
    "all ports or an admin/data port open is critical; other ports there are high; on a load balancer "
    "only, ports without a listener are answered by nobody (medium, high for all ports); a group attached "
    "to nothing is a latent hazard (medium).",
    fix='Replace cidr_blocks = ["0.0.0.0/0"] with a referenced security group (the load balancer\'s, the '
    "application's) or a specific CIDR; keep world ingress only on the load balancer's listener ports.",
    reference="terraform/modules/edge",
    reads=("aws_security_group",),
)
def no_world_ingress(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    network = graph.network
    for group in sorted(network.groups.values(), key=lambda g: g.id):
        if not network.in_scope(group.vpc_id):
            continue
        attached = network.workloads_with_group(group.id)
        lbs = [w for w in attached if w.is_load_balancer]
        others = [w for w in attached if not w.is_load_balancer]
        unapplied = {port: listener for lb in lbs for port, listener in _unapplied_listeners(ctx, lb).items()}
        listener_ports = {p for lb in lbs for p in lb.ports} | set(unapplied)
        world_rules = [r for r in group.ingress if _admits_world(network, r)]
        exempt, failing = [], []
        for rule in world_rules:
            if lbs and not others and _within(rule, listener_ports):
                exempt.append(rule)
            else:
                failing.append(rule)
        on = ", ".join(w.label for w in attached) or (
            "network interfaces only" if network.is_attached(group.id) else "nothing (unattached)"
        )
        for rule in failing:
            severity = _world_rule_severity(network, group.id, rule, others, lbs)
            evidence = f"{graph.peer_label(rule)} → {group.label}:{rule.port_label} (on {on})"
            yield ctx.finding(check_, False, group.id, evidence, severity=severity)
        if not failing:
            if exempt:
                opened = ", ".join(sorted({f"{graph.peer_label(r)} → {group.label}:{r.port_label}" for r in exempt}))
                evidence = f"{opened}: listener ports of {', '.join(lb.label for lb in lbs)}"
                evidence += "".join(f" ({port}: {unapplied[port]}, counted as intended)" for port in sorted(unapplied))
            else:
                evidence = f"{group.label}: no rule admits 0.0.0.0/0 or ::/0"
            yield ctx.finding(check_, True, group.id, evidence)


def _unapplied_listeners(ctx: CheckContext, lb: Workload) -> dict[int, str]:
    """Port -> listener, for the listeners of `lb` an apply that failed part-way did not create.

    They were intended: a world rule on their port is the load balancer's, not a port nobody answers. A
    listener whose configuration names no load balancer that can be told apart (through a local) counts
    for every load balancer."""
    address = ctx.address_for(lb.id, *lb.other_ids)
    ports: dict[int, str] = {}
    for unapplied in ctx.unapplied:
        if unapplied.type != "aws_lb_listener" or not isinstance(port := unapplied.values.get("port"), int):
            continue
        named = [r for r in unapplied.references if type_of(r) == "aws_lb"]
        if address is None or not named or without_index(address) in named:
            ports[port] = unapplied.describe()
    return ports


def _admits_world(network: Network, rule: SgRule) -> bool:
    if rule.cidr:
        return is_world(rule.cidr)
    prefix_list = network.prefix_lists.get(rule.prefix_list or "")
    return prefix_list is not None and any(is_world(c) for c in prefix_list.cidrs)


def _world_rule_severity(
    network: Network, group_id: str, rule: SgRule, others: list[Workload], lbs: list[Workload]
) -> Severity:
    if rule.protocol not in (TCP, UDP, ALL):
        return Severity.LOW  # ICMP: answers pings, opens no service
    if not network.is_attached(group_id):
        return Severity.MEDIUM  # exposes nothing today; a hazard the day someone attaches it
    if others:
        data_ports = {p for w in others if w.kind in DATA_STORES or w.kind is WorkloadKind.DB_PROXY for p in w.ports}
        if _opens_sensitive(rule, data_ports) or any(w.kind in DATA_STORES for w in others):
            return Severity.CRITICAL
        return Severity.HIGH
    if lbs:
        return Severity.HIGH if rule.all_traffic else Severity.MEDIUM
    return Severity.HIGH  # on interfaces the model has no workload for: exposure unknown, assume it matters


# ---------------------------------------------------------------------------------------------------
# Egress for image pulls
# ---------------------------------------------------------------------------------------------------


@check(
    "network.private-egress",
    "Private tasks have an egress path to pull their images",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("ec2", "ecs"),
    why="A Fargate task pulls its image, ships its logs and fetches its secrets before it starts. In a "
    "subnet with neither a NAT gateway (itself in a subnet routed to an internet gateway) nor VPC "
    "endpoints for ECR (api and dkr), S3 and the other APIs it uses, every task fails with "
    "CannotPullContainerError, and a task in a public subnet without a public IP cannot use the gateway.",
    fix="Route the private subnets' 0.0.0.0/0 to a NAT gateway in a public subnet, or add interface "
    "endpoints (ecr.api, ecr.dkr, logs, secretsmanager) with private DNS and an S3 gateway endpoint on the "
    "private route tables, and let the tasks' security group out on 443.",
    reference="terraform/modules/network",
    reads=("aws_ecs_service",),
)
def private_egress(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    unjudged = list(graph.network.unplaced.values())
    for workload in graph.network.workloads:
        if workload.kind is not WorkloadKind.ECS_SERVICE:
            continue
        if not workload.fargate:
            # On EC2 the container instance pulls images, through its own network path.
            unjudged.append(f"{workload.label} runs on EC2 instances, which pull its images themselves")
            continue
        routes = graph.image_pull_egress(workload)
        if not routes:
            unjudged.append(f"{workload.label}: no image to pull")
            continue
        evidence = " | ".join(r.render() for r in routes)
        yield ctx.finding(check_, all(r.ok for r in routes), workload.id, evidence, *workload.other_ids)
    _say_unjudged(unjudged)


# ---------------------------------------------------------------------------------------------------
# Multi-AZ placement
# ---------------------------------------------------------------------------------------------------


@check(
    "network.multi-az",
    "Load balancers, services and database subnet groups span at least two availability zones",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=("ec2",),
    why="Subnets decide where things can run. A load balancer, a service or a DB subnet group confined to "
    "one availability zone goes down with it, however many tasks or replicas it has; spreading costs "
    "nothing but a second subnet.",
    fix="Give load balancers, ECS services and DB subnet groups one subnet in each of two or more availability zones.",
    reference="terraform/modules/network",
    reads=("aws_lb", "aws_elb", "aws_ecs_service", "aws_db_instance", "aws_rds_cluster"),
)
def multi_az(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    network = ctx.network_graph.network
    subnet_groups: dict[str, list[Workload]] = {}
    for workload in network.workloads:
        if workload.kind in (WorkloadKind.DB_INSTANCE, WorkloadKind.DB_CLUSTER):
            if workload.subnet_group:
                subnet_groups.setdefault(workload.subnet_group, []).append(workload)
            continue
        if workload.kind not in (WorkloadKind.LOAD_BALANCER, WorkloadKind.ECS_SERVICE):
            continue
        azs = network.subnet_azs(workload.subnet_ids)
        evidence = f"{workload.label} spans {', '.join(azs) or 'no known zone'} ({', '.join(workload.subnet_ids)})"
        yield ctx.finding(check_, len(azs) >= 2, workload.id, evidence, *workload.other_ids)
    for name, databases in sorted(subnet_groups.items()):
        azs = network.subnet_azs(databases[0].subnet_ids)
        users = ", ".join(w.label for w in databases)
        evidence = f"DB subnet group {name} (used by {users}) spans {', '.join(azs) or 'no known zone'}"
        yield ctx.finding(check_, len(azs) >= 2, name, evidence, *(w.id for w in databases))


# ---------------------------------------------------------------------------------------------------
# Default security groups
# ---------------------------------------------------------------------------------------------------


@check(
    "network.default-sg-locked",
    "The default security group of every VPC has no rules",
    severity=Severity.LOW,
    category=Category.SECURITY,
    services=("ec2",),
    why="Anything launched without an explicit security group lands in the VPC's default group, whose "
    "stock rules let every member talk to every other on all ports and reach anywhere. Emptying it makes "
    "a forgotten group fail closed (CIS AWS 5.4).",
    fix="Adopt it with aws_default_security_group and declare no ingress or egress blocks.",
    reference="terraform/modules/network",
    reads=("aws_vpc",),
)
def default_sg_locked(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    network = graph.network
    for vpc in sorted(network.vpcs.values(), key=lambda v: v.id):
        if vpc.is_default:
            continue
        group = next((g for g in network.groups.values() if g.vpc_id == vpc.id and g.is_default), None)
        if group is None:
            continue
        rules = [*group.ingress, *group.egress]
        if not rules:
            yield ctx.finding(check_, True, group.id, f"{group.label} in {vpc.id} has no rules", vpc.id)
            continue
        texts = [f"ingress {graph.peer_label(r)} → {group.label}:{r.port_label}" for r in group.ingress]
        texts += [f"egress {group.label} → {graph.peer_label(r)}:{r.port_label}" for r in group.egress]
        attached = network.is_attached(group.id)
        address_ingress = any(r.cidr or r.prefix_list for r in group.ingress)
        # Used by something, or open to addresses: the defaults are no longer only a fallback.
        severity = Severity.MEDIUM if attached or address_ingress else Severity.LOW
        note = " (attached)" if attached else ""
        yield ctx.finding(check_, False, group.id, "; ".join(texts) + note, vpc.id, severity=severity)


# ---------------------------------------------------------------------------------------------------
# Flow logs
# ---------------------------------------------------------------------------------------------------


def _flow_log_label(flow_log: Mapping[str, Any]) -> str:
    destination = flow_log.get("LogGroupName") or flow_log.get("LogDestination") or "?"
    kind = flow_log.get("LogDestinationType", "cloud-watch-logs")
    return f"{flow_log.get('FlowLogId')} ({flow_log.get('TrafficType', '?')} to {kind} {destination})"


@check(
    "network.flow-logs",
    "Every VPC records its traffic in flow logs",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=("ec2",),
    why="Flow logs are the only record of which addresses talked to what inside a VPC: without them an "
    "incident (a compromised task calling out, a scan from a neighbour, data leaving through the NAT) "
    "cannot be traced, and rejected connections that reveal a misconfiguration go unseen (CIS AWS 3.9).",
    fix='Add an aws_flow_log on the VPC (traffic_type = "ALL") to a CloudWatch log group with a retention '
    "period and a KMS key, or to an S3 bucket.",
    reference="terraform/modules/network (aws_flow_log)",
    reads=("aws_vpc",),
)
def flow_logs(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    network = ctx.network_graph.network
    vpcs = [vpc for vpc in sorted(network.vpcs.values(), key=lambda v: v.id) if network.in_scope(vpc.id)]
    if not vpcs:
        return
    by_resource: dict[str, list[Mapping[str, Any]]] = {}
    for flow_log in ctx.account.ec2.flow_logs():
        if flow_log.get("FlowLogStatus", "ACTIVE") == "ACTIVE":
            by_resource.setdefault(str(flow_log.get("ResourceId")), []).append(flow_log)
    for vpc in vpcs:
        name = f"{vpc.id} ({vpc.tags['Name']})" if vpc.tags.get("Name") else vpc.id
        on_vpc = by_resource.get(vpc.id, [])
        subnets = sorted(s.id for s in network.subnets.values() if s.vpc_id == vpc.id)
        if on_vpc:
            yield ctx.finding(check_, True, vpc.id, f"{name}: " + ", ".join(_flow_log_label(f) for f in on_vpc))
        elif subnets and all(by_resource.get(s) for s in subnets):
            yield ctx.finding(check_, True, vpc.id, f"{name}: a flow log on each of its {len(subnets)} subnets")
        else:
            logged = [s for s in subnets if by_resource.get(s)]
            partial = f" (only {len(logged)} of its {len(subnets)} subnets have one)" if logged else ""
            yield ctx.finding(check_, False, vpc.id, f"{name}: no flow log on the VPC{partial}")


# ---------------------------------------------------------------------------------------------------
# ECS tasks without public IPs
# ---------------------------------------------------------------------------------------------------


@check(
    "network.ecs-no-public-ip",
    "ECS tasks get no public IP and run in private subnets",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=("ec2", "ecs"),
    why="assignPublicIp=ENABLED gives every task its own internet address: the container is one security "
    "group rule away from the internet, with no load balancer in front. Tasks in public subnets are one "
    "flag away from the same, and without it they cannot even pull their image.",
    fix="assign_public_ip = false and private subnets with a NAT gateway or VPC endpoints for egress; "
    "serve traffic through a load balancer.",
    reference="terraform/modules/service",
    reads=("aws_ecs_service",),
)
def ecs_no_public_ip(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    graph = ctx.network_graph
    for workload in graph.network.workloads:
        if workload.kind is not WorkloadKind.ECS_SERVICE:
            continue
        problems: list[tuple[Severity, str]] = []
        if workload.assign_public_ip:
            problems.append((Severity.HIGH, f"{workload.label}: assignPublicIp=ENABLED"))
        elif workload.hosts and workload.public_ipv4:
            problems.append((Severity.HIGH, f"{workload.label}: {workload.public_ipv4}"))
        public = [
            f"{s.id} public via {igw}" for s in graph.network.subnets_of(workload) if (igw := graph.internet_gateway(s))
        ]
        if public:
            problems.append((Severity.MEDIUM, f"{workload.label} runs in {', '.join(public)}"))
        subnets = ", ".join(f"{s.id} ({graph.default_route_label(s)})" for s in graph.network.subnets_of(workload))
        passed = f"{workload.label}: assignPublicIp=DISABLED in private subnets {subnets}"
        if workload.hosts:
            passed = f"{workload.label}: on {workload.hosts}, no public IP, in private subnets {subnets}"
        yield _finding(check_, ctx, workload, problems, passed)
    _say_unjudged(list(graph.network.unplaced.values()))
