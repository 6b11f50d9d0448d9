"""The deployed network, read from the account into plain dataclasses.

Everything here is read back from the emulator (EC2, ELB, ELBv2, ECS, RDS, ElastiCache, Lambda) through
the account snapshot's readers (`stackprobe.aws.account`), never from Terraform state, so the model
describes any stack, not only this repository's. A "workload" is anything with network interfaces
that traffic can be addressed to: a load balancer, the tasks of an
ECS service (their awsvpc configuration), a database instance or cluster, a cache, an RDS Proxy, an EC2
instance or a Lambda function in a VPC. Each carries its security groups, subnets, listening ports and
whether it has a public address, which is all the reachability graph needs. The tasks of a bridge- or
host-mode ECS service on EC2 share their container instances' network interfaces: that service is a
workload with the instances' security groups and subnets, its host ports, and the instances named
(`hosts`), found as AWS places the tasks (registered container instances, else the instances of the
cluster's capacity-provider groups, else instances whose user data names the cluster).

What the model does not read, and the graph therefore cannot see: other regions, peered or
transit-attached VPCs beyond their route entries, ECS tasks outside services, bridge-mode services whose
instances cannot be found (`Network.unplaced` says which, and why), EKS, ElastiCache Serverless (not
implemented by moto), classic-link and Global Accelerator.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stackprobe.aws.account import Account
from stackprobe.aws.readers.ec2 import Ec2Reader
from stackprobe.aws.readers.ecs import Workload as EcsWorkload
from stackprobe.aws.readers.elasticache import ElastiCacheReader
from stackprobe.aws.readers.rds import RdsReader
from stackprobe.aws.tags import tags_to_dict

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALL = "-1"  # the "all protocols" marker used by security groups and NACLs alike
TCP = "6"
UDP = "17"
_PROTOCOL_NUMBERS = {"tcp": TCP, "udp": UDP, "icmp": "1", "icmpv6": "58", "all": ALL, "-1": ALL}
_PROTOCOL_NAMES = {TCP: "tcp", UDP: "udp", "1": "icmp", "58": "icmpv6", ALL: "all"}


def protocol_number(value: Any) -> str:
    """AWS spells protocols as names ("tcp") or numbers ("6"); the model uses the numbers."""
    text = str(value).strip().lower()
    return _PROTOCOL_NUMBERS.get(text, text)


def protocol_name(number: str) -> str:
    return _PROTOCOL_NAMES.get(number, number)


def parse_network(cidr: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def network_contains(outer: IpNetwork | None, inner: IpNetwork | None) -> bool:
    """True when every address of `inner` is in `outer` (same address family)."""
    if outer is None or inner is None or outer.version != inner.version:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type]  # same version checked above


def is_world(cidr: str | None) -> bool:
    """0.0.0.0/0 or ::/0: every address of the family, i.e. the whole internet."""
    net = parse_network(cidr) if cidr else None
    return net is not None and net.prefixlen == 0


_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")


def is_private_network(net: IpNetwork) -> bool:
    """RFC 1918 / RFC 4193 and friends, plus carrier-grade NAT space: not reachable over the internet."""
    if net.prefixlen == 0:
        return False
    if isinstance(net, ipaddress.IPv4Network) and net.subnet_of(_SHARED_ADDRESS_SPACE):
        return True
    return bool(net.is_private)


# ---------------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive port interval; security groups, NACLs and listeners all speak in these."""

    low: int
    high: int

    def contains(self, port: int) -> bool:
        return self.low <= port <= self.high

    def covers(self, other: PortRange) -> bool:
        return self.low <= other.low and other.high <= self.high

    def intersect(self, other: PortRange) -> PortRange | None:
        low, high = max(self.low, other.low), min(self.high, other.high)
        return PortRange(low, high) if low <= high else None

    @property
    def is_all(self) -> bool:
        return self.low <= 0 and self.high >= 65535

    @property
    def label(self) -> str:
        if self.is_all:
            return "0-65535"
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


ALL_PORTS = PortRange(0, 65535)
# Return traffic goes to the client's ephemeral port; 1024-65535 covers every OS's range.
EPHEMERAL_PORTS = PortRange(1024, 65535)


def merge_ranges(ranges: Iterable[PortRange]) -> list[PortRange]:
    merged: list[PortRange] = []
    for item in sorted(ranges):
        if merged and item.low <= merged[-1].high + 1:
            merged[-1] = PortRange(merged[-1].low, max(merged[-1].high, item.high))
        else:
            merged.append(item)
    return merged


def subtract_range(ranges: Iterable[PortRange], removed: PortRange) -> list[PortRange]:
    result: list[PortRange] = []
    for item in ranges:
        if item.high < removed.low or item.low > removed.high:
            result.append(item)
            continue
        if item.low < removed.low:
            result.append(PortRange(item.low, removed.low - 1))
        if item.high > removed.high:
            result.append(PortRange(removed.high + 1, item.high))
    return result


def ranges_label(ranges: Iterable[PortRange]) -> str:
    return ", ".join(r.label for r in merge_ranges(ranges))


# ---------------------------------------------------------------------------------------------------
# Security groups
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SgRule:
    """One security group rule with one peer (AWS packs several peers into one IpPermission).

    `ports` is None when the rule is not port-based (all protocols, ICMP): it then admits every port
    of the protocols it matches. Exactly one of `cidr`, `peer_group`, `prefix_list` is set.
    """

    group_id: str
    egress: bool
    protocol: str
    ports: PortRange | None
    cidr: str | None = None
    peer_group: str | None = None
    prefix_list: str | None = None
    description: str = ""

    def matches_protocol(self, protocol: str) -> bool:
        return self.protocol in (ALL, protocol)

    def port_span(self) -> PortRange:
        """The ports this rule opens for TCP/UDP (all of them for protocol -1)."""
        return self.ports if self.ports is not None else ALL_PORTS

    @property
    def all_traffic(self) -> bool:
        return self.protocol == ALL or (self.protocol in (TCP, UDP) and self.port_span().is_all)

    @property
    def port_label(self) -> str:
        """`22`, `8000-8080`, `all` (every protocol), `53/udp`, `icmp`: what the rule opens."""
        if self.protocol == ALL:
            return "all"
        if self.protocol in (TCP, UDP):
            label = self.port_span().label
            return label if self.protocol == TCP else f"{label}/udp"
        return protocol_name(self.protocol)

    @property
    def is_world(self) -> bool:
        return is_world(self.cidr)


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str
    vpc_id: str
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})"

    @property
    def is_default(self) -> bool:
        return self.name == "default"


def _port_range(permission: Mapping[str, Any], protocol: str) -> PortRange | None:
    if protocol not in (TCP, UDP):
        return None
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None or int(low) < 0:
        return ALL_PORTS
    return PortRange(int(low), int(high))


def parse_permissions(group_id: str, permissions: Iterable[Mapping[str, Any]], egress: bool) -> list[SgRule]:
    rules: list[SgRule] = []
    for permission in permissions:
        protocol = protocol_number(permission.get("IpProtocol", ALL))
        ports = _port_range(permission, protocol)
        peers: list[tuple[Mapping[str, Any], dict[str, str]]] = []
        peers += [(r, {"cidr": r["CidrIp"]}) for r in permission.get("IpRanges", [])]
        peers += [(r, {"cidr": r["CidrIpv6"]}) for r in permission.get("Ipv6Ranges", [])]
        peers += [(r, {"peer_group": r["GroupId"]}) for r in permission.get("UserIdGroupPairs", []) if r.get("GroupId")]
        peers += [(r, {"prefix_list": r["PrefixListId"]}) for r in permission.get("PrefixListIds", [])]
        rules += [
            SgRule(group_id, egress, protocol, ports, description=raw.get("Description") or "", **peer)
            for raw, peer in peers
        ]
    return rules


# ---------------------------------------------------------------------------------------------------
# Routing and NACLs
# ---------------------------------------------------------------------------------------------------


class RouteTarget(StrEnum):
    LOCAL = "local"
    INTERNET_GATEWAY = "igw"
    EGRESS_ONLY_GATEWAY = "eigw"
    NAT_GATEWAY = "nat"
    VPC_ENDPOINT = "vpce"
    TRANSIT_GATEWAY = "tgw"
    PEERING = "pcx"
    VPN_GATEWAY = "vgw"
    INSTANCE = "instance"  # a NAT instance or appliance (InstanceId / NetworkInterfaceId)
    OTHER = "other"


@dataclass(frozen=True)
class Route:
    destination: str  # a CIDR, or a prefix list id for gateway endpoint routes
    target: RouteTarget
    target_id: str

    @property
    def network(self) -> IpNetwork | None:
        return parse_network(self.destination) if not self.destination.startswith("pl-") else None


def _route(raw: Mapping[str, Any]) -> Route | None:
    if raw.get("State", "active") != "active":
        return None  # blackhole: the target is gone, nothing flows
    destination = (
        raw.get("DestinationCidrBlock") or raw.get("DestinationIpv6CidrBlock") or raw.get("DestinationPrefixListId")
    )
    if not destination:
        return None
    gateway = str(raw.get("GatewayId") or "")
    candidates: list[tuple[RouteTarget, str | None]] = [
        (RouteTarget.LOCAL, gateway if gateway == "local" else None),
        (RouteTarget.INTERNET_GATEWAY, gateway if gateway.startswith("igw-") else None),
        (RouteTarget.VPC_ENDPOINT, gateway if gateway.startswith("vpce-") else None),
        (RouteTarget.VPN_GATEWAY, gateway if gateway.startswith("vgw-") else None),
        (RouteTarget.NAT_GATEWAY, raw.get("NatGatewayId")),
        (RouteTarget.EGRESS_ONLY_GATEWAY, raw.get("EgressOnlyInternetGatewayId")),
        (RouteTarget.TRANSIT_GATEWAY, raw.get("TransitGatewayId")),
        (RouteTarget.PEERING, raw.get("VpcPeeringConnectionId")),
        (RouteTarget.INSTANCE, raw.get("InstanceId") or raw.get("NetworkInterfaceId")),
    ]
    for target, target_id in candidates:
        if target_id:
            return Route(str(destination), target, str(target_id))
    return Route(str(destination), RouteTarget.OTHER, gateway or "unknown")


@dataclass(frozen=True)
class RouteTable:
    id: str
    vpc_id: str
    main: bool
    routes: tuple[Route, ...]
    subnet_ids: tuple[str, ...]

    def route_for(self, destination: IpNetwork) -> Route | None:
        """The route AWS would pick for `destination`: the longest prefix that contains all of it."""
        best: Route | None = None
        for route in self.routes:
            net = route.network
            if (
                net is not None
                and network_contains(net, destination)
                and (
                    best is None or net.prefixlen > best.network.prefixlen  # type: ignore[union-attr]
                )
            ):
                best = route
        return best


@dataclass(frozen=True)
class NaclEntry:
    number: int
    egress: bool
    protocol: str
    ports: PortRange | None  # None: every port (all protocols, or a protocol without ports)
    cidr: str
    allow: bool

    def matches_protocol(self, protocol: str) -> bool:
        return self.protocol == ALL or self.protocol == protocol


@dataclass(frozen=True)
class NetworkAcl:
    id: str
    vpc_id: str
    is_default: bool
    entries: tuple[NaclEntry, ...]
    subnet_ids: tuple[str, ...]

    def ordered(self, egress: bool) -> list[NaclEntry]:
        return sorted((e for e in self.entries if e.egress == egress), key=lambda e: e.number)


def _nacl_entry(raw: Mapping[str, Any]) -> NaclEntry:
    protocol = protocol_number(raw.get("Protocol", ALL))
    port_range = raw.get("PortRange")
    ports = None
    if protocol in (TCP, UDP) and port_range:
        ports = PortRange(int(port_range.get("From", 0)), int(port_range.get("To", 65535)))
    return NaclEntry(
        number=int(raw["RuleNumber"]),
        egress=bool(raw.get("Egress")),
        protocol=protocol,
        ports=ports,
        cidr=str(raw.get("CidrBlock") or raw.get("Ipv6CidrBlock") or ""),
        allow=str(raw.get("RuleAction", "deny")).lower() == "allow",
    )


# ---------------------------------------------------------------------------------------------------
# VPCs, subnets, gateways, endpoints
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vpc:
    id: str
    cidrs: tuple[str, ...]
    is_default: bool
    tags: Mapping[str, str] = field(default_factory=dict)

    def contains(self, net: IpNetwork) -> bool:
        return any(network_contains(parse_network(c), net) for c in self.cidrs)


@dataclass(frozen=True)
class Subnet:
    id: str
    vpc_id: str
    cidr: str
    ipv6_cidrs: tuple[str, ...]
    az: str
    route_table_id: str | None  # explicit association, else the VPC's main table
    nacl_id: str | None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def network(self) -> IpNetwork | None:
        return parse_network(self.cidr)

    def placement(self) -> tuple[str, str, str]:
        """A sort key from what the configuration decided (AZ, CIDR), not the id the emulator minted:
        findings list subnets in the same order on every run."""
        return (self.az, self.cidr, self.id)

    @property
    def label(self) -> str:
        name = self.tags.get("Name")
        return f"{self.id} ({name})" if name else self.id


@dataclass(frozen=True)
class NatGateway:
    id: str
    vpc_id: str
    subnet_id: str
    available: bool
    public: bool  # ConnectivityType "public" (the default); a private NAT has no internet egress


@dataclass(frozen=True)
class VpcEndpoint:
    id: str
    vpc_id: str
    service: str  # the short name after the region: "ecr.dkr", "s3", "logs"
    kind: str  # Gateway / Interface / GatewayLoadBalancer
    available: bool
    private_dns: bool
    route_table_ids: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]


def endpoint_short_name(service_name: str, region: str) -> str:
    """`com.amazonaws.eu-west-1.ecr.dkr` → `ecr.dkr` (and leave unusual names whole)."""
    prefix = f"com.amazonaws.{region}."
    return service_name[len(prefix) :] if service_name.startswith(prefix) else service_name


@dataclass(frozen=True)
class PrefixList:
    id: str
    name: str
    cidrs: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


# ---------------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------------


class WorkloadKind(StrEnum):
    LOAD_BALANCER = "load balancer"
    ECS_SERVICE = "ecs service"
    DB_INSTANCE = "rds instance"
    DB_CLUSTER = "rds cluster"
    CACHE = "elasticache"
    DB_PROXY = "rds proxy"
    INSTANCE = "ec2 instance"
    LAMBDA = "lambda function"


DATA_STORES = frozenset({WorkloadKind.DB_INSTANCE, WorkloadKind.DB_CLUSTER, WorkloadKind.CACHE})
# What may legitimately talk to a data store: application compute, and RDS Proxy in front of a DB.
COMPUTE = frozenset({WorkloadKind.ECS_SERVICE, WorkloadKind.LAMBDA, WorkloadKind.DB_PROXY, WorkloadKind.INSTANCE})


@dataclass(frozen=True)
class LbAttachment:
    """An ECS service registered behind a target group, on a container port."""

    target_group_arn: str
    load_balancer_arns: tuple[str, ...]
    container_port: int


@dataclass(frozen=True)
class EgressNeeds:
    """What an ECS task must reach before it can start: registries and AWS APIs (Fargate pulls itself)."""

    images: tuple[str, ...]
    non_ecr_images: tuple[str, ...]  # Docker Hub, GHCR, another region's ECR: endpoints cannot serve these
    endpoint_services: tuple[str, ...]  # e.g. ("ecr.api", "ecr.dkr", "s3", "logs")


@dataclass(frozen=True)
class Workload:
    """Something traffic can be addressed to, with what decides whether it arrives.

    `public_ipv4` / `public_ipv6` say why the workload has a public address ("internet-facing",
    "public IP 54.1.2.3", "assignPublicIp=ENABLED", "PubliclyAccessible=true"), or None. `ports` are
    the ports it listens on when known (listeners, container ports, the database port); empty means
    unknown (an EC2 instance can listen anywhere).
    """

    kind: WorkloadKind
    id: str  # ARN or identifier: the finding's resource
    name: str
    vpc_id: str
    group_ids: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    ports: tuple[int, ...] = ()
    public_ipv4: str | None = None
    public_ipv6: str | None = None
    subtype: str = ""  # application / network / classic for load balancers; engine for data stores
    subnet_group: str | None = None
    attachments: tuple[LbAttachment, ...] = ()
    assign_public_ip: bool = False
    fargate: bool = False
    egress_needs: EgressNeeds | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    other_ids: tuple[str, ...] = ()  # extra identifiers for the Terraform address lookup
    # An ECS service on EC2 in bridge or host mode: the instances its tasks share and how they were found
    # ("i-0a, i-0b (instances of capacity-provider group ecs)"), and the ephemeral range a bridge-mode
    # container without a host port is published on (None: every port is fixed).
    network_mode: str = ""
    hosts: str = ""
    dynamic_ports: PortRange | None = None

    @property
    def label(self) -> str:
        kind = self.kind.value
        if self.kind is WorkloadKind.LOAD_BALANCER:
            kind = {"application": "alb", "network": "nlb", "classic": "classic elb"}.get(self.subtype, "lb")
        return f"{kind} {self.name}"

    @property
    def is_load_balancer(self) -> bool:
        return self.kind is WorkloadKind.LOAD_BALANCER


# ---------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------


@dataclass
class Network:
    region: str
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    groups: dict[str, SecurityGroup] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)
    nacls: dict[str, NetworkAcl] = field(default_factory=dict)
    nat_gateways: dict[str, NatGateway] = field(default_factory=dict)
    endpoints: list[VpcEndpoint] = field(default_factory=list)
    prefix_lists: dict[str, PrefixList] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    target_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # target group ARN → LB ARNs
    # Security groups on some network interface (including ones the model has no workload for).
    eni_group_ids: set[str] = field(default_factory=set)
    # Bridge- or host-mode ECS services whose container instances were not found: service ARN -> why.
    unplaced: dict[str, str] = field(default_factory=dict)

    def route_table(self, subnet: Subnet) -> RouteTable | None:
        if subnet.route_table_id and subnet.route_table_id in self.route_tables:
            return self.route_tables[subnet.route_table_id]
        return next((t for t in self.route_tables.values() if t.vpc_id == subnet.vpc_id and t.main), None)

    def nacl(self, subnet: Subnet) -> NetworkAcl | None:
        if subnet.nacl_id and subnet.nacl_id in self.nacls:
            return self.nacls[subnet.nacl_id]
        return next((a for a in self.nacls.values() if a.vpc_id == subnet.vpc_id and a.is_default), None)

    def subnets_of(self, workload: Workload) -> list[Subnet]:
        return [self.subnets[s] for s in workload.subnet_ids if s in self.subnets]

    def groups_of(self, workload: Workload) -> list[SecurityGroup]:
        return [self.groups[g] for g in workload.group_ids if g in self.groups]

    def group_label(self, group_id: str) -> str:
        group = self.groups.get(group_id)
        return group.label if group else group_id

    def workloads_with_group(self, group_id: str) -> list[Workload]:
        return [w for w in self.workloads if group_id in w.group_ids]

    def is_attached(self, group_id: str) -> bool:
        return (
            bool(self.workloads_with_group(group_id))
            or group_id in self.eni_group_ids
            or any(group_id in e.group_ids for e in self.endpoints)
        )

    def hosts_workloads(self, vpc_id: str) -> bool:
        return any(w.vpc_id == vpc_id for w in self.workloads)

    def in_scope(self, vpc_id: str) -> bool:
        """Every account has a default VPC; it is judged only when something is deployed into it."""
        vpc = self.vpcs.get(vpc_id)
        return vpc is None or not vpc.is_default or self.hosts_workloads(vpc_id)

    def load_balancer(self, arn: str) -> Workload | None:
        return next((w for w in self.workloads if w.is_load_balancer and w.id == arn), None)

    def subnet_azs(self, subnet_ids: Iterable[str]) -> list[str]:
        return sorted({self.subnets[s].az for s in subnet_ids if s in self.subnets})


# ---------------------------------------------------------------------------------------------------
# Reading the account
# ---------------------------------------------------------------------------------------------------


def read_network(account: Account) -> Network:
    """The whole network of the account's region (a service the backend does not serve holds nothing)."""
    network = Network(region=account.region)
    _read_ec2(account, network)
    _read_elbv2(account, network)
    _read_classic_elb(account, network)
    _read_ecs(account, network)
    _read_rds(account.rds, network)
    _read_elasticache(account.elasticache, network)
    _read_lambda(account, network)
    _read_instances(account, network)
    return network


def _read_ec2(account: Account, network: Network) -> None:
    _read_topology(account.ec2, network)
    _read_groups_and_gateways(account.ec2, network)


def _read_topology(ec2: Ec2Reader, network: Network) -> None:
    """VPCs, route tables, NACLs and subnets (each subnet with its table and NACL)."""
    for raw in ec2.vpcs():
        cidrs = [
            a["CidrBlock"]
            for a in raw.get("CidrBlockAssociationSet", [])
            if a.get("CidrBlockState", {}).get("State", "associated") == "associated"
        ]
        cidrs += [a["Ipv6CidrBlock"] for a in raw.get("Ipv6CidrBlockAssociationSet", []) if a.get("Ipv6CidrBlock")]
        network.vpcs[raw["VpcId"]] = Vpc(
            raw["VpcId"], tuple(cidrs or [raw["CidrBlock"]]), bool(raw.get("IsDefault")), tags_to_dict(raw.get("Tags"))
        )

    tables = ec2.route_tables()
    table_of: dict[str, str] = {}
    for raw in tables:
        associations = raw.get("Associations", [])
        subnet_ids = tuple(a["SubnetId"] for a in associations if a.get("SubnetId"))
        table_of.update({s: raw["RouteTableId"] for s in subnet_ids})
        routes = tuple(r for r in (_route(x) for x in raw.get("Routes", [])) if r is not None)
        network.route_tables[raw["RouteTableId"]] = RouteTable(
            raw["RouteTableId"], raw["VpcId"], any(a.get("Main") for a in associations), routes, subnet_ids
        )

    nacl_of: dict[str, str] = {}
    for raw in ec2.network_acls():
        subnet_ids = tuple(a["SubnetId"] for a in raw.get("Associations", []) if a.get("SubnetId"))
        nacl_of.update({s: raw["NetworkAclId"] for s in subnet_ids})
        network.nacls[raw["NetworkAclId"]] = NetworkAcl(
            raw["NetworkAclId"],
            raw["VpcId"],
            bool(raw.get("IsDefault")),
            tuple(_nacl_entry(e) for e in raw.get("Entries", [])),
            subnet_ids,
        )

    for raw in ec2.subnets():
        ipv6 = tuple(a["Ipv6CidrBlock"] for a in raw.get("Ipv6CidrBlockAssociationSet", []) if a.get("Ipv6CidrBlock"))
        network.subnets[raw["SubnetId"]] = Subnet(
            raw["SubnetId"],
            raw["VpcId"],
            raw.get("CidrBlock", ""),
            ipv6,
            raw.get("AvailabilityZone", ""),
            table_of.get(raw["SubnetId"]),
            nacl_of.get(raw["SubnetId"]),
            tags_to_dict(raw.get("Tags")),
        )


def _read_groups_and_gateways(ec2: Ec2Reader, network: Network) -> None:
    """Security groups, NAT gateways, VPC endpoints, the groups on network interfaces, and prefix lists."""
    for raw in ec2.security_groups():
        group_id = raw["GroupId"]
        network.groups[group_id] = SecurityGroup(
            group_id,
            raw.get("GroupName", ""),
            raw.get("VpcId", ""),
            tuple(parse_permissions(group_id, raw.get("IpPermissions", []), egress=False)),
            tuple(parse_permissions(group_id, raw.get("IpPermissionsEgress", []), egress=True)),
            tags_to_dict(raw.get("Tags")),
        )

    for raw in ec2.nat_gateways():
        if raw.get("State") in ("deleted", "deleting", "failed"):
            continue
        network.nat_gateways[raw["NatGatewayId"]] = NatGateway(
            raw["NatGatewayId"],
            raw.get("VpcId", ""),
            raw.get("SubnetId", ""),
            raw.get("State") == "available",
            raw.get("ConnectivityType", "public") == "public",
        )

    for raw in ec2.vpc_endpoints():
        state = str(raw.get("State", "available")).lower()
        if state in ("deleted", "deleting", "rejected", "failed", "expired"):
            continue
        network.endpoints.append(
            VpcEndpoint(
                raw["VpcEndpointId"],
                raw.get("VpcId", ""),
                endpoint_short_name(raw.get("ServiceName", ""), network.region),
                raw.get("VpcEndpointType", "Gateway"),
                state == "available",
                bool(raw.get("PrivateDnsEnabled")),
                tuple(raw.get("RouteTableIds", [])),
                tuple(raw.get("SubnetIds", [])),
                tuple(g["GroupId"] for g in raw.get("Groups", [])),
            )
        )

    for raw in ec2.network_interfaces():
        network.eni_group_ids.update(g["GroupId"] for g in raw.get("Groups", []))

    # Only prefix lists that rules name are resolved (entries cost one call each).
    referenced = {r.prefix_list for g in network.groups.values() for r in (*g.ingress, *g.egress) if r.prefix_list}
    if referenced:
        names = {p["PrefixListId"]: p.get("PrefixListName", "") for p in ec2.managed_prefix_lists()}
        for pl_id in sorted(referenced):
            entries = ec2.prefix_list_entries(pl_id)
            network.prefix_lists[pl_id] = PrefixList(pl_id, names.get(pl_id, ""), tuple(e["Cidr"] for e in entries))


def _vpc_of_subnets(network: Network, subnet_ids: Iterable[str], fallback: str = "") -> str:
    for subnet_id in subnet_ids:
        if subnet_id in network.subnets:
            return network.subnets[subnet_id].vpc_id
    return fallback


def _read_elbv2(account: Account, network: Network) -> None:
    for raw in account.elbv2.target_groups():
        network.target_groups[raw["TargetGroupArn"]] = tuple(raw.get("LoadBalancerArns", []))
    for raw in account.elbv2.load_balancers():
        if raw.get("Type") == "gateway":
            continue  # a GWLB is a bump in the wire, not an entry point
        arn = raw["LoadBalancerArn"]
        listeners = account.elbv2.listeners(arn)
        public = raw.get("Scheme") == "internet-facing"
        network.workloads.append(
            Workload(
                kind=WorkloadKind.LOAD_BALANCER,
                id=arn,
                name=raw.get("LoadBalancerName", arn),
                vpc_id=raw.get("VpcId", ""),
                group_ids=tuple(raw.get("SecurityGroups") or ()),
                subnet_ids=tuple(z["SubnetId"] for z in raw.get("AvailabilityZones", []) if z.get("SubnetId")),
                ports=tuple(sorted({int(listener["Port"]) for listener in listeners})),
                public_ipv4="internet-facing" if public else None,
                public_ipv6="internet-facing dualstack"
                if public and "dualstack" in str(raw.get("IpAddressType"))
                else None,
                subtype=str(raw.get("Type", "application")),
                other_ids=(raw.get("LoadBalancerName", ""), raw.get("DNSName", "")),
            )
        )


def _read_classic_elb(account: Account, network: Network) -> None:
    for raw in account.elb.load_balancers():
        if not raw.get("VPCId"):
            continue  # EC2-Classic leftovers have no VPC to reason about
        network.workloads.append(
            Workload(
                kind=WorkloadKind.LOAD_BALANCER,
                id=raw["LoadBalancerName"],
                name=raw["LoadBalancerName"],
                vpc_id=raw["VPCId"],
                group_ids=tuple(raw.get("SecurityGroups", [])),
                subnet_ids=tuple(raw.get("Subnets", [])),
                ports=tuple(
                    sorted({int(d["Listener"]["LoadBalancerPort"]) for d in raw.get("ListenerDescriptions", [])})
                ),
                public_ipv4="internet-facing" if raw.get("Scheme") == "internet-facing" else None,
                subtype="classic",
                other_ids=(raw.get("DNSName", ""),),
            )
        )


# Image URIs of private ECR in this account's region; anything else needs a route to the internet.
def _is_regional_ecr(image: str, region: str) -> bool:
    host = image.split("/", 1)[0] if "/" in image else ""
    return host.endswith(f".dkr.ecr.{region}.amazonaws.com")


def _egress_needs(task_definition: Mapping[str, Any], region: str) -> EgressNeeds:
    containers = task_definition.get("containerDefinitions", [])
    images = tuple(str(c.get("image", "")) for c in containers if c.get("image"))
    needs = {"ecr.api", "ecr.dkr", "s3"}  # ECR serves image layers from S3
    for container in containers:
        if (container.get("logConfiguration") or {}).get("logDriver") == "awslogs":
            needs.add("logs")
        for secret in container.get("secrets", []) or []:
            source = str(secret.get("valueFrom", ""))
            needs.add("secretsmanager" if ":secretsmanager:" in source else "ssm")
    return EgressNeeds(images, tuple(i for i in images if not _is_regional_ecr(i, region)), tuple(sorted(needs)))


def _is_fargate(service: Mapping[str, Any], cluster: Mapping[str, Any]) -> bool:
    """Whether the task ENI itself pulls the image (Fargate), rather than an EC2 container instance."""
    if service.get("launchType"):
        return bool(service["launchType"] == "FARGATE")
    strategy = service.get("capacityProviderStrategy") or cluster.get("defaultCapacityProviderStrategy") or []
    providers = [s.get("capacityProvider", "") for s in strategy]
    # No launch type and no strategy: AWS defaults to FARGATE for awsvpc-only services.
    return not providers or any(p.startswith("FARGATE") for p in providers)


# Where ECS publishes a bridge-mode container port given no host port: the instance's ephemeral range
# (32768-60999 on Amazon Linux; AWS's guides for dynamic port mapping open 32768-65535, covering both).
DYNAMIC_HOST_PORTS = PortRange(32768, 65535)


def _attachments(network: Network, service: Mapping[str, Any], ports: Mapping[int, int]) -> list[LbAttachment]:
    """The service's target-group registrations, each on the port the load balancer sends to: the container
    port (awsvpc), else its host port (`ports`: container port -> host port, 0 when dynamic)."""
    attachments = []
    for lb in service.get("loadBalancers", []):
        tg_arn = lb.get("targetGroupArn")
        if not tg_arn or lb.get("containerPort") is None:
            continue  # classic ELB registration: judged through the ELB's own SGs
        container_port = int(lb["containerPort"])
        port = ports.get(container_port, container_port) or DYNAMIC_HOST_PORTS.low
        attachments.append(LbAttachment(tg_arn, network.target_groups.get(tg_arn, ()), port))
    return attachments


def _read_ecs(account: Account, network: Network) -> None:
    ecs = account.ecs
    for running in ecs.workloads():
        service, task_definition = running.service, running.task_definition
        vpc_config = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
        if not vpc_config:
            _read_host_service(account, network, running)
            continue
        attachments = _attachments(network, service, {})
        ports = {a.container_port for a in attachments}
        ports |= {
            int(p["containerPort"])
            for c in task_definition.get("containerDefinitions", [])
            for p in c.get("portMappings", []) or []
            if p.get("containerPort") is not None
        }
        subnets = tuple(vpc_config.get("subnets", []))
        assign = vpc_config.get("assignPublicIp") == "ENABLED"
        network.workloads.append(
            Workload(
                kind=WorkloadKind.ECS_SERVICE,
                id=service["serviceArn"],
                name=service.get("serviceName", ""),
                vpc_id=_vpc_of_subnets(network, subnets),
                group_ids=tuple(vpc_config.get("securityGroups", [])),
                subnet_ids=subnets,
                ports=tuple(sorted(ports)),
                public_ipv4="assignPublicIp=ENABLED" if assign else None,
                attachments=tuple(attachments),
                assign_public_ip=assign,
                fargate=_is_fargate(service, ecs.cluster(str(service.get("clusterArn", ""))) or {}),
                egress_needs=_egress_needs(task_definition, network.region) if task_definition else None,
                tags=tags_to_dict(service.get("tags")),
                other_ids=(service.get("serviceName", ""),),
            )
        )


def _host_ports(task_definition: Mapping[str, Any]) -> dict[int, int]:
    """Container port -> the instance port it is published on (host mode: the same; bridge: hostPort, 0 when
    ECS picks one from the ephemeral range)."""
    host_mode = task_definition.get("networkMode") == "host"
    return {
        int(p["containerPort"]): int(p["containerPort"]) if host_mode else int(p.get("hostPort") or 0)
        for c in task_definition.get("containerDefinitions", [])
        for p in c.get("portMappings", []) or []
        if p.get("containerPort") is not None
    }


def _read_host_service(account: Account, network: Network, running: EcsWorkload) -> None:
    """A bridge- or host-mode service: a workload on its container instances' interfaces, or `unplaced`."""
    service, task_definition = running.service, running.task_definition
    mode = str(task_definition.get("networkMode") or "bridge")
    cluster_arn = str(service.get("clusterArn", ""))
    hosts, how = _container_hosts(account, cluster_arn, running.cluster_name)
    if not hosts:
        network.unplaced[str(service["serviceArn"])] = (
            f"{running.label} runs in {mode} mode on the instances of cluster {running.cluster_name}, and none "
            "was found (no registered container instance, capacity-provider group, or instance whose user "
            "data names the cluster)"
        )
        return
    ports = _host_ports(task_definition)
    subnets = tuple(dict.fromkeys(str(h["SubnetId"]) for h in hosts if h.get("SubnetId")))
    public = next((str(h["PublicIpAddress"]) for h in hosts if h.get("PublicIpAddress")), None)
    names = tuple(str(h["InstanceId"]) for h in hosts)
    network.workloads.append(
        Workload(
            kind=WorkloadKind.ECS_SERVICE,
            id=service["serviceArn"],
            name=service.get("serviceName", ""),
            vpc_id=str(hosts[0].get("VpcId") or _vpc_of_subnets(network, subnets)),
            group_ids=tuple(sorted({str(g["GroupId"]) for h in hosts for g in h.get("SecurityGroups", [])})),
            subnet_ids=subnets,
            ports=tuple(sorted(p for p in ports.values() if p)),
            public_ipv4=f"public IP {public} of its container instance" if public else None,
            attachments=tuple(_attachments(network, service, ports)),
            tags=tags_to_dict(service.get("tags")),
            other_ids=(service.get("serviceName", ""),),
            network_mode=mode,
            hosts=f"{', '.join(names)} ({how})",
            dynamic_ports=DYNAMIC_HOST_PORTS if any(p == 0 for p in ports.values()) else None,
        )
    )


def _container_hosts(account: Account, cluster_arn: str, cluster_name: str) -> tuple[list[Mapping[str, Any]], str]:
    """The running EC2 instances that carry a cluster's tasks, and how they were found."""
    running = {
        str(i["InstanceId"]): i
        for i in account.ec2.instances()
        if i.get("State", {}).get("Name") not in ("terminated", "shutting-down")
    }
    registered = _registered_instances(account, cluster_arn)
    if registered:
        return [running[i] for i in registered if i in running], "registered container instances"
    groups = _capacity_provider_groups(account, account.ecs.cluster(cluster_arn) or {})
    in_groups = [i for i in running.values() if tags_to_dict(i.get("Tags")).get("aws:autoscaling:groupName") in groups]
    if in_groups:
        return in_groups, f"instances of capacity-provider group {', '.join(sorted(groups))}"
    named = [i for i in running.values() if _user_data_names(account, str(i["InstanceId"]), cluster_name)]
    return named, f"instances whose user data sets ECS_CLUSTER={cluster_name}"


def _registered_instances(account: Account, cluster_arn: str) -> tuple[str, ...]:
    def read() -> tuple[str, ...]:
        client = account.ecs.client()
        arns = client.list_container_instances(cluster=cluster_arn).get("containerInstanceArns", [])
        if not arns:
            return ()
        described = client.describe_container_instances(cluster=cluster_arn, containerInstances=arns[:100])
        return tuple(str(c["ec2InstanceId"]) for c in described.get("containerInstances", []) if c.get("ec2InstanceId"))

    return account.ecs.read(("container instances", cluster_arn), read)


def _capacity_provider_groups(account: Account, cluster: Mapping[str, Any]) -> set[str]:
    """Names of the Auto Scaling groups behind the cluster's capacity providers."""
    names = [str(n) for n in cluster.get("capacityProviders") or [] if not str(n).startswith("FARGATE")]
    if not names:
        return set()

    def read() -> tuple[Mapping[str, Any], ...]:
        return tuple(account.ecs.client().describe_capacity_providers(capacityProviders=names)["capacityProviders"])

    providers = account.ecs.read(("capacity providers", tuple(names)), read)
    arns = [str((p.get("autoScalingGroupProvider") or {}).get("autoScalingGroupArn", "")) for p in providers]
    return {arn.split("autoScalingGroupName/", 1)[1] for arn in arns if "autoScalingGroupName/" in arn}


def _user_data_names(account: Account, instance_id: str, cluster_name: str) -> bool:
    """Whether the instance's user data joins it to the cluster (`ECS_CLUSTER=name` in /etc/ecs/ecs.config)."""

    def read() -> str:
        answer = account.ec2.client().describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        try:
            return base64.b64decode((answer.get("UserData") or {}).get("Value") or "").decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return ""

    return f"ECS_CLUSTER={cluster_name}" in account.ec2.read(("user data", instance_id), read)


_ENGINE_FAMILY_PORTS = {"POSTGRESQL": 5432, "MYSQL": 3306, "SQLSERVER": 1433}


def _read_rds(rds: RdsReader, network: Network) -> None:
    subnet_groups = {g["DBSubnetGroupName"]: g for g in rds.subnet_groups()}

    def group_subnets(name: str | None) -> tuple[str, ...]:
        group = subnet_groups.get(name or "", {})
        return tuple(s["SubnetIdentifier"] for s in group.get("Subnets", []))

    members_public: dict[str, list[bool]] = {}
    for raw in (instance.raw for instance in rds.instances()):
        if raw.get("DBInstanceStatus") == "deleting":
            continue
        if raw.get("DBClusterIdentifier"):
            # Aurora members share the cluster's security groups and subnets; only their public flag differs.
            members_public.setdefault(raw["DBClusterIdentifier"], []).append(bool(raw.get("PubliclyAccessible")))
            continue
        group = raw.get("DBSubnetGroup") or {}
        subnets = tuple(s["SubnetIdentifier"] for s in group.get("Subnets", [])) or group_subnets(
            group.get("DBSubnetGroupName")
        )
        port = (raw.get("Endpoint") or {}).get("Port") or raw.get("DbInstancePort")
        network.workloads.append(
            Workload(
                kind=WorkloadKind.DB_INSTANCE,
                id=raw.get("DBInstanceArn", raw["DBInstanceIdentifier"]),
                name=raw["DBInstanceIdentifier"],
                vpc_id=group.get("VpcId") or _vpc_of_subnets(network, subnets),
                group_ids=tuple(g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", [])),
                subnet_ids=subnets,
                ports=(int(port),) if port else (),
                public_ipv4="PubliclyAccessible=true" if raw.get("PubliclyAccessible") else None,
                subtype=str(raw.get("Engine", "")),
                subnet_group=group.get("DBSubnetGroupName"),
                tags=tags_to_dict(raw.get("TagList")),
                other_ids=(raw["DBInstanceIdentifier"],),
            )
        )

    for raw in rds.clusters():
        name = raw["DBClusterIdentifier"]
        group_name = raw.get("DBSubnetGroup")
        subnets = group_subnets(group_name if isinstance(group_name, str) else None)
        public = bool(raw.get("PubliclyAccessible")) or any(members_public.get(name, []))
        network.workloads.append(
            Workload(
                kind=WorkloadKind.DB_CLUSTER,
                id=raw.get("DBClusterArn", name),
                name=name,
                vpc_id=_vpc_of_subnets(network, subnets, subnet_groups.get(str(group_name), {}).get("VpcId", "")),
                group_ids=tuple(g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", [])),
                subnet_ids=subnets,
                ports=(int(raw["Port"]),) if raw.get("Port") else (),
                public_ipv4="PubliclyAccessible=true" if public else None,
                subtype=str(raw.get("Engine", "")),
                subnet_group=group_name if isinstance(group_name, str) else None,
                tags=tags_to_dict(raw.get("TagList")),
                other_ids=(name,),
            )
        )

    for raw in rds.proxy_records():
        port = _ENGINE_FAMILY_PORTS.get(str(raw.get("EngineFamily", "")).upper())
        subnets = tuple(raw.get("VpcSubnetIds", []))
        network.workloads.append(
            Workload(
                kind=WorkloadKind.DB_PROXY,
                id=raw.get("DBProxyArn", raw["DBProxyName"]),
                name=raw["DBProxyName"],
                vpc_id=raw.get("VpcId") or _vpc_of_subnets(network, subnets),
                group_ids=tuple(raw.get("VpcSecurityGroupIds", [])),
                subnet_ids=subnets,
                ports=(port,) if port else (),
                other_ids=(raw["DBProxyName"],),
            )
        )


_CACHE_PORTS = {"redis": 6379, "valkey": 6379, "memcached": 11211}


def _read_elasticache(elasticache: ElastiCacheReader, network: Network) -> None:
    clusters = elasticache.cache_clusters()
    subnet_groups = {
        g["CacheSubnetGroupName"]: tuple(s["SubnetIdentifier"] for s in g.get("Subnets", []))
        for g in elasticache.subnet_groups()
    }
    by_id = {c["CacheClusterId"]: c for c in clusters}

    def cache_workload(name: str, arn: str, members: list[Mapping[str, Any]], port: int | None) -> Workload:
        first: Mapping[str, Any] = members[0] if members else {}
        engine = str(first.get("Engine", "redis"))
        group_ids = {g["SecurityGroupId"] for m in members for g in m.get("SecurityGroups", []) or []}
        subnets = subnet_groups.get(str(first.get("CacheSubnetGroupName", "")), ())
        return Workload(
            kind=WorkloadKind.CACHE,
            id=arn,
            name=name,
            vpc_id=_vpc_of_subnets(network, subnets),
            group_ids=tuple(sorted(group_ids)),
            subnet_ids=subnets,
            ports=(port or _CACHE_PORTS.get(engine, 6379),),
            subtype=engine,
            subnet_group=first.get("CacheSubnetGroupName"),
            other_ids=(name,),
        )

    grouped: set[str] = set()
    for raw in elasticache.replication_groups():
        if raw.get("Status") == "deleting":
            continue
        members = [by_id[m] for m in raw.get("MemberClusters", []) if m in by_id]
        grouped.update(raw.get("MemberClusters", []))
        endpoint = (
            raw.get("ConfigurationEndpoint")
            or next((g.get("PrimaryEndpoint") for g in raw.get("NodeGroups", []) if g.get("PrimaryEndpoint")), None)
            or {}
        )
        network.workloads.append(
            cache_workload(
                raw["ReplicationGroupId"], raw.get("ARN", raw["ReplicationGroupId"]), members, endpoint.get("Port")
            )
        )
    for raw in clusters:
        if raw["CacheClusterId"] in grouped or raw.get("ReplicationGroupId"):
            continue  # a member: the replication group is the workload
        if raw.get("CacheClusterStatus") == "deleting":
            continue
        endpoint = (
            raw.get("ConfigurationEndpoint")
            or next((n.get("Endpoint") for n in raw.get("CacheNodes", []) or [] if n.get("Endpoint")), None)
            or {}
        )
        network.workloads.append(
            cache_workload(raw["CacheClusterId"], raw.get("ARN", raw["CacheClusterId"]), [raw], endpoint.get("Port"))
        )


def _read_lambda(account: Account, network: Network) -> None:
    for raw in account.lambda_.functions():
        config = raw.get("VpcConfig") or {}
        subnets = tuple(config.get("SubnetIds") or ())
        if not subnets:
            continue  # not in a VPC: nothing in the network model can reach or block it
        network.workloads.append(
            Workload(
                kind=WorkloadKind.LAMBDA,
                id=raw["FunctionArn"],
                name=raw["FunctionName"],
                # Read the VPC from the subnets: moto reports a placeholder VpcId.
                vpc_id=_vpc_of_subnets(network, subnets, config.get("VpcId", "")),
                group_ids=tuple(config.get("SecurityGroupIds") or ()),
                subnet_ids=subnets,
                other_ids=(raw["FunctionName"],),
            )
        )


def _read_instances(account: Account, network: Network) -> None:
    for raw in account.ec2.instances():
        if raw.get("State", {}).get("Name") in ("terminated", "shutting-down"):
            continue
        interfaces = raw.get("NetworkInterfaces", [])
        # Instances launched with explicit interfaces list their groups only on the interfaces.
        groups = {g["GroupId"] for g in raw.get("SecurityGroups", [])}
        groups |= {g["GroupId"] for i in interfaces for g in i.get("Groups", [])}
        subnets = [raw["SubnetId"]] if raw.get("SubnetId") else []
        subnets += [i["SubnetId"] for i in interfaces if i.get("SubnetId") and i["SubnetId"] not in subnets]
        public_ip = raw.get("PublicIpAddress") or next(
            (
                (i.get("Association") or {}).get("PublicIp")
                for i in interfaces
                if (i.get("Association") or {}).get("PublicIp")
            ),
            None,
        )
        ipv6 = next((a["Ipv6Address"] for i in interfaces for a in i.get("Ipv6Addresses", [])), None)
        tags = tags_to_dict(raw.get("Tags"))
        name = tags.get("Name")
        network.workloads.append(
            Workload(
                kind=WorkloadKind.INSTANCE,
                id=raw["InstanceId"],
                name=f"{raw['InstanceId']} ({name})" if name else raw["InstanceId"],
                vpc_id=raw.get("VpcId") or _vpc_of_subnets(network, subnets),
                group_ids=tuple(sorted(groups)),
                subnet_ids=tuple(subnets),
                public_ipv4=f"public IP {public_ip}" if public_ip else None,
                public_ipv6=f"IPv6 {ipv6}" if ipv6 else None,
                tags=tags,
            )
        )
