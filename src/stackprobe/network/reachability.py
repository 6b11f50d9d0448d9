"""Can source X reach workload Y on port P? The rules, and paths that explain the answer.

Traffic from a source to a workload arrives when ALL of these hold, and a `Path` names each:

1. admission: an ingress rule of one of the workload's security groups matches the protocol, the
   port and the source (a CIDR rule matches a CIDR source only if it contains all of it; a group
   reference matches a source carrying that group; a prefix list rule matches if one of its entries
   contains the source). A load balancer also needs a listener on the port; a load balancer without
   security groups (a plain NLB) admits everything on its listeners.
2. source egress: when the source has security groups, one of their egress rules admits the same
   protocol and port towards the workload (a reference to its group, or a CIDR containing the subnet).
3. routing, in one of the workload's subnets: a source inside the VPC uses the local route; a private
   CIDR outside it needs a route back (peering, transit gateway, VPN); a public CIDR (the internet is
   0.0.0.0/0 and ::/0) needs the subnet's route for that CIDR to point at an internet gateway AND a
   public address on the workload (internet-facing load balancer, public IP on an instance or task,
   a publicly accessible database).
4. NACLs, stateless, in both directions: the workload subnet's inbound entries, in rule-number order,
   allow the port from the source, and its outbound entries allow the replies to the source's
   ephemeral ports (1024-65535; any allowed part counts); for a source workload in another subnet,
   the same for its own subnet's NACL the other way round. Traffic within one subnet skips NACLs.

Image pulls need an egress path instead: the task's subnet routes 0.0.0.0/0 to a NAT gateway that
itself sits in a subnet routed to an internet gateway (or to an internet gateway, with a public IP on
the task), or VPC endpoints serve every AWS API the task needs (ecr.api, ecr.dkr, the S3 gateway on
the subnet's route table, logs, secrets) and only this region's ECR hosts its images; in both cases
the task's security groups and NACL must let HTTPS out.

What the graph does NOT model (and so never reports as a path or a blocker): NACL entries whose CIDR
only partly covers a source (a narrower allow for an office /32 is ignored when the source is the
whole internet); an "all protocols" rule is evaluated as TCP; UDP listeners; traffic between VPCs
(peering, transit gateway: a route is taken as the path, what lies beyond it is not checked; security
group references across VPCs are reported as not reachable); split default routes (0.0.0.0/1 +
128.0.0.0/1); IPv6 addresses of ECS tasks and Lambda; AWS Network Firewall, Gateway Load Balancer
appliances and NAT instances (a default route to them is trusted); listener rules, WAF and
authentication on the load balancer; the host firewall and what actually listens inside the
workload; other regions and ECS tasks outside services.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from stackprobe.network.model import (
    ALL,
    ALL_PORTS,
    EPHEMERAL_PORTS,
    TCP,
    UDP,
    IpNetwork,
    NatGateway,
    Network,
    PortRange,
    RouteTarget,
    SecurityGroup,
    SgRule,
    Subnet,
    VpcEndpoint,
    Workload,
    is_private_network,
    merge_ranges,
    network_contains,
    parse_network,
    protocol_name,
    ranges_label,
    subtract_range,
)

WORLD_V4 = "0.0.0.0/0"
WORLD_V6 = "::/0"
HTTPS = 443
# Default routes through these are trusted as an egress path: what happens beyond them is not modelled.
_OPAQUE_EGRESS = {
    RouteTarget.TRANSIT_GATEWAY: "transit gateway",
    RouteTarget.INSTANCE: "NAT instance or appliance",
    RouteTarget.VPN_GATEWAY: "VPN gateway",
    RouteTarget.VPC_ENDPOINT: "Gateway Load Balancer endpoint",
}


@dataclass(frozen=True)
class Path:
    """One way in: `0.0.0.0/0 → sg-0abc (db):5432 [rds instance main, subnet-1 public via igw-1, ...]`."""

    source: str
    target: str
    port: str
    via: tuple[str, ...] = ()
    ranges: tuple[PortRange, ...] = field(default=(), compare=False)
    protocol: str = field(default=TCP, compare=False)

    def render(self) -> str:
        text = f"{self.source} → {self.target}:{self.port}"
        return f"{text} [{', '.join(self.via)}]" if self.via else text


@dataclass(frozen=True)
class Source:
    """Where traffic starts: a CIDR (the internet is 0.0.0.0/0 or ::/0), a security group, or a workload."""

    cidr: str | None = None
    group_id: str | None = None
    workload: Workload | None = None

    @classmethod
    def internet(cls, ipv6: bool = False) -> Source:
        return cls(cidr=WORLD_V6 if ipv6 else WORLD_V4)

    @classmethod
    def of_cidr(cls, cidr: str) -> Source:
        return cls(cidr=cidr)

    @classmethod
    def of_workload(cls, workload: Workload) -> Source:
        return cls(workload=workload)


@dataclass(frozen=True)
class Reach:
    """The answer to "can X reach Y on P": the path as far as it goes, and what stops it (if anything)."""

    path: Path
    blockers: tuple[str, ...] = ()

    @property
    def reachable(self) -> bool:
        return not self.blockers


@dataclass(frozen=True)
class Exposure:
    """What the internet reaches of one workload: paths, or why there are none."""

    workload: Workload
    paths: tuple[Path, ...]
    reason: str = ""


@dataclass(frozen=True)
class Admission:
    """One ingress rule of a workload's security group, read as "who may come in, on what"."""

    workload: Workload
    group: SecurityGroup
    rule: SgRule
    source: str

    @property
    def path(self) -> Path:
        return Path(
            self.source,
            self.group.label,
            self.rule.port_label,
            (self.workload.label,),
            (self.rule.port_span(),),
            self.rule.protocol,
        )


@dataclass(frozen=True)
class EgressRoute:
    """Whether tasks in one subnet can fetch their image (and logs, secrets) before starting."""

    subnet: Subnet
    ok: bool
    detail: str

    def render(self) -> str:
        return f"{self.subnet.label}: {self.detail}"


@dataclass(frozen=True)
class _Location:
    """Where a source sits: its address range, its subnet (for workloads) and its security groups."""

    label: str
    net: IpNetwork | None
    subnet: Subnet | None
    groups: frozenset[str]
    vpc_id: str | None


class Graph:
    """Reachability over a `Network`: internet exposure, admissions, point-to-point reach, egress."""

    def __init__(self, network: Network) -> None:
        self.network = network

    # -- NACLs --------------------------------------------------------------------------------------

    def nacl_allows(
        self, subnet: Subnet, *, egress: bool, protocol: str, ports: PortRange, peer: IpNetwork
    ) -> list[PortRange]:
        """The parts of `ports` the subnet's NACL lets through to/from `peer`, first matching rule wins.

        Entries apply only when their CIDR contains the whole peer range (see the module docstring).
        Without a NACL the VPC default (allow all) applies.
        """
        acl = self.network.nacl(subnet)
        if acl is None:
            return [ports]
        undecided, allowed = [ports], []
        for entry in acl.ordered(egress):
            if not entry.matches_protocol(protocol) or not network_contains(parse_network(entry.cidr), peer):
                continue
            span = entry.ports or ALL_PORTS
            if entry.allow:
                allowed += [part for item in undecided if (part := item.intersect(span)) is not None]
            undecided = subtract_range(undecided, span)
            if not undecided:
                break
        return merge_ranges(allowed)

    def _nacl_pair(
        self, subnet: Subnet, protocol: str, ports: PortRange, peer: IpNetwork, inbound: bool = True
    ) -> tuple[list[PortRange], str | None]:
        """Ports allowed through `subnet`'s NACL for a connection with `peer`, replies included.

        inbound=True: `peer` connects to `ports` in the subnet; False: the subnet connects out to `peer`.
        """
        acl = self.network.nacl(subnet)
        acl_id = acl.id if acl else "default NACL"
        nacl_protocol = TCP if protocol == ALL else protocol
        forward = self.nacl_allows(subnet, egress=not inbound, protocol=nacl_protocol, ports=ports, peer=peer)
        if not forward:
            direction = "from" if inbound else "to"
            return [], f"{acl_id} denies {protocol_name(nacl_protocol)}/{ports.label} {direction} {peer}"
        reply_ports = EPHEMERAL_PORTS if nacl_protocol in (TCP, UDP) else ALL_PORTS
        replies = self.nacl_allows(subnet, egress=inbound, protocol=nacl_protocol, ports=reply_ports, peer=peer)
        if not replies:
            direction = "to" if inbound else "from"
            return [], f"{acl_id} denies the replies (ephemeral ports) {direction} {peer}"
        return forward, None

    # -- routing ------------------------------------------------------------------------------------

    def internet_gateway(self, subnet: Subnet, destination: str = WORLD_V4) -> str | None:
        """The internet gateway `subnet` routes `destination` to, if any: what makes a subnet public."""
        table = self.network.route_table(subnet)
        net = parse_network(destination)
        route = table.route_for(net) if table and net else None
        return route.target_id if route and route.target is RouteTarget.INTERNET_GATEWAY else None

    def default_route_label(self, subnet: Subnet) -> str:
        table = self.network.route_table(subnet)
        net = parse_network(WORLD_V4)
        route = table.route_for(net) if table and net else None
        return f"{WORLD_V4} → {route.target_id}" if route else f"no {WORLD_V4} route"

    # -- internet exposure --------------------------------------------------------------------------

    def internet_exposure(self, workload: Workload) -> Exposure:
        """Every port of `workload` the internet reaches, with one explaining path per admitting rule."""
        paths: list[Path] = []
        reasons: list[str] = []
        for world, public in ((WORLD_V4, workload.public_ipv4), (WORLD_V6, workload.public_ipv6)):
            world_net = parse_network(world)
            assert world_net is not None
            candidates = self._world_admissions(workload, world_net)
            if not candidates:
                continue
            opened = ", ".join(sorted({f"{target}:{ports}" for target, ports, _ in candidates}))
            if not public:
                reasons.append(f"{world} → {opened} admitted, but the {workload.kind.value} has no public address")
                continue
            public_subnets = [
                (s, igw) for s in self.network.subnets_of(workload) if (igw := self.internet_gateway(s, world))
            ]
            if not public_subnets:
                routes = ", ".join(f"{s.id}: {self.default_route_label(s)}" for s in self.network.subnets_of(workload))
                reasons.append(
                    f"{world} → {opened} admitted, but no subnet routes {world} to an internet gateway"
                    f" ({routes or 'no subnets'})"
                )
                continue
            for target, _, (rule_protocol, spans) in candidates:
                path, blocker = self._first_open_subnet(
                    workload, world_net, target, rule_protocol, spans, public_subnets, public
                )
                if path:
                    paths.append(path)
                elif blocker:
                    reasons.append(blocker)
        if not paths and not reasons:
            if workload.is_load_balancer and not workload.ports:
                reasons.append("no listener")
            elif workload.is_load_balancer:
                reasons.append(
                    f"no security group rule admits 0.0.0.0/0 or ::/0 on a listener port "
                    f"({', '.join(map(str, workload.ports))})"
                )
            else:
                reasons.append("no security group rule admits 0.0.0.0/0 or ::/0")
        return Exposure(workload, tuple(paths), "; ".join(dict.fromkeys(reasons)))

    def _world_admissions(
        self, workload: Workload, world: IpNetwork
    ) -> list[tuple[str, str, tuple[str, list[PortRange]]]]:
        """(target label, port label, (protocol, port spans)) of every rule admitting the whole internet."""
        found: list[tuple[str, str, tuple[str, list[PortRange]]]] = []
        listeners = [PortRange(p, p) for p in workload.ports]
        if workload.is_load_balancer and not workload.group_ids:
            # An NLB without security groups forwards whatever reaches its listeners.
            if listeners:
                label = f"{workload.label} (no security group)"
                found.append((label, ranges_label(listeners), (TCP, listeners)))
            return found
        for group in self.network.groups_of(workload):
            for rule in group.ingress:
                if not self._rule_contains(rule, world):
                    continue
                spans = [rule.port_span()]
                if workload.is_load_balancer:
                    if rule.protocol not in (ALL, TCP):
                        continue
                    # A load balancer only answers on its listeners, whatever its security group opens.
                    spans = [part for listener in listeners if (part := listener.intersect(rule.port_span()))]
                    if not spans:
                        continue
                found.append((group.label, rule.port_label, (rule.protocol, spans)))
        return found

    def _first_open_subnet(
        self,
        workload: Workload,
        world: IpNetwork,
        target: str,
        protocol: str,
        spans: list[PortRange],
        public_subnets: list[tuple[Subnet, str]],
        public: str,
    ) -> tuple[Path | None, str | None]:
        blocker = None
        for subnet, igw in sorted(public_subnets, key=lambda item: item[0].id):
            allowed: list[PortRange] = []
            for span in spans:
                ports, blocked = self._nacl_pair(subnet, protocol, span, world)
                allowed += ports
                blocker = blocker or blocked
            if not allowed:
                continue
            allowed = merge_ranges(allowed)
            if protocol == ALL and allowed == [ALL_PORTS]:
                label = "all"
            elif protocol not in (ALL, TCP, UDP):
                label = protocol_name(protocol)  # ICMP and friends have no ports
            else:
                label = ranges_label(allowed) + ("/udp" if protocol == UDP else "")
            acl = self.network.nacl(subnet)
            via = (
                workload.label,
                f"{subnet.id} public via {igw}",
                public,
                f"{acl.id if acl else 'default NACL'} allows",
            )
            return Path(str(world), target, label, via, tuple(allowed), protocol), None
        return None, blocker

    def _rule_contains(self, rule: SgRule, net: IpNetwork) -> bool:
        """Whether `rule` (ingress or egress) names a CIDR or prefix list containing all of `net`."""
        if rule.cidr:
            return network_contains(parse_network(rule.cidr), net)
        if rule.prefix_list:
            prefix_list = self.network.prefix_lists.get(rule.prefix_list)
            return prefix_list is not None and any(network_contains(parse_network(c), net) for c in prefix_list.cidrs)
        return False

    # -- admissions ---------------------------------------------------------------------------------

    def admissions(self, workload: Workload) -> list[Admission]:
        """Every ingress rule on the workload's groups: who may connect, on which ports."""
        found = []
        for group in self.network.groups_of(workload):
            for rule in group.ingress:
                found.append(Admission(workload, group, rule, self.peer_label(rule)))
        return found

    def peer_label(self, rule: SgRule) -> str:
        if rule.peer_group:
            return self.network.group_label(rule.peer_group)
        if rule.prefix_list:
            prefix_list = self.network.prefix_lists.get(rule.prefix_list)
            return prefix_list.label if prefix_list else rule.prefix_list
        return rule.cidr or "?"

    # -- point to point -----------------------------------------------------------------------------

    def reach(self, source: Source, workload: Workload, port: int, protocol: str = TCP) -> Reach:
        """Can `source` open `protocol`/`port` to `workload`? The first complete path, or all blockers."""
        blockers: list[str] = []
        locations = self._locations(source)
        target_label = ", ".join(self.network.group_label(g) for g in workload.group_ids) or workload.label
        for location in locations:
            admitting = self._admitting(location, workload, port, protocol, blockers)
            if admitting is None:
                continue
            group_label, rule_note = admitting
            egress_blocker = self._source_egress_blocker(location, workload, port, protocol)
            if egress_blocker:
                blockers.append(egress_blocker)
                continue
            for subnet in sorted(self.network.subnets_of(workload), key=Subnet.placement):
                route_via, route_blocker = self._route(location, workload, subnet)
                if route_blocker:
                    blockers.append(route_blocker)
                    continue
                nacl_via, nacl_blocker = self._nacls(location, subnet, protocol, port)
                if nacl_blocker:
                    blockers.append(nacl_blocker)
                    continue
                via = tuple(v for v in (workload.label, rule_note, *route_via, nacl_via) if v)
                return Reach(Path(location.label, group_label, str(port), via, (PortRange(port, port),), protocol))
            if not workload.subnet_ids:
                blockers.append(f"{workload.label} has no known subnet")
        label = locations[0].label if locations else "?"
        if not locations:
            blockers.append("the source has no known location")
        return Reach(Path(label, target_label, str(port), (workload.label,)), tuple(dict.fromkeys(blockers)))

    def _locations(self, source: Source) -> list[_Location]:
        if source.workload is not None:
            workload = source.workload
            groups = frozenset(workload.group_ids)
            label = ", ".join(self.network.group_label(g) for g in workload.group_ids) or workload.label
            return [
                _Location(label, s.network, s, groups, s.vpc_id)
                for s in sorted(self.network.subnets_of(workload), key=Subnet.placement)
            ]
        if source.group_id is not None:
            group = self.network.groups.get(source.group_id)
            return [
                _Location(
                    self.network.group_label(source.group_id),
                    None,
                    None,
                    frozenset({source.group_id}),
                    group.vpc_id if group else None,
                )
            ]
        net = parse_network(source.cidr or "")
        return [_Location(str(net), net, None, frozenset(), None)] if net is not None else []

    def _admitting(
        self, location: _Location, workload: Workload, port: int, protocol: str, blockers: list[str]
    ) -> tuple[str, str] | None:
        """(target group label, note) of the first rule admitting the location, or None (blocker added)."""
        if workload.is_load_balancer and port not in workload.ports:
            blockers.append(f"{workload.label} has no listener on {port}")
            return None
        if workload.is_load_balancer and not workload.group_ids:
            return f"{workload.label} (no security group)", ""
        for group in self.network.groups_of(workload):
            for rule in group.ingress:
                if not rule.matches_protocol(protocol) or not rule.port_span().contains(port):
                    continue
                if rule.peer_group and rule.peer_group in location.groups:
                    return group.label, f"{group.id} admits {self.network.group_label(rule.peer_group)}"
                if location.net is not None and self._rule_contains(rule, location.net):
                    return group.label, f"{group.id} admits {self.peer_label(rule)}"
        groups = ", ".join(self.network.group_label(g) for g in workload.group_ids) or "no security group"
        blockers.append(f"no ingress rule of {groups} admits {location.label} on {port}")
        return None

    def _source_egress_blocker(self, location: _Location, workload: Workload, port: int, protocol: str) -> str | None:
        if not location.groups:
            return None  # a bare CIDR: whatever filters its egress is outside the model
        targets = [s.network for s in self.network.subnets_of(workload) if s.network is not None]
        for group_id in location.groups:
            group = self.network.groups.get(group_id)
            for rule in group.egress if group else ():
                if not rule.matches_protocol(protocol) or not rule.port_span().contains(port):
                    continue
                if rule.peer_group and rule.peer_group in workload.group_ids:
                    return None
                if any(self._rule_contains(rule, net) for net in targets):
                    return None
        groups = ", ".join(self.network.group_label(g) for g in sorted(location.groups))
        return f"no egress rule of {groups} allows {port} to {workload.label}"

    def _route(self, location: _Location, workload: Workload, subnet: Subnet) -> tuple[tuple[str, ...], str | None]:
        vpc = self.network.vpcs.get(subnet.vpc_id)
        if location.net is None or location.subnet is not None:
            # Security group references (and workloads) live in a VPC: same VPC means the local route.
            if location.vpc_id and location.vpc_id != subnet.vpc_id:
                return (
                    (),
                    f"{location.label} is in {location.vpc_id}, {workload.label} in {subnet.vpc_id}"
                    " (cross-VPC paths are not modelled)",
                )
            return (), None
        net = location.net
        if vpc is not None and vpc.contains(net):
            return (), None
        table = self.network.route_table(subnet)
        route = table.route_for(net) if table else None
        if is_private_network(net):
            if route is None or route.target in (RouteTarget.INTERNET_GATEWAY, RouteTarget.NAT_GATEWAY):
                return (), f"{subnet.id} has no route back to {net}"
            return (f"{subnet.id} routes {net} → {route.target_id}",), None
        public = workload.public_ipv4 if net.version == 4 else workload.public_ipv6
        if route is None or route.target is not RouteTarget.INTERNET_GATEWAY:
            where = f"→ {route.target_id}" if route else "no route"
            return (), f"{subnet.id} does not route {net} to an internet gateway ({where})"
        if not public:
            return (), f"{workload.label} has no public address"
        return (f"{subnet.id} public via {route.target_id}", public), None

    def _nacls(self, location: _Location, subnet: Subnet, protocol: str, port: int) -> tuple[str, str | None]:
        if location.subnet is not None and location.subnet.id == subnet.id:
            return "same subnet", None  # NACLs filter traffic crossing a subnet boundary only
        if location.net is None:
            return "NACLs not evaluated (the source's subnet is unknown)", None
        span = PortRange(port, port)
        _, blocker = self._nacl_pair(subnet, protocol, span, location.net)
        if blocker:
            return "", blocker
        notes = [self._acl_id(subnet)]
        if location.subnet is not None and subnet.network is not None:
            _, blocker = self._nacl_pair(location.subnet, protocol, span, subnet.network, inbound=False)
            if blocker:
                return "", blocker
            notes.insert(0, self._acl_id(location.subnet))
        return f"{' and '.join(dict.fromkeys(notes))} allow", None

    def _acl_id(self, subnet: Subnet) -> str:
        acl = self.network.nacl(subnet)
        return acl.id if acl else "default NACL"

    def image_pull_egress(self, workload: Workload) -> list[EgressRoute]:
        """Per subnet of an ECS service: can a task there pull its image and start?"""
        return _ImagePull(self).routes(workload)


class _ImagePull:
    """Egress for image pulls: the internet (through a gateway or NAT) or VPC endpoints, HTTPS both ways."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def routes(self, workload: Workload) -> list[EgressRoute]:
        routes = []
        for subnet in sorted(self.graph.network.subnets_of(workload), key=Subnet.placement):
            internet_ok, internet_detail = self._internet_egress(workload, subnet)
            if internet_ok:
                routes.append(EgressRoute(subnet, True, internet_detail))
                continue
            endpoints_ok, endpoints_detail = self._endpoint_egress(workload, subnet)
            if endpoints_ok:
                routes.append(EgressRoute(subnet, True, endpoints_detail))
            else:
                routes.append(EgressRoute(subnet, False, f"{internet_detail}; {endpoints_detail}"))
        return routes

    def _https_out_blocker(
        self,
        workload: Workload,
        subnet: Subnet,
        peer: IpNetwork,
        peer_groups: Iterable[str] = (),
        crosses_subnet: bool = True,
    ) -> str | None:
        """What stops HTTPS from the workload to `peer` (its groups' egress, the subnet NACL both ways)."""
        peer_groups = set(peer_groups)
        allowed = any(
            rule.matches_protocol(TCP)
            and rule.port_span().contains(HTTPS)
            and (
                (rule.peer_group is not None and rule.peer_group in peer_groups)
                or self.graph._rule_contains(rule, peer)
            )
            for group in self.graph.network.groups_of(workload)
            for rule in group.egress
        )
        if not allowed:
            groups = ", ".join(self.graph.network.group_label(g) for g in workload.group_ids) or "no security group"
            return f"{groups} allow no egress on {HTTPS} to {peer}"
        if not crosses_subnet:
            return None
        _, blocker = self.graph._nacl_pair(subnet, TCP, PortRange(HTTPS, HTTPS), peer, inbound=False)
        return blocker

    def _internet_egress(self, workload: Workload, subnet: Subnet) -> tuple[bool, str]:
        world = parse_network(WORLD_V4)
        assert world is not None
        table = self.graph.network.route_table(subnet)
        route = table.route_for(world) if table else None
        if route is None:
            return False, f"no {WORLD_V4} route (no NAT gateway)"
        hop = f"{WORLD_V4} → {route.target_id}"
        if route.target is RouteTarget.INTERNET_GATEWAY:
            if not workload.assign_public_ip:
                return False, f"{hop}, but tasks get no public IP (assignPublicIp=DISABLED), so they cannot use it"
            detail = f"{hop} with assignPublicIp=ENABLED"
        elif route.target is RouteTarget.NAT_GATEWAY:
            nat_ok, detail = self._nat_detail(self.graph.network.nat_gateways.get(route.target_id), hop)
            if not nat_ok:
                return False, detail
        elif route.target in _OPAQUE_EGRESS:
            detail = f"{hop} ({_OPAQUE_EGRESS[route.target]}; egress beyond it is not modelled)"
        else:
            return False, f"{hop} does not lead to the internet"
        blocker = self._https_out_blocker(workload, subnet, world)
        return (False, f"{detail}, but {blocker}") if blocker else (True, detail)

    def _nat_detail(self, nat: NatGateway | None, hop: str) -> tuple[bool, str]:
        if nat is None:
            return False, f"{hop}, which does not exist"
        if not nat.available:
            return False, f"{hop}, which is not available"
        if not nat.public:
            return False, f"{hop}, a private NAT gateway (no internet egress)"
        nat_subnet = self.graph.network.subnets.get(nat.subnet_id)
        igw = self.graph.internet_gateway(nat_subnet) if nat_subnet else None
        if not igw:
            return False, f"{hop}, but {nat.subnet_id} (the NAT's subnet) has no route to an internet gateway"
        return True, f"{hop} (in {nat.subnet_id} → {igw})"

    def _endpoint_egress(self, workload: Workload, subnet: Subnet) -> tuple[bool, str]:
        needs = workload.egress_needs
        services = needs.endpoint_services if needs else ("ecr.api", "ecr.dkr", "s3")
        if needs and needs.non_ecr_images:
            return False, f"VPC endpoints cannot serve {', '.join(needs.non_ecr_images)} (not this region's ECR)"
        missing: list[str] = []
        problems: list[str] = []
        served: list[str] = []
        for service in services:
            ok, detail = self._endpoint_for(workload, subnet, service)
            if ok:
                served.append(detail)
            elif detail:
                problems.append(detail)
            else:
                missing.append(service)
        if missing:
            problems.insert(0, "missing " + ", ".join(missing))
        if problems:
            return False, "VPC endpoints " + "; ".join(problems)
        return True, "VPC endpoints " + ", ".join(served)

    def _endpoint_for(self, workload: Workload, subnet: Subnet, service: str) -> tuple[bool, str]:
        candidates = [
            e
            for e in self.graph.network.endpoints
            if e.vpc_id == subnet.vpc_id and e.service == service and e.available
        ]
        problems = []
        table = self.graph.network.route_table(subnet)
        for endpoint in candidates:
            if endpoint.kind == "Gateway":
                if table is None or table.id not in endpoint.route_table_ids:
                    problems.append(
                        f"{service} gateway {endpoint.id} is not on {table.id if table else 'the'} route table"
                    )
                    continue
                blocker = self._gateway_egress_blocker(workload, subnet, service)
            else:
                blocker = self._interface_blocker(workload, subnet, endpoint)
            if blocker:
                problems.append(f"{service} {endpoint.id}: {blocker}")
                continue
            return True, f"{service} ({endpoint.id})"
        return False, "; ".join(problems)  # empty: no endpoint for the service at all

    def _gateway_egress_blocker(self, workload: Workload, subnet: Subnet, service: str) -> str | None:
        # Gateway endpoint traffic goes to the service's public ranges: a 0.0.0.0/0 rule or its prefix list.
        lists = [p for p in self.graph.network.prefix_lists.values() if p.name.endswith(f".{service}")]
        for group in self.graph.network.groups_of(workload):
            for rule in group.egress:
                if (
                    rule.matches_protocol(TCP)
                    and rule.port_span().contains(HTTPS)
                    and (
                        (rule.prefix_list and any(rule.prefix_list == p.id for p in lists))
                        or (rule.cidr and parse_network(rule.cidr) == parse_network(WORLD_V4))
                    )
                ):
                    world = parse_network(WORLD_V4)
                    assert world is not None
                    _, blocker = self.graph._nacl_pair(subnet, TCP, PortRange(HTTPS, HTTPS), world, inbound=False)
                    return blocker
        groups = ", ".join(self.graph.network.group_label(g) for g in workload.group_ids) or "no security group"
        return f"{groups} allow no egress on {HTTPS} to {service}"

    def _interface_blocker(self, workload: Workload, subnet: Subnet, endpoint: VpcEndpoint) -> str | None:
        if not endpoint.private_dns:
            return "private DNS is disabled, so the default API name does not resolve to it"
        endpoint_subnets = [
            self.graph.network.subnets[s] for s in endpoint.subnet_ids if s in self.graph.network.subnets
        ]
        if subnet.network is None:
            return None
        admitted = any(
            rule.matches_protocol(TCP)
            and rule.port_span().contains(HTTPS)
            and (
                (rule.peer_group is not None and rule.peer_group in workload.group_ids)
                or self.graph._rule_contains(rule, subnet.network)
            )
            for group_id in endpoint.group_ids
            if (group := self.graph.network.groups.get(group_id))
            for rule in group.ingress
        )
        if not admitted:
            labels = ", ".join(self.graph.network.group_label(g) for g in endpoint.group_ids) or "no security group"
            return f"{labels} do not admit {HTTPS} from {subnet.id}"
        # One reachable endpoint interface is enough (any AZ's works, at a cross-AZ cost).
        blockers = []
        for peer in sorted(endpoint_subnets, key=lambda s: s.id != subnet.id):
            if peer.network is None:
                continue
            blocker = self._https_out_blocker(
                workload, subnet, peer.network, endpoint.group_ids, crosses_subnet=peer.id != subnet.id
            )
            if blocker is None:
                return None
            blockers.append(blocker)
        return blockers[0] if blockers else None
