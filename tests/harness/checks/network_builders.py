"""Builders for network check tests: a reference three-tier network, and the pieces to break it.

The reference design is what `terraform/modules/{network,edge,service,database}` deploy, built with
boto3: two AZs; public subnets (ALB, NAT gateways) routed to an internet gateway; private app subnets
routed to the NAT; private data subnets with no internet route; an ALB security group open on 80/443
with egress only to the service; a service group admitting the ALB group on 8080 with egress on 443
and to the database; a database group admitting the service group on 5432; the default group emptied.
Every network check must pass on it. Tests then change one thing and assert the exact evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stackprobe.backends.base import AwsBackend

AZS = ("eu-west-1a", "eu-west-1b")
VPC_CIDR = "10.0.0.0/16"
ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0.0"
CONTAINER_PORT = 8080
DB_PORT = 5432


def tcp(
    port: int,
    to_port: int | None = None,
    *,
    cidr: str | None = None,
    group: str | None = None,
    ipv6: str | None = None,
    prefix_list: str | None = None,
) -> dict[str, Any]:
    """One IpPermission for TCP `port` (or `port`-`to_port`) from/to a CIDR, group, or prefix list."""
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": to_port or port}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr}]
    if ipv6:
        permission["Ipv6Ranges"] = [{"CidrIpv6": ipv6}]
    if group:
        permission["UserIdGroupPairs"] = [{"GroupId": group}]
    if prefix_list:
        permission["PrefixListIds"] = [{"PrefixListId": prefix_list}]
    return permission


def all_traffic(*, cidr: str | None = None, group: str | None = None) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": "-1"}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr}]
    if group:
        permission["UserIdGroupPairs"] = [{"GroupId": group}]
    return permission


def security_group(
    backend: AwsBackend,
    vpc_id: str,
    name: str,
    ingress: Sequence[dict[str, Any]] = (),
    egress: Sequence[dict[str, Any]] = (),
) -> str:
    """A group with exactly these rules (the implicit allow-all egress is removed, as Terraform does)."""
    ec2 = backend.client("ec2")
    group_id: str = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[all_traffic(cidr="0.0.0.0/0")])
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(ingress))
    if egress:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=list(egress))
    return group_id


def allow_ingress(backend: AwsBackend, group_id: str, *permissions: dict[str, Any]) -> None:
    backend.client("ec2").authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(permissions))


def allow_egress(backend: AwsBackend, group_id: str, *permissions: dict[str, Any]) -> None:
    backend.client("ec2").authorize_security_group_egress(GroupId=group_id, IpPermissions=list(permissions))


def default_group(backend: AwsBackend, vpc_id: str) -> str:
    groups = backend.client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )
    return str(groups["SecurityGroups"][0]["GroupId"])


def vpc(backend: AwsBackend, cidr: str = VPC_CIDR, lock_default_group: bool = True) -> str:
    ec2 = backend.client("ec2")
    vpc_id: str = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if lock_default_group:
        ec2.revoke_security_group_egress(
            GroupId=default_group(backend, vpc_id), IpPermissions=[all_traffic(cidr="0.0.0.0/0")]
        )
    return vpc_id


def subnet(backend: AwsBackend, vpc_id: str, cidr: str, az: str, route_table: str | None = None) -> str:
    ec2 = backend.client("ec2")
    subnet_id: str = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
    if route_table:
        ec2.associate_route_table(RouteTableId=route_table, SubnetId=subnet_id)
    return subnet_id


def route_table(backend: AwsBackend, vpc_id: str, *, igw: str | None = None, nat: str | None = None) -> str:
    ec2 = backend.client("ec2")
    table_id: str = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    if igw:
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    if nat:
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    return table_id


def internet_gateway(backend: AwsBackend, vpc_id: str) -> str:
    ec2 = backend.client("ec2")
    igw: str = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    return igw


def flow_log(backend: AwsBackend, resource_id: str, kind: str = "VPC") -> str:
    """A flow log of all traffic from a VPC (or a subnet) to a CloudWatch log group named after it."""
    backend.client("logs").create_log_group(logGroupName=f"/flow/{resource_id}")
    return str(
        backend.client("ec2").create_flow_logs(
            ResourceIds=[resource_id],
            ResourceType=kind,
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=f"/flow/{resource_id}",
            DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs",
        )["FlowLogIds"][0]
    )


def nat_gateway(backend: AwsBackend, subnet_id: str) -> str:
    ec2 = backend.client("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return str(ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation)["NatGateway"]["NatGatewayId"])


def network_acl(backend: AwsBackend, vpc_id: str, subnet_id: str, entries: Sequence[dict[str, Any]]) -> str:
    """A NACL with `entries` (RuleNumber, Protocol, RuleAction, Egress, CidrBlock, PortRange) on `subnet_id`."""
    ec2 = backend.client("ec2")
    acl_id: str = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, **entry)
    acls = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    association = next(
        a["NetworkAclAssociationId"]
        for acl in acls["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == subnet_id
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)
    return acl_id


def nacl_entry(
    number: int,
    *,
    egress: bool,
    allow: bool = True,
    cidr: str = "0.0.0.0/0",
    protocol: str = "6",
    ports: tuple[int, int] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "RuleNumber": number,
        "Protocol": protocol,
        "RuleAction": "allow" if allow else "deny",
        "Egress": egress,
        "CidrBlock": cidr,
    }
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


def load_balancer(
    backend: AwsBackend,
    vpc_id: str,
    subnets: Sequence[str],
    groups: Sequence[str],
    *,
    name: str = "web",
    internal: bool = False,
    listeners: Sequence[int] = (80, 443),
    target_port: int = CONTAINER_PORT,
    lb_type: str = "application",
) -> tuple[str, str]:
    """(load balancer ARN, target group ARN): an ALB with HTTP listeners forwarding to an ip target group.

    An internet-facing one is requested as the AWS provider requests it for `internal = false`: with no
    Scheme at all (AWS's default is internet-facing; the elbv2-default-scheme patch makes moto agree), so
    every check that reads the scheme is tested on the request shape a real stack sends.
    """
    elbv2 = backend.client("elbv2")
    kwargs: dict[str, Any] = {"SecurityGroups": list(groups)} if groups else {}
    if internal:
        kwargs["Scheme"] = "internal"
    lb = elbv2.create_load_balancer(Name=name, Subnets=list(subnets), Type=lb_type, **kwargs)["LoadBalancers"][0]
    protocol = "HTTP" if lb_type == "application" else "TCP"
    tg = elbv2.create_target_group(
        Name=f"{name}-tg", Protocol=protocol, Port=target_port, VpcId=vpc_id, TargetType="ip"
    )["TargetGroups"][0]
    for port in listeners:
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol=protocol,
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )
    return str(lb["LoadBalancerArn"]), str(tg["TargetGroupArn"])


def ecs_service(
    backend: AwsBackend,
    subnets: Sequence[str],
    groups: Sequence[str],
    *,
    name: str = "api",
    target_group: str | None = None,
    assign_public_ip: bool = False,
    image: str = ECR_IMAGE,
    container_port: int = CONTAINER_PORT,
    awslogs: bool = True,
    launch_type: str = "FARGATE",
) -> str:
    ecs = backend.client("ecs")
    ecs.create_cluster(clusterName="main")  # idempotent: an existing cluster keeps its services
    container: dict[str, Any] = {"name": "app", "image": image, "portMappings": [{"containerPort": container_port}]}
    if awslogs:
        container["logConfiguration"] = {"logDriver": "awslogs", "options": {"awslogs-group": f"/ecs/{name}"}}
    ecs.register_task_definition(
        family=name,
        networkMode="awsvpc",
        requiresCompatibilities=[launch_type],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )
    extra: dict[str, Any] = {}
    if target_group:
        extra["loadBalancers"] = [
            {"targetGroupArn": target_group, "containerName": "app", "containerPort": container_port}
        ]
    service = ecs.create_service(
        cluster="main",
        serviceName=name,
        taskDefinition=name,
        desiredCount=2,
        launchType=launch_type,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(subnets),
                "securityGroups": list(groups),
                "assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
            }
        },
        **extra,
    )["service"]
    return str(service["serviceArn"])


def rds_instance(
    backend: AwsBackend,
    subnets: Sequence[str],
    groups: Sequence[str],
    *,
    name: str = "main",
    publicly_accessible: bool = False,
    subnet_group: str | None = None,
) -> str:
    rds = backend.client("rds")
    group_name = subnet_group or f"{name}-subnets"
    if subnet_group is None:
        rds.create_db_subnet_group(DBSubnetGroupName=group_name, DBSubnetGroupDescription=name, SubnetIds=list(subnets))
    db = rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        DBSubnetGroupName=group_name,
        VpcSecurityGroupIds=list(groups),
        PubliclyAccessible=publicly_accessible,
        Port=DB_PORT,
    )["DBInstance"]
    return str(db["DBInstanceArn"])


def redis(backend: AwsBackend, subnets: Sequence[str], groups: Sequence[str], name: str = "cache") -> str:
    elasticache = backend.client("elasticache")
    elasticache.create_cache_subnet_group(
        CacheSubnetGroupName=f"{name}-subnets", CacheSubnetGroupDescription=name, SubnetIds=list(subnets)
    )
    group = elasticache.create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription=name,
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        CacheSubnetGroupName=f"{name}-subnets",
        SecurityGroupIds=list(groups),
    )["ReplicationGroup"]
    return str(group["ARN"])


def instance(backend: AwsBackend, subnet_id: str, groups: Sequence[str], *, public_ip: bool, name: str) -> str:
    ec2 = backend.client("ec2")
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": list(groups), "AssociatePublicIpAddress": public_ip}
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def vpc_endpoint(
    backend: AwsBackend,
    vpc_id: str,
    service: str,
    *,
    route_tables: Sequence[str] = (),
    subnets: Sequence[str] = (),
    groups: Sequence[str] = (),
    private_dns: bool = True,
) -> str:
    ec2 = backend.client("ec2")
    name = f"com.amazonaws.{backend.region}.{service}"
    if route_tables:
        created = ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName=name, VpcEndpointType="Gateway", RouteTableIds=list(route_tables)
        )
    else:
        created = ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=name,
            VpcEndpointType="Interface",
            SubnetIds=list(subnets),
            SecurityGroupIds=list(groups),
            PrivateDnsEnabled=private_dns,
        )
    return str(created["VpcEndpoint"]["VpcEndpointId"])


@dataclass
class Reference:
    """The ids of the reference network (see the module docstring)."""

    vpc_id: str
    igw: str
    public_subnets: list[str]
    app_subnets: list[str]
    data_subnets: list[str]
    public_table: str
    app_tables: list[str]
    data_table: str
    nat_gateways: list[str]
    alb_sg: str
    service_sg: str
    db_sg: str
    alb_arn: str
    target_group: str
    service_arn: str
    db_arn: str
    extra: dict[str, str] = field(default_factory=dict)  # optional parts: cache_sg, cache_arn


def reference_network(
    backend: AwsBackend, *, cidr: str = VPC_CIDR, name: str = "ref", with_cache: bool = False
) -> Reference:
    """The correct design: zero failures from every network check.

    `cidr` (a /16) and `name` let a test build several networks side by side in one account.
    """
    net = cidr.split(".")[0] + "." + cidr.split(".")[1]
    vpc_id = vpc(backend, cidr)
    flow_log(backend, vpc_id)
    igw = internet_gateway(backend, vpc_id)
    public_table = route_table(backend, vpc_id, igw=igw)
    public = [subnet(backend, vpc_id, f"{net}.{i}.0/24", az, public_table) for i, az in enumerate(AZS)]
    nats = [nat_gateway(backend, s) for s in public]
    app_tables = [route_table(backend, vpc_id, nat=nat) for nat in nats]
    app = [
        subnet(backend, vpc_id, f"{net}.{16 + i}.0/24", az, table)
        for i, (az, table) in enumerate(zip(AZS, app_tables, strict=True))
    ]
    data_table = route_table(backend, vpc_id)
    data = [subnet(backend, vpc_id, f"{net}.{64 + i}.0/24", az, data_table) for i, az in enumerate(AZS)]

    alb_sg = security_group(
        backend, vpc_id, f"{name}-alb", ingress=[tcp(80, cidr="0.0.0.0/0"), tcp(443, cidr="0.0.0.0/0")]
    )
    service_sg = security_group(backend, vpc_id, f"{name}-svc", egress=[tcp(443, cidr="0.0.0.0/0")])
    db_sg = security_group(backend, vpc_id, f"{name}-db")
    allow_ingress(backend, service_sg, tcp(CONTAINER_PORT, group=alb_sg))
    allow_egress(backend, alb_sg, tcp(CONTAINER_PORT, group=service_sg))
    allow_ingress(backend, db_sg, tcp(DB_PORT, group=service_sg))
    allow_egress(backend, service_sg, tcp(DB_PORT, group=db_sg))

    alb_arn, target_group = load_balancer(backend, vpc_id, public, [alb_sg], name=f"{name}-web")
    service_arn = ecs_service(backend, app, [service_sg], target_group=target_group, name=f"{name}-api")
    db_arn = rds_instance(backend, data, [db_sg], name=f"{name}-db")
    reference = Reference(
        vpc_id,
        igw,
        public,
        app,
        data,
        public_table,
        app_tables,
        data_table,
        nats,
        alb_sg,
        service_sg,
        db_sg,
        alb_arn,
        target_group,
        service_arn,
        db_arn,
    )
    if with_cache:
        cache_sg = security_group(backend, vpc_id, f"{name}-cache", ingress=[tcp(6379, group=service_sg)])
        allow_egress(backend, service_sg, tcp(6379, group=cache_sg))
        reference.extra["cache_sg"] = cache_sg
        reference.extra["cache_arn"] = redis(backend, data, [cache_sg], name=f"{name}-cache")
    return reference
