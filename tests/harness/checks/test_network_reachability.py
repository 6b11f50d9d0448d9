"""The reachability graph's rules on hand-built networks, and the model read back from the emulator.

Most tests build `Network` dataclasses directly (no emulator, milliseconds each) so that each rule can
be switched off alone: the security group rule, the public address, the internet gateway route, each
direction of the NACL, the source's egress. One test reads a network built in moto to prove the
model parses what AWS returns (groups only on an instance's interfaces, Aurora members, replication
groups, NLBs without security groups, Lambda's placeholder VPC id, task definition needs).
"""

from __future__ import annotations

import io
import ipaddress
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from network_builders import (
    AZS,
    ecs_service,
    instance,
    internet_gateway,
    load_balancer,
    nat_gateway,
    redis,
    route_table,
    security_group,
    subnet,
    tcp,
    vpc,
    vpc_endpoint,
)

from stackprobe.aws.account import Account
from stackprobe.aws.clients import AwsClients
from stackprobe.backends.base import AwsBackend
from stackprobe.network.model import (
    ALL,
    TCP,
    EgressNeeds,
    IpNetwork,
    NaclEntry,
    Network,
    NetworkAcl,
    PortRange,
    PrefixList,
    Route,
    RouteTable,
    RouteTarget,
    SecurityGroup,
    Subnet,
    Vpc,
    VpcEndpoint,
    Workload,
    WorkloadKind,
    merge_ranges,
    parse_permissions,
    read_network,
    subtract_range,
)
from stackprobe.network.reachability import Graph, Source

pytestmark = pytest.mark.harness

WORLD = "0.0.0.0/0"
ALLOW_ALL = (NaclEntry(100, False, ALL, None, WORLD, True), NaclEntry(100, True, ALL, None, WORLD, True))


# ---------------------------------------------------------------------------------------------------
# A tiny hand-built network: public subnet-pub (igw-1), app subnet-app (nat-1), data subnet-data (none)
# ---------------------------------------------------------------------------------------------------


def group(
    group_id: str, name: str, ingress: Sequence[dict[str, Any]] = (), egress: Sequence[dict[str, Any]] = ()
) -> SecurityGroup:
    return SecurityGroup(
        group_id,
        name,
        "vpc-1",
        tuple(parse_permissions(group_id, ingress, egress=False)),
        tuple(parse_permissions(group_id, egress, egress=True)),
    )


def entry(
    number: int, egress: bool, allow: bool, ports: tuple[int, int] | None = None, cidr: str = WORLD, protocol: str = TCP
) -> NaclEntry:
    return NaclEntry(number, egress, protocol, PortRange(*ports) if ports else None, cidr, allow)


def build(
    groups: Sequence[SecurityGroup],
    workloads: Sequence[Workload],
    *,
    acls: Mapping[str, Sequence[NaclEntry]] | None = None,
    public_route: RouteTarget = RouteTarget.INTERNET_GATEWAY,
    extra_routes: Sequence[Route] = (),
    ipv6: bool = False,
) -> Graph:
    """The network; `acls` maps a subnet id to its NACL entries (default: allow all)."""
    acls = acls or {}
    local = Route("10.0.0.0/16", RouteTarget.LOCAL, "local")
    world_target = "igw-1" if public_route is RouteTarget.INTERNET_GATEWAY else "nat-x"
    public_routes = [local, Route(WORLD, public_route, world_target), *extra_routes]
    if ipv6:
        public_routes.append(Route("::/0", RouteTarget.INTERNET_GATEWAY, "igw-1"))
    tables = {
        "rtb-pub": RouteTable("rtb-pub", "vpc-1", False, tuple(public_routes), ("subnet-pub",)),
        "rtb-app": RouteTable(
            "rtb-app",
            "vpc-1",
            False,
            (local, Route(WORLD, RouteTarget.NAT_GATEWAY, "nat-1"), *extra_routes),
            ("subnet-app",),
        ),
        "rtb-data": RouteTable("rtb-data", "vpc-1", True, (local, *extra_routes), ("subnet-data",)),
    }
    subnets = {
        "subnet-pub": Subnet("subnet-pub", "vpc-1", "10.0.0.0/24", (), AZS[0], "rtb-pub", "acl-pub"),
        "subnet-app": Subnet("subnet-app", "vpc-1", "10.0.16.0/24", (), AZS[0], "rtb-app", "acl-app"),
        "subnet-data": Subnet("subnet-data", "vpc-1", "10.0.64.0/24", (), AZS[0], None, "acl-data"),
    }
    nacls = {
        f"acl-{name[7:]}": NetworkAcl(f"acl-{name[7:]}", "vpc-1", False, tuple(acls.get(name, ALLOW_ALL)), (name,))
        for name in subnets
    }
    network = Network(
        region="eu-west-1",
        vpcs={"vpc-1": Vpc("vpc-1", ("10.0.0.0/16",), False)},
        subnets=subnets,
        groups={g.id: g for g in groups},
        route_tables=tables,
        nacls=nacls,
        workloads=list(workloads),
        prefix_lists={"pl-world": PrefixList("pl-world", "everyone", (WORLD,))},
    )
    return Graph(network)


DB_GROUP = group("sg-db", "db", ingress=[tcp(5432, cidr=WORLD)])
PUBLIC_DB = Workload(
    WorkloadKind.DB_INSTANCE,
    "arn:db",
    "main",
    "vpc-1",
    ("sg-db",),
    ("subnet-pub",),
    (5432,),
    public_ipv4="PubliclyAccessible=true",
)


# -- ports and NACL order ----------------------------------------------------------------------------


def test_port_ranges_merge_subtract_and_label() -> None:
    assert merge_ranges([PortRange(80, 80), PortRange(81, 90), PortRange(443, 443)]) == [
        PortRange(80, 90),
        PortRange(443, 443),
    ]
    assert subtract_range([PortRange(0, 65535)], PortRange(22, 22)) == [PortRange(0, 21), PortRange(23, 65535)]
    assert [PortRange(22, 22).label, PortRange(8000, 8080).label, PortRange(0, 65535).label] == [
        "22",
        "8000-8080",
        "0-65535",
    ]


def test_nacl_first_matching_rule_number_wins() -> None:
    entries = [entry(100, False, True, protocol=ALL), entry(90, False, False, (22, 22))]
    graph = build([DB_GROUP], [PUBLIC_DB], acls={"subnet-pub": entries})
    pub = graph.network.subnets["subnet-pub"]
    allowed = graph.nacl_allows(pub, egress=False, protocol=TCP, ports=PortRange(20, 25), peer=_net(WORLD))
    assert allowed == [PortRange(20, 21), PortRange(23, 25)]
    reversed_order = [entry(100, False, True, (22, 22)), entry(200, False, False, (22, 22))]
    graph = build([DB_GROUP], [PUBLIC_DB], acls={"subnet-pub": reversed_order})
    assert graph.nacl_allows(pub, egress=False, protocol=TCP, ports=PortRange(22, 22), peer=_net(WORLD)) == [
        PortRange(22, 22)
    ]


def test_nacl_entries_for_a_narrower_cidr_do_not_decide_for_the_whole_internet() -> None:
    entries = [entry(50, False, True, cidr="203.0.113.0/24", protocol=ALL), entry(100, False, False, protocol=ALL)]
    graph = build([DB_GROUP], [PUBLIC_DB], acls={"subnet-pub": entries})
    pub = graph.network.subnets["subnet-pub"]
    assert graph.nacl_allows(pub, egress=False, protocol=TCP, ports=PortRange(22, 22), peer=_net(WORLD)) == []
    assert graph.nacl_allows(pub, egress=False, protocol=TCP, ports=PortRange(22, 22), peer=_net("203.0.113.7/32")) == [
        PortRange(22, 22)
    ]


def test_a_nacl_without_entries_denies_everything() -> None:
    graph = build([DB_GROUP], [PUBLIC_DB], acls={"subnet-pub": []})
    exposure = graph.internet_exposure(PUBLIC_DB)
    assert exposure.paths == ()
    assert exposure.reason == f"acl-pub denies tcp/5432 from {WORLD}"


# -- internet exposure -------------------------------------------------------------------------------


def test_internet_path_names_every_condition() -> None:
    exposure = build([DB_GROUP], [PUBLIC_DB]).internet_exposure(PUBLIC_DB)
    assert [p.render() for p in exposure.paths] == [
        f"{WORLD} → sg-db (db):5432 [rds instance main, subnet-pub public via igw-1, PubliclyAccessible=true, "
        "acl-pub allows]"
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("no-rule", "no security group rule admits 0.0.0.0/0 or ::/0"),
        ("private-address", f"{WORLD} → sg-db (db):5432 admitted, but the rds instance has no public address"),
        (
            "nat-route",
            f"{WORLD} → sg-db (db):5432 admitted, but no subnet routes {WORLD} to an internet gateway "
            f"(subnet-pub: {WORLD} → nat-x)",
        ),
        ("nacl-in", f"acl-pub denies tcp/5432 from {WORLD}"),
        ("nacl-out", f"acl-pub denies the replies (ephemeral ports) to {WORLD}"),
    ],
)
def test_each_internet_condition_is_required(change: str, reason: str) -> None:
    groups, workload = [DB_GROUP], PUBLIC_DB
    kwargs: dict[str, Any] = {}
    if change == "no-rule":
        groups = [group("sg-db", "db", ingress=[tcp(5432, cidr="10.0.0.0/16")])]
    elif change == "private-address":
        workload = Workload(**{**vars(PUBLIC_DB), "public_ipv4": None})
    elif change == "nat-route":
        kwargs["public_route"] = RouteTarget.NAT_GATEWAY
    elif change == "nacl-in":
        kwargs["acls"] = {"subnet-pub": [entry(100, False, True, (80, 443)), entry(100, True, True, protocol=ALL)]}
    else:
        kwargs["acls"] = {"subnet-pub": [entry(100, False, True, protocol=ALL), entry(100, True, True, (443, 443))]}
    exposure = build(groups, [workload], **kwargs).internet_exposure(workload)
    assert (exposure.paths, exposure.reason) == ((), reason)


def test_all_traffic_rule_is_clipped_by_the_nacl() -> None:
    open_group = group("sg-box", "box", ingress=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": WORLD}]}])
    box = Workload(
        WorkloadKind.INSTANCE, "i-1", "i-1", "vpc-1", ("sg-box",), ("subnet-pub",), public_ipv4="public IP 54.0.0.1"
    )
    assert [p.port for p in build([open_group], [box]).internet_exposure(box).paths] == ["all"]
    acls = {"subnet-pub": [entry(100, False, True, (1024, 65535)), entry(100, True, True, protocol=ALL)]}
    (path,) = build([open_group], [box], acls=acls).internet_exposure(box).paths
    assert (path.port, path.ranges) == ("1024-65535", (PortRange(1024, 65535),))


def test_ipv6_needs_an_ipv6_address_rule_and_route() -> None:
    ssh6 = group("sg-box", "box", ingress=[tcp(22, ipv6="::/0")])
    box = Workload(
        WorkloadKind.INSTANCE, "i-1", "i-1", "vpc-1", ("sg-box",), ("subnet-pub",), public_ipv6="IPv6 2001:db8::1"
    )
    acls = {
        "subnet-pub": [
            *ALLOW_ALL,
            NaclEntry(101, False, ALL, None, "::/0", True),
            NaclEntry(101, True, ALL, None, "::/0", True),
        ]
    }
    (path,) = build([ssh6], [box], ipv6=True, acls=acls).internet_exposure(box).paths
    assert path.render() == (
        "::/0 → sg-box (box):22 [ec2 instance i-1, subnet-pub public via igw-1, IPv6 2001:db8::1, acl-pub allows]"
    )
    assert build([ssh6], [box], ipv6=False, acls=acls).internet_exposure(box).paths == ()


def test_load_balancers_are_reached_only_on_listeners() -> None:
    lb_group = group("sg-lb", "lb", ingress=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": WORLD}]}])
    alb = Workload(
        WorkloadKind.LOAD_BALANCER,
        "arn:lb",
        "web",
        "vpc-1",
        ("sg-lb",),
        ("subnet-pub",),
        (443,),
        public_ipv4="internet-facing",
        subtype="application",
    )
    (path,) = build([lb_group], [alb]).internet_exposure(alb).paths
    assert path.render() == (
        f"{WORLD} → sg-lb (lb):443 [alb web, subnet-pub public via igw-1, internet-facing, acl-pub allows]"
    )
    nlb = Workload(
        WorkloadKind.LOAD_BALANCER,
        "arn:nlb",
        "tcp",
        "vpc-1",
        (),
        ("subnet-pub",),
        (5432,),
        public_ipv4="internet-facing",
        subtype="network",
    )
    (path,) = build([], [nlb]).internet_exposure(nlb).paths
    assert (path.target, path.port) == ("nlb tcp (no security group)", "5432")


def test_prefix_list_rules_are_resolved_to_their_entries() -> None:
    via_list = group("sg-db", "db", ingress=[tcp(5432, prefix_list="pl-world")])
    graph = build([via_list], [PUBLIC_DB])
    (path,) = graph.internet_exposure(PUBLIC_DB).paths
    assert path.source == WORLD
    assert [a.path.render() for a in graph.admissions(PUBLIC_DB)] == [
        "pl-world (everyone) → sg-db (db):5432 [rds instance main]"
    ]


# -- point to point ----------------------------------------------------------------------------------


SERVICE = Workload(WorkloadKind.ECS_SERVICE, "arn:svc", "api", "vpc-1", ("sg-svc",), ("subnet-app",), (8080,))
PRIVATE_DB = Workload(WorkloadKind.DB_INSTANCE, "arn:db", "main", "vpc-1", ("sg-db",), ("subnet-data",), (5432,))


def _groups(
    service_egress: Sequence[dict[str, Any]] = (tcp(5432, group="sg-db"),),
    db_ingress: Sequence[dict[str, Any]] = (tcp(5432, group="sg-svc"),),
) -> list[SecurityGroup]:
    return [group("sg-svc", "svc", egress=service_egress), group("sg-db", "db", ingress=db_ingress)]


def test_group_reference_path_needs_the_source_egress_too() -> None:
    graph = build(_groups(), [SERVICE, PRIVATE_DB])
    reach = graph.reach(Source.of_workload(SERVICE), PRIVATE_DB, 5432)
    assert reach.reachable
    assert (
        reach.path.render() == "sg-svc (svc) → sg-db (db):5432 [rds instance main, sg-db admits sg-svc (svc), "
        "acl-app and acl-data allow]"
    )
    blocked = build(_groups(service_egress=[tcp(443, cidr=WORLD)]), [SERVICE, PRIVATE_DB])
    reach = blocked.reach(Source.of_workload(SERVICE), PRIVATE_DB, 5432)
    assert reach.blockers == ("no egress rule of sg-svc (svc) allows 5432 to rds instance main",)
    assert not build(_groups(), [SERVICE, PRIVATE_DB]).reach(Source.of_workload(SERVICE), PRIVATE_DB, 3306).reachable


def test_nacls_between_subnets_apply_both_ways_but_not_within_a_subnet() -> None:
    deny_all: list[NaclEntry] = []
    graph = build(_groups(), [SERVICE, PRIVATE_DB], acls={"subnet-data": deny_all})
    reach = graph.reach(Source.of_workload(SERVICE), PRIVATE_DB, 5432)
    assert reach.blockers == ("acl-data denies tcp/5432 from 10.0.16.0/24",)
    neighbour = Workload(**{**vars(SERVICE), "subnet_ids": ("subnet-data",)})
    graph = build(_groups(), [neighbour, PRIVATE_DB], acls={"subnet-data": deny_all})
    reach = graph.reach(Source.of_workload(neighbour), PRIVATE_DB, 5432)
    assert reach.reachable and "same subnet" in reach.path.via


def test_cidr_sources_inside_outside_and_beyond_the_vpc() -> None:
    groups = _groups(db_ingress=[tcp(5432, cidr="10.0.0.0/8")])
    graph = build(groups, [PRIVATE_DB])
    inside = graph.reach(Source.of_cidr("10.0.0.0/16"), PRIVATE_DB, 5432)
    assert inside.reachable
    assert inside.path.render() == (
        "10.0.0.0/16 → sg-db (db):5432 [rds instance main, sg-db admits 10.0.0.0/8, acl-data allow]"
    )
    assert graph.reach(Source.of_cidr("10.99.0.0/16"), PRIVATE_DB, 5432).blockers == (
        "subnet-data has no route back to 10.99.0.0/16",
    )
    peered = build(groups, [PRIVATE_DB], extra_routes=[Route("10.99.0.0/16", RouteTarget.PEERING, "pcx-1")])
    reach = peered.reach(Source.of_cidr("10.99.0.0/16"), PRIVATE_DB, 5432)
    assert reach.reachable and "subnet-data routes 10.99.0.0/16 → pcx-1" in reach.path.via
    world = build(_groups(db_ingress=[tcp(5432, cidr=WORLD)]), [PRIVATE_DB])
    assert world.reach(Source.internet(), PRIVATE_DB, 5432).blockers == (
        "subnet-data does not route 0.0.0.0/0 to an internet gateway (no route)",
    )


# -- image pulls -------------------------------------------------------------------------------------


def test_interface_endpoints_need_private_dns_and_https_admitted() -> None:
    endpoint_group = group("sg-vpce", "vpce", ingress=[tcp(443, group="sg-svc")])
    graph = build([*_groups(service_egress=[tcp(443, cidr=WORLD)]), endpoint_group], [])
    service = Workload(
        **{
            **vars(SERVICE),
            "subnet_ids": ("subnet-data",),
            "fargate": True,
            "egress_needs": EgressNeeds(("x.dkr.ecr.eu-west-1.amazonaws.com/a:1",), (), ("ecr.dkr",)),
        }
    )
    endpoint = VpcEndpoint("vpce-1", "vpc-1", "ecr.dkr", "Interface", True, False, (), ("subnet-app",), ("sg-vpce",))
    graph.network.endpoints.append(endpoint)
    (route,) = graph.image_pull_egress(service)
    assert route.render() == (
        "subnet-data: no 0.0.0.0/0 route (no NAT gateway); VPC endpoints ecr.dkr vpce-1: "
        "private DNS is disabled, so the default API name does not resolve to it"
    )
    graph.network.endpoints[0] = VpcEndpoint(**{**vars(endpoint), "private_dns": True})
    (route,) = graph.image_pull_egress(service)
    assert (route.ok, route.detail) == (True, "VPC endpoints ecr.dkr (vpce-1)")


def _net(cidr: str) -> IpNetwork:
    return ipaddress.ip_network(cidr)


# ---------------------------------------------------------------------------------------------------
# The model, read from the emulator
# ---------------------------------------------------------------------------------------------------


def test_read_network_parses_what_aws_returns(clean_backend: AwsBackend) -> None:
    backend = clean_backend
    vpc_id = vpc(backend)
    igw = internet_gateway(backend, vpc_id)
    public_table = route_table(backend, vpc_id, igw=igw)
    public = [subnet(backend, vpc_id, f"10.0.{i}.0/24", az, public_table) for i, az in enumerate(AZS)]
    nat = nat_gateway(backend, public[0])
    private_table = route_table(backend, vpc_id, nat=nat)
    private = [subnet(backend, vpc_id, f"10.0.{16 + i}.0/24", az, private_table) for i, az in enumerate(AZS)]
    s3 = vpc_endpoint(backend, vpc_id, "s3", route_tables=[private_table])
    app_sg = security_group(backend, vpc_id, "app", egress=[tcp(443, cidr=WORLD)])
    box = instance(backend, public[0], [app_sg], public_ip=True, name="box")
    nlb_arn, _ = load_balancer(backend, vpc_id, public, [], name="tcp", listeners=(5432,), lb_type="network")
    cache_arn = redis(backend, private, [app_sg])

    ecs = backend.client("ecs")
    ecs.create_cluster(clusterName="main")
    ecs.register_task_definition(
        family="worker",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "w",
                "image": "ghcr.io/acme/worker:1",
                "secrets": [{"name": "DB", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"}],
            }
        ],
    )
    ecs.create_service(
        cluster="main",
        serviceName="worker",
        taskDefinition="worker",
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": private, "securityGroups": [app_sg]}},
    )
    ec2_service = ecs_service(backend, private, [app_sg], name="on-ec2", launch_type="EC2")

    rds = backend.client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName="aurora", DBSubnetGroupDescription="a", SubnetIds=private)
    rds.create_db_cluster(
        DBClusterIdentifier="aurora",
        Engine="aurora-postgresql",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        DBSubnetGroupName="aurora",
        VpcSecurityGroupIds=[app_sg],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="aurora-1",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
        DBClusterIdentifier="aurora",
    )
    rds.create_db_proxy(
        DBProxyName="proxy",
        EngineFamily="POSTGRESQL",
        RoleArn="arn:aws:iam::123456789012:role/p",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"}],
        VpcSubnetIds=private,
        VpcSecurityGroupIds=[app_sg],
    )

    role = backend.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return event\n")
    backend.client("lambda").create_function(
        FunctionName="fn",
        Runtime="python3.11",
        Role=role,
        Handler="fn.handler",
        Code={"ZipFile": code.getvalue()},
        VpcConfig={"SubnetIds": private, "SecurityGroupIds": [app_sg]},
    )

    network = read_network(Account(AwsClients(backend)))
    by_name = {(w.kind, w.name): w for w in network.workloads if w.vpc_id == vpc_id}

    # Routing: igw / nat / gateway endpoint (prefix list destination) targets, associations.
    table = network.route_table(network.subnets[private[0]])
    assert table is not None and table.id == private_table
    assert {(r.target, r.target_id) for r in table.routes} >= {
        (RouteTarget.LOCAL, "local"),
        (RouteTarget.NAT_GATEWAY, nat),
        (RouteTarget.VPC_ENDPOINT, s3),
    }
    assert network.nat_gateways[nat].subnet_id == public[0] and network.nat_gateways[nat].public
    # Groups that only the instance's network interface lists still belong to the instance.
    box_workload = by_name[(WorkloadKind.INSTANCE, f"{box} (box)")]
    assert box_workload.group_ids == (app_sg,) and box_workload.public_ipv4 is not None
    assert box_workload.public_ipv4.startswith("public IP ")
    nlb = by_name[(WorkloadKind.LOAD_BALANCER, "tcp")]
    assert (nlb.group_ids, nlb.ports, nlb.subtype, nlb.id) == ((), (5432,), "network", nlb_arn)
    cache = by_name[(WorkloadKind.CACHE, "cache")]
    assert (cache.id, cache.group_ids, cache.ports, set(cache.subnet_ids)) == (
        cache_arn,
        (app_sg,),
        (6379,),
        set(private),
    )
    worker = by_name[(WorkloadKind.ECS_SERVICE, "worker")]
    assert worker.fargate and worker.egress_needs == EgressNeeds(
        ("ghcr.io/acme/worker:1",), ("ghcr.io/acme/worker:1",), ("ecr.api", "ecr.dkr", "s3", "secretsmanager")
    )
    assert not next(w for w in network.workloads if w.id == ec2_service).fargate
    # Aurora: one cluster workload; its member instance is not a separate workload.
    kinds = {(w.kind, w.name) for w in network.workloads}
    assert (WorkloadKind.DB_CLUSTER, "aurora") in kinds and (WorkloadKind.DB_INSTANCE, "aurora-1") not in kinds
    assert by_name[(WorkloadKind.DB_CLUSTER, "aurora")].ports == (5432,)
    assert by_name[(WorkloadKind.DB_PROXY, "proxy")].ports == (5432,)
    # moto reports a placeholder VPC id for Lambda; the model reads it from the subnets.
    assert by_name[(WorkloadKind.LAMBDA, "fn")].vpc_id == vpc_id
