"""ecs.stop-timeout-covers-jobs and vpc.endpoints-match-task-calls on ECS services built in the emulator.

Both read what the tasks' roles may call. One account holds every case: queue workers whose jobs outlast
their stop timeout, with and without the permission to protect their task from scale-in, one whose jobs fit,
and three VPCs: endpoints as the reference stack had them before issue 29 (Secrets Manager, which no task
calls; no SQS, which goes through NAT), as it has them now, and a development VPC on its NAT gateway.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from network_builders import internet_gateway, nat_gateway, route_table, subnet, vpc, vpc_endpoint

from stackprobe.backends.base import AwsBackend
from stackprobe.checks.base import CheckContext, CheckResult, Finding, Status
from stackprobe.checks.endpoints import endpoints_match_task_calls
from stackprobe.checks.stop_timeout import stop_timeout_covers_jobs
from stackprobe.lifecycle.run import Run
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

ACCOUNT = "123456789012"
ECS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def role(backend: AwsBackend, name: str, *statements: dict[str, Any]) -> str:
    iam = backend.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=ECS_TRUST)["Role"]["Arn"])
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(document))
    return arn


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def private_subnets(backend: AwsBackend, vpc_id: str, octet: int, *, tags: dict[str, str] | None = None) -> list[str]:
    """Two private subnets of `vpc_id` whose default route is a NAT gateway in a public one."""
    ec2 = backend.client("ec2")
    if tags:
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    public = subnet(
        backend,
        vpc_id,
        f"10.{octet}.0.0/24",
        f"{backend.region}a",
        route_table(backend, vpc_id, igw=internet_gateway(backend, vpc_id)),
    )
    table = route_table(backend, vpc_id, nat=nat_gateway(backend, public))
    return [
        subnet(backend, vpc_id, f"10.{octet}.{n}.0/24", f"{backend.region}{az}", table)
        for n, az in ((10, "a"), (11, "b"))
    ]


@pytest.fixture(scope="module")
def results(stacks: Run) -> dict[str, CheckResult]:
    backend = stacks.reset_emulator()
    ecs, sqs = backend.client("ecs"), backend.client("sqs")
    jobs = sqs.create_queue(QueueName="sp-jobs", Attributes={"VisibilityTimeout": "360"})["QueueUrl"]
    quick = sqs.create_queue(QueueName="sp-quick", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    jobs_arn, quick_arn = (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for url in (jobs, quick)
    )
    region = backend.region
    execution = role(
        backend,
        "sp-execution",
        allow("ecr:GetAuthorizationToken", "*"),
        allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], f"arn:aws:ecr:{region}:{ACCOUNT}:repository/sp"),
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/ecs/sp:*"),
    )
    consume = allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], jobs_arn)
    api = role(
        backend,
        "sp-api",
        allow("s3:GetObject", "arn:aws:s3:::sp-models/*"),
        allow("sqs:SendMessage", jobs_arn),
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            f"arn:aws:kms:{region}:{ACCOUNT}:key/1",
            Condition={"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
        ),
        allow("rds-db:connect", f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:prx-1/app"),
    )
    protected = role(
        backend,
        "sp-worker-protected",
        consume,
        {"Sid": "Protect", **allow("ecs:UpdateTaskProtection", f"arn:aws:ecs:{region}:{ACCOUNT}:task/main/*")},
    )
    unprotected = role(backend, "sp-worker-unprotected", consume)
    quick_role = role(backend, "sp-worker-quick", allow("sqs:ReceiveMessage", quick_arn))

    ecs.create_cluster(clusterName="main")
    groups: dict[str, str] = {}

    def group_for(vpc_id: str, subnets: list[str]) -> list[str]:
        group = backend.client("ec2").create_security_group(
            GroupName=f"tasks-{vpc_id}", Description="tasks", VpcId=vpc_id
        )
        groups.update(dict.fromkeys(subnets, str(group["GroupId"])))
        return subnets

    def service(name: str, task_role: str, subnets: list[str], stop: int | None = None, **env: str) -> None:
        container: dict[str, Any] = {
            "name": name,
            "image": "sp:1",
            "essential": True,
            "environment": [{"name": k, "value": v} for k, v in env.items()],
        }
        if stop is not None:
            container["stopTimeout"] = stop
        ecs.register_task_definition(
            family=name,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            taskRoleArn=task_role,
            executionRoleArn=execution,
            containerDefinitions=[container],
        )
        ecs.create_service(
            cluster="main",
            serviceName=name,
            taskDefinition=name,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": subnets,
                    "securityGroups": [groups[subnets[0]]],
                    "assignPublicIp": "DISABLED",
                }
            },
        )

    # Before issue 29: Secrets Manager's endpoint, no SQS one.
    before = vpc(backend, "10.1.0.0/16")
    before_subnets = group_for(before, private_subnets(backend, before, 1))
    for name in ("ecr.api", "ecr.dkr", "logs", "secretsmanager"):
        vpc_endpoint(backend, before, name, subnets=before_subnets)
    vpc_endpoint(backend, before, "s3", route_tables=[route_table(backend, before)])
    service("sp-api", api, before_subnets)
    service("sp-worker-protected", protected, before_subnets, stop=120)
    service("sp-worker-unprotected", unprotected, before_subnets, stop=120)
    service("sp-worker-quick", quick_role, before_subnets, stop=90)
    service("sp-worker-documented", quick_role, before_subnets, stop=90, MAX_JOB_SECONDS="300")
    # After: what the tasks call, and nothing else.
    after = vpc(backend, "10.2.0.0/16")
    after_subnets = group_for(after, private_subnets(backend, after, 2))
    for name in ("ecr.api", "ecr.dkr", "logs", "sqs"):
        vpc_endpoint(backend, after, name, subnets=after_subnets)
    vpc_endpoint(backend, after, "s3", route_tables=[route_table(backend, after)])
    service("sp-api-after", api, after_subnets)
    service("sp-worker-after", protected, after_subnets, stop=120)
    # Development: everything through the one NAT gateway, by choice.
    dev = vpc(backend, "10.3.0.0/16")
    dev_subnets = group_for(dev, private_subnets(backend, dev, 3, tags={"Environment": "dev"}))
    vpc_endpoint(backend, dev, "s3", route_tables=[route_table(backend, dev)])
    service("sp-api-dev", api, dev_subnets)

    context = CheckContext(backend=backend)
    return {
        "vpcs": CheckResult(check=endpoints_match_task_calls, skipped_reason=json.dumps([before, after, dev])),
        **{
            result.check.id: result
            for result in (
                assert_check(context, stop_timeout_covers_jobs, Status.FAIL),
                assert_check(context, endpoints_match_task_calls, Status.FAIL),
            )
        },
    }


def finding(result: CheckResult, suffix: str) -> Finding:
    assert not result.error, result.error
    [found] = [f for f in result.findings if f.resource.endswith(suffix)]
    return found


def test_a_worker_whose_jobs_outlast_its_stop_timeout_without_protection_fails(results: dict[str, CheckResult]) -> None:
    found = finding(results["ecs.stop-timeout-covers-jobs"], "/sp-worker-unprotected")
    assert (found.passed, found.evidence) == (
        False,
        "main/sp-worker-unprotected: a job may run 360 s (visibility timeout of sp-jobs), stopTimeout is 120 s, and "
        "its task role sp-worker-unprotected may not ecs:UpdateTaskProtection: a scale-in or deployment kills the "
        "job in progress",
    )


def test_a_documented_job_length_counts_as_well_as_the_visibility_timeout(results: dict[str, CheckResult]) -> None:
    found = finding(results["ecs.stop-timeout-covers-jobs"], "/sp-worker-documented")
    assert not found.passed
    assert found.evidence.startswith(
        "main/sp-worker-documented: a job may run 300 s (MAX_JOB_SECONDS of its container), stopTimeout is 90 s"
    )


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("/sp-worker-protected", "may protect the task from scale-in while busy"),
        ("/sp-worker-quick", "a job may run 60 s (visibility timeout of sp-quick), stopTimeout is 90 s"),
    ],
)
def test_protected_workers_and_short_jobs_pass(results: dict[str, CheckResult], service: str, expected: str) -> None:
    found = finding(results["ecs.stop-timeout-covers-jobs"], service)
    assert found.passed and expected in found.evidence, found.evidence


def test_services_that_consume_no_queue_are_not_judged(results: dict[str, CheckResult]) -> None:
    judged = {f.resource.rsplit("/", 1)[-1] for f in results["ecs.stop-timeout-covers-jobs"].findings}
    assert not judged & {"sp-api", "sp-api-after", "sp-api-dev"}


def test_an_unused_endpoint_and_a_missing_one_fail(results: dict[str, CheckResult]) -> None:
    before, _, _ = json.loads(results["vpcs"].skipped_reason)
    found = finding(results["vpc.endpoints-match-task-calls"], before)
    assert not found.passed
    assert "sqs is called (" in found.evidence and "with no endpoint, so through the NAT gateway" in found.evidence
    assert "interface endpoint secretsmanager: no task role calls it" in found.evidence
    # KMS through SQS, IAM database tokens and task protection reach no endpoint from the task.
    assert found.evidence.startswith(f"{before}: the tasks call ecr.api, ecr.dkr, logs, s3, sqs; ")


def test_endpoints_for_exactly_what_the_tasks_call_pass(results: dict[str, CheckResult]) -> None:
    _, after, dev = json.loads(results["vpcs"].skipped_reason)
    assert finding(results["vpc.endpoints-match-task-calls"], after).passed
    development = finding(results["vpc.endpoints-match-task-calls"], dev)
    assert development.passed
    assert "sqs goes through the NAT gateway (not production)" in development.evidence
