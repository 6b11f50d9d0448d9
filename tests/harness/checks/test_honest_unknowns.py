"""Honest unknowns and reasons: what an audit cannot read is a documented default or says so, never a verdict.

- an attribute the configuration leaves unset is judged by AWS's default, not the emulator's (moto reported
  BackupRetentionPeriod=0, "backups are off", for a stack that sets no retention: AWS keeps 1 day);
- a production-only rule left out for the environment says exactly that, and a name that is not clearly
  non-production (`challenge`) applies production rules;
- a check that ran and judged nothing always says why;
- a bridge-mode ECS service on EC2 is judged through its container instances' security groups, as an awsvpc
  service is through its own (it was "not applicable", with no reason).

Pool sizes read from a framework's documented default are in test_checks_database.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from network_builders import AZS, internet_gateway, route_table, security_group, subnet, tcp, vpc

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import by_id, run_check
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, Status, check
from stackprobe.checks.database import backup_retention, multi_az_prod
from stackprobe.terraform.plan import Plan

pytestmark = pytest.mark.harness


def _db(backend: AwsBackend, identifier: str, **settings: Any) -> dict[str, Any]:
    answer = backend.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        **settings,
    )
    return dict(answer["DBInstance"])


def _stack(
    databases: dict[str, tuple[dict[str, Any], dict[str, Any]]], **variables: str
) -> tuple[Plan, dict[str, Any]]:
    """The plan and state of aws_db_instance.NAME for each (instance, written arguments) in `databases`."""
    planned, written, state = [], [], []
    for name, (db, arguments) in databases.items():
        address = f"aws_db_instance.{name}"
        values = {"identifier": db["DBInstanceIdentifier"], **arguments}
        planned.append(
            {"address": address, "mode": "managed", "type": "aws_db_instance", "name": name, "values": values}
        )
        expressions = {key: {"constant_value": value} for key, value in values.items()}
        written.append({"address": address, "mode": "managed", "type": "aws_db_instance", "expressions": expressions})
        attributes = {"identifier": db["DBInstanceIdentifier"], "arn": db["DBInstanceArn"]}
        state.append(
            {"mode": "managed", "type": "aws_db_instance", "name": name, "instances": [{"attributes": attributes}]}
        )
    raw = {
        "planned_values": {"root_module": {"resources": planned}},
        "configuration": {"root_module": {"resources": written}},
        "variables": {key: {"value": value} for key, value in variables.items()},
    }
    return Plan(raw), {"resources": state}


@pytest.fixture
def databases(clean_backend: AwsBackend) -> dict[str, dict[str, Any]]:
    """Two instances as moto reports them after a stack that sets no retention on one and 0 on the other."""
    return {
        "unset": _db(clean_backend, "unset-db", BackupRetentionPeriod=0),  # what moto answered for an unset one
        "off": _db(clean_backend, "off-db", BackupRetentionPeriod=0),
    }


def _context(backend: AwsBackend, found: dict[str, dict[str, Any]], **variables: str) -> CheckContext:
    plan, state = _stack(
        {"unset": (found["unset"], {}), "off": (found["off"], {"backup_retention_period": 0})}, **variables
    )
    return CheckContext(backend=backend, plan=plan, state=state)


def _finding(result: Any, identifier: str) -> Finding:
    (found,) = [f for f in result.findings if f.evidence.startswith(f"{identifier}: ")]
    return found


def test_an_unset_retention_is_judged_by_awss_default(
    clean_backend: AwsBackend, databases: dict[str, dict[str, Any]]
) -> None:
    result = run_check(backup_retention, _context(clean_backend, databases, environment="dev"))
    unset = _finding(result, "unset-db")
    assert not unset.passed and unset.severity is None  # 1 day is short, not "backups are off"
    assert unset.evidence == (
        "unset-db: backup_retention_period not set: AWS's default BackupRetentionPeriod=1 (the emulator reports 0) "
        '(< 7 days; not production: variable environment = "dev")'
    )
    off = _finding(result, "off-db")
    assert off.severity is Severity.HIGH
    assert off.evidence == "off-db: BackupRetentionPeriod=0: automated backups and point-in-time recovery are off"


def test_a_production_only_rule_says_the_environment_left_it_out(
    clean_backend: AwsBackend, databases: dict[str, dict[str, Any]]
) -> None:
    relaxed = run_check(multi_az_prod, _context(clean_backend, databases, environment="dev"))
    assert relaxed.status is Status.NOT_APPLICABLE
    assert relaxed.not_applicable_reason == 'environment `dev` is not production (variable environment = "dev")'
    challenge = run_check(multi_az_prod, _context(clean_backend, databases, environment="challenge"))
    assert challenge.status is Status.FAIL
    assert _finding(challenge, "unset-db").evidence == (
        'unset-db: MultiAZ=false (production: variable environment = "challenge" (not a non-production name))'
    )


@check(
    "test.judges-nothing",
    "A check that looks at databases and judges none",
    severity=Severity.LOW,
    category=Category.OPERATIONS,
    services=("rds",),
    why="-",
    fix="-",
    reads=("aws_db_instance",),
)
def _judges_nothing(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    yield from ()


def test_a_check_that_judged_nothing_says_what_it_looked_at(
    clean_backend: AwsBackend, databases: dict[str, dict[str, Any]]
) -> None:
    result = run_check(_judges_nothing, CheckContext(backend=clean_backend))
    assert result.status is Status.NOT_APPLICABLE
    assert result.not_applicable_reason == "none of what is deployed (2 aws_db_instance) is of the kind it judges"


# -- a bridge-mode service on EC2 --------------------------------------------------------------------------------------

DYNAMIC = (32768, 65535)


def _bridge_service(backend: AwsBackend, cluster: str, target_group: str | None) -> str:
    ecs = backend.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=f"{cluster}-web",
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[
            {
                "name": "web",
                "image": "nginx:1.27",
                "memory": 128,
                "portMappings": [{"containerPort": 80, "hostPort": 0}],
            }
        ],
    )
    registration = (
        [{"targetGroupArn": target_group, "containerName": "web", "containerPort": 80}] if target_group else []
    )
    service = ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=f"{cluster}-web",
        desiredCount=2,
        launchType="EC2",
        loadBalancers=registration,
    )["service"]
    return str(service["serviceArn"])


@pytest.fixture
def bridge(clean_backend: AwsBackend) -> dict[str, str]:
    """An ALB in public subnets in front of a bridge-mode service whose container instance (joined to its cluster by
    user data) sits in a private subnet and admits the ALB on the dynamic host ports; and a bridge-mode service
    of a cluster with no instance at all."""
    ec2 = clean_backend.client("ec2")
    vpc_id = vpc(clean_backend)
    public_table = route_table(clean_backend, vpc_id, igw=internet_gateway(clean_backend, vpc_id))
    public = [subnet(clean_backend, vpc_id, f"10.0.{i}.0/24", az, public_table) for i, az in enumerate(AZS)]
    private = subnet(clean_backend, vpc_id, "10.0.16.0/24", AZS[0], route_table(clean_backend, vpc_id))
    alb_sg = security_group(clean_backend, vpc_id, "alb", ingress=[tcp(80, cidr="0.0.0.0/0")])
    hosts_sg = security_group(clean_backend, vpc_id, "ecs-hosts", ingress=[tcp(*DYNAMIC, group=alb_sg)])
    clean_backend.client("ec2").authorize_security_group_egress(
        GroupId=alb_sg, IpPermissions=[tcp(*DYNAMIC, group=hosts_sg)]
    )
    elbv2 = clean_backend.client("elbv2")
    alb = elbv2.create_load_balancer(Name="bridge", Subnets=public, SecurityGroups=[alb_sg])["LoadBalancers"][0]
    group = elbv2.create_target_group(Name="bridge-web", Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="instance")
    target_group = str(group["TargetGroups"][0]["TargetGroupArn"])
    elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        SubnetId=private,
        SecurityGroupIds=[hosts_sg],
        UserData="#!/bin/bash\necho ECS_CLUSTER=bridge >> /etc/ecs/ecs.config",  # boto3 encodes it
    )["Instances"][0]["InstanceId"]
    return {
        "instance": str(instance),
        "service": _bridge_service(clean_backend, "bridge", target_group),
        "orphan": _bridge_service(clean_backend, "orphan", None),
    }


def test_a_bridge_mode_service_is_judged_through_its_container_instances(
    clean_backend: AwsBackend, bridge: dict[str, str]
) -> None:
    context = CheckContext(backend=clean_backend)
    only_lb = run_check(by_id("network.service-only-from-lb"), context)
    (finding,) = only_lb.findings
    assert finding.passed and finding.resource == bridge["service"], finding.evidence
    assert (
        finding.evidence.startswith("admits only sg-")
        and "(alb) on 32768-65535 (dynamic host ports): " in finding.evidence
    )
    assert finding.evidence.endswith(
        f"(a bridge-mode service on {bridge['instance']} (instances whose user data sets ECS_CLUSTER=bridge))"
    )
    # The service of a cluster with no instance is named, with why it was not judged.
    assert only_lb.not_applicable_reason == (
        "orphan/web runs in bridge mode on the instances of cluster orphan, and none was found (no registered "
        "container instance, capacity-provider group, or instance whose user data names the cluster)"
    )
    no_public_ip = run_check(by_id("network.ecs-no-public-ip"), context)
    (placed,) = no_public_ip.findings
    assert placed.passed and placed.evidence.startswith(f"ecs service web: on {bridge['instance']} (instances whose")
