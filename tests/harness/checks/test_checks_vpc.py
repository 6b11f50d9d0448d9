"""vpc.* (egress with intent, public IPs in task subnets, one NAT gateway per zone) and iam.execution-role-scope,
against accounts built in the emulator.

The emulator is emptied once for the module (a reset costs seconds): the reference network (terraform/modules'
design, every check passes) and one defective network beside it, with its own /16; each test asserts the
findings on the resources it broke."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from network_builders import (
    AZS,
    DB_PORT,
    Reference,
    all_traffic,
    ecs_service,
    internet_gateway,
    nat_gateway,
    rds_instance,
    reference_network,
    route_table,
    security_group,
    subnet,
    tcp,
    vpc,
)

from stackprobe.backends.base import AwsBackend
from stackprobe.checks.base import CheckContext, Severity, Status
from stackprobe.checks.egress import narrow_egress
from stackprobe.checks.nat import nat_per_az
from stackprobe.checks.roles import execution_role_scope
from stackprobe.checks.subnets import task_subnets_private
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

WORLD = "0.0.0.0/0"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@dataclass
class Account:
    backend: AwsBackend
    ref: Reference
    ids: dict[str, str]

    def context(self, **fields: object) -> CheckContext:
        return CheckContext(backend=self.backend, **fields)  # type: ignore[arg-type]


def _defective_network(backend: AwsBackend, ids: dict[str, str]) -> None:
    """One NAT gateway for both zones' app subnets, which map public IPs; allow-all egress on the task and
    database groups."""
    vpc_id = vpc(backend, "10.40.0.0/16")
    igw = internet_gateway(backend, vpc_id)
    public_table = route_table(backend, vpc_id, igw=igw)
    public = [subnet(backend, vpc_id, f"10.40.{i}.0/24", az, public_table) for i, az in enumerate(AZS)]
    ids["nat"] = nat = nat_gateway(backend, public[0])
    app_table = route_table(backend, vpc_id, nat=nat)
    app = [subnet(backend, vpc_id, f"10.40.{16 + i}.0/24", az, app_table) for i, az in enumerate(AZS)]
    for subnet_id in app:
        backend.client("ec2").modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    ids["app_subnet"] = app[0]
    task_sg = security_group(backend, vpc_id, "open-task", egress=[all_traffic(cidr=WORLD)])
    db_sg = security_group(
        backend, vpc_id, "open-db", ingress=[tcp(DB_PORT, group=task_sg)], egress=[tcp(443, cidr=WORLD)]
    )
    ids["service"] = ecs_service(backend, app, [task_sg], name="open-api")
    ids["db"] = rds_instance(backend, app, [db_sg], name="open-db")


def _roles(backend: AwsBackend, ids: dict[str, str]) -> None:
    """Task definitions whose execution role holds S3 access: with a task role that has none, and with one that
    holds the application's own."""
    iam, ecs = backend.client("iam"), backend.client("ecs")
    data = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"], "Resource": "*"}],
        }
    )
    for name in ("exec-with-data", "bare-task", "app-task", "plain-exec"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="exec-with-data", PolicyName="data", PolicyDocument=data)
    iam.put_role_policy(RoleName="app-task", PolicyName="data", PolicyDocument=data)
    account = backend.account_id
    for family, execution, task in (
        ("misplaced", "exec-with-data", "bare-task"),
        ("doubled", "exec-with-data", "app-task"),
        ("clean", "plain-exec", "app-task"),
    ):
        ids[family] = ecs.register_task_definition(
            family=family,
            executionRoleArn=f"arn:aws:iam::{account}:role/{execution}",
            taskRoleArn=f"arn:aws:iam::{account}:role/{task}",
            containerDefinitions=[{"name": "app", "image": "nginx:1.27", "memory": 256}],
        )["taskDefinition"]["taskDefinitionArn"]


@pytest.fixture(scope="module")
def account(stacks: Run) -> Account:
    backend = stacks.reset_emulator()
    ref = reference_network(backend, with_cache=True)
    ids: dict[str, str] = {}
    _defective_network(backend, ids)
    _roles(backend, ids)
    return Account(backend, ref, ids)


def test_allow_all_egress_on_tasks_and_any_world_egress_on_data_stores_fail(account: Account) -> None:
    result = assert_check(account.context(), narrow_egress, Status.FAIL)
    failed = {f.resource: f.evidence for f in result.findings if not f.passed}
    assert sorted(failed) == sorted([account.ids["service"], account.ids["db"]])
    assert failed[account.ids["service"]].startswith("ecs service open-api: ")
    assert (
        "allows all to 0.0.0.0/0: tasks need HTTPS and their data stores (the VPC offers a NAT gateway"
        in (failed[account.ids["service"]])
    )
    assert "allows 443 to 0.0.0.0/0: a data store initiates nothing" in failed[account.ids["db"]]
    passed = {f.resource for f in result.findings if f.passed}
    assert {account.ref.service_arn, account.ref.db_arn, account.ref.extra["cache_arn"]} <= passed


def test_task_subnets_that_map_public_ips_fail(account: Account) -> None:
    result = assert_check(account.context(), task_subnets_private, Status.FAIL)
    failed = {f.resource: f.evidence for f in result.findings if not f.passed}
    assert len(failed) == 2
    assert failed[account.ids["app_subnet"]] == (
        f"{account.ids['app_subnet']} (eu-west-1a, 10.40.16.0/24) hosts the tasks of open-api and gives every "
        "interface launched in it a public IP"
    )
    assert all(f.passed for f in result.findings if f.resource in account.ref.app_subnets)


def test_one_nat_gateway_for_several_zones_fails_in_production(account: Account) -> None:
    result = assert_check(account.context(), nat_per_az, Status.FAIL)
    [failed] = [f for f in result.findings if not f.passed]
    assert failed.resource == account.ids["nat"]
    assert failed.evidence == (
        f"{account.ids['nat']} (in eu-west-1a) is the default route of 2 private subnet(s) in eu-west-1a, eu-west-1b: "
        "losing eu-west-1a cuts the outbound traffic of eu-west-1b too (production rules: environment unknown, set "
        "--environment to change)"
    )
    assert {f.resource for f in result.findings if f.passed} == set(account.ref.nat_gateways)
    relaxed = assert_check(account.context(environment="development"), nat_per_az, Status.NOT_APPLICABLE)
    assert "environment `development` is not production" in relaxed.not_applicable_reason


def test_data_permissions_on_the_execution_role_with_none_on_the_task_role_fail(account: Account) -> None:
    result = assert_check(account.context(), execution_role_scope, Status.FAIL)
    by = {f.resource: f for f in result.findings}
    misplaced = by[account.ids["misplaced"]]
    assert not misplaced.passed and misplaced.evidence == (
        "misplaced:1: execution role exec-with-data grants s3:GetObject, sqs:SendMessage while task role bare-task "
        "grants no data action: the application's calls use the task role"
    )
    assert by[account.ids["doubled"]].passed and by[account.ids["clean"]].passed
    assert result.check.severity is Severity.MEDIUM
