"""Builders for compute/data check tests: the reference app's resources, task definitions, services.

They create in the emulator what a deployed stack would hold (the Terraform's shape, built directly
with boto3), so a test can make one thing wrong and assert the check's exact evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stackprobe.backends.base import AwsBackend

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sp-test/modelserve:1.0.0"
TOY_MODEL = {"labels": ["cat", "dog"], "weights": [[1.0], [0.0]], "bias": [0.0, 0.5]}
DB_SECRET = {"username": "app", "password": "s3cr3t-never-printed", "engine": "postgres"}


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str


@dataclass(frozen=True)
class AppResources:
    """Buckets, queues and the DB secret the task definitions point at."""

    region: str
    models_bucket: str
    uploads_bucket: str
    queue_url: str
    dlq_url: str
    secret_arn: str
    max_receive_count: int

    def api_environment(self, **overrides: str | None) -> list[dict[str, str]]:
        env: dict[str, str | None] = {
            "APP_PORT": "8080",
            "HEALTH_PATH": "/health",
            "MODELS_BUCKET": self.models_bucket,
            "UPLOADS_BUCKET": self.uploads_bucket,
            "JOBS_QUEUE_URL": self.queue_url,
            "AWS_REGION": self.region,
            "DB_ENGINE": "postgres",
            "DB_HOST": "db.internal.example",
            "DB_PORT": "5432",
            "DB_NAME": "modelserve",
            "DB_USER": "modelserve_app",
            "DB_POOL_SIZE": "4",
        }
        env.update(overrides)
        return [{"name": k, "value": v} for k, v in sorted(env.items()) if v is not None]

    def worker_environment(self, **overrides: str | None) -> list[dict[str, str]]:
        env: dict[str, str | None] = {
            "MODELS_BUCKET": self.models_bucket,
            "UPLOADS_BUCKET": self.uploads_bucket,
            "JOBS_QUEUE_URL": self.queue_url,
            "AWS_REGION": self.region,
        }
        env.update(overrides)
        return [{"name": k, "value": v} for k, v in sorted(env.items()) if v is not None]


# The application role without RDS Proxy: IAM-only (rds_iam), as docs/RUNBOOK.md 1b says; the grants the API's
# job records need (app/sql/postgres-roles.sql is the proxy layout's file).
IAM_APP_ROLE_SQL = """\
CREATE ROLE modelserve_app LOGIN;
GRANT rds_iam TO modelserve_app;
GRANT USAGE, CREATE ON SCHEMA public TO modelserve_app;
"""


def database(backend: AwsBackend, net: Network, identifier: str = "sp-test-db") -> str:
    """A PostgreSQL instance (database modelserve, the master's password kept by RDS in Secrets Manager) whose
    security group admits the services' group on 5432; returns its endpoint address."""
    ec2, rds = backend.client("ec2"), backend.client("rds")
    group = ec2.create_security_group(GroupName=f"{identifier}-sg", Description="database", VpcId=net.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": net.security_group_id}],
            }
        ],
    )
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"{identifier}-subnets", DBSubnetGroupDescription="database", SubnetIds=list(net.subnet_ids)
    )
    instance = rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        EngineVersion="16.3",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        DBName="modelserve",
        MasterUsername="modelserve_admin",
        ManageMasterUserPassword=True,
        DBSubnetGroupName=f"{identifier}-subnets",
        VpcSecurityGroupIds=[group],
        PubliclyAccessible=False,
    )["DBInstance"]
    return str(instance["Endpoint"]["Address"])


def network(backend: AwsBackend) -> Network:
    ec2 = backend.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{backend.region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    )
    sg = ec2.create_security_group(GroupName="sp-test-svc", Description="service", VpcId=vpc)["GroupId"]
    return Network(vpc, subnets, sg)


def alb(backend: AwsBackend, net: Network, name: str = "sp-test") -> str:
    return str(
        backend.client("elbv2").create_load_balancer(
            Name=f"{name}-alb", Subnets=list(net.subnet_ids), Type="application"
        )["LoadBalancers"][0]["LoadBalancerArn"]
    )


def target_group(
    backend: AwsBackend,
    net: Network,
    alb_arn: str | None,
    *,
    name: str = "sp-test",
    listener_port: int = 80,
    port: int = 8080,
    path: str = "/health",
    matcher: str = "200",
    health_port: str = "traffic-port",
    **extra: Any,
) -> str:
    """An ip target group; with `alb_arn`, an HTTP listener on `listener_port` forwards to it."""
    elb = backend.client("elbv2")
    settings: dict[str, Any] = {
        "HealthCheckPath": path,
        "Matcher": {"HttpCode": matcher},
        "HealthCheckPort": health_port,
        "HealthCheckIntervalSeconds": 15,
        "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 3,
    }
    settings.update(extra)
    tg = str(
        elb.create_target_group(
            Name=f"{name}-tg",
            Protocol="HTTP",
            Port=port,
            VpcId=net.vpc_id,
            TargetType="ip",
            HealthCheckProtocol="HTTP",
            **settings,
        )["TargetGroups"][0]["TargetGroupArn"]
    )
    if alb_arn is not None:
        elb.create_listener(
            LoadBalancerArn=alb_arn,
            Protocol="HTTP",
            Port=listener_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
    return tg


def load_balancer(backend: AwsBackend, net: Network, *, name: str = "sp-test", **settings: Any) -> tuple[str, str]:
    """An ALB with an HTTP listener forwarding to one target group; returns (alb arn, target group arn)."""
    alb_arn = alb(backend, net, name)
    return alb_arn, target_group(backend, net, alb_arn, name=name, **settings)


def app_resources(
    backend: AwsBackend, *, max_receive_count: int = 2, prefix: str = "sp-test", redrive: bool = True
) -> AppResources:
    """Buckets (with the toy model), a jobs queue with its DLQ (redrive policy unless `redrive` is False),
    and the database secret."""
    s3, sqs, sm = backend.client("s3"), backend.client("sqs"), backend.client("secretsmanager")
    location = (
        {} if backend.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": backend.region}}
    )
    models, uploads = f"{prefix}-models", f"{prefix}-uploads"
    for bucket in (models, uploads):
        s3.create_bucket(Bucket=bucket, **location)
    s3.put_object(Bucket=models, Key="models/toy.json", Body=json.dumps(TOY_MODEL).encode())
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"VisibilityTimeout": "30"}
    if redrive:
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    queue_url = sqs.create_queue(QueueName=f"{prefix}-jobs", Attributes=attributes)["QueueUrl"]
    secret_arn = sm.create_secret(Name=f"{prefix}-db-master", SecretString=json.dumps(DB_SECRET))["ARN"]
    return AppResources(backend.region, models, uploads, queue_url, dlq_url, secret_arn, max_receive_count)


MODELSERVE_HEALTH_CHECK = {
    "command": ["CMD", "python", "-m", "modelserve.healthcheck"],
    "interval": 15,
    "timeout": 5,
    "retries": 3,
    "startPeriod": 30,
}


def api_task_definition(
    backend: AwsBackend,
    resources: AppResources,
    *,
    family: str = "sp-test-api",
    port: int = 8080,
    environment: list[dict[str, str]] | None = None,
    secrets: list[dict[str, str]] | None = None,
    health_check: dict[str, Any] | None = MODELSERVE_HEALTH_CHECK,
    command: list[str] | None = None,
    image: str = IMAGE,
    container_extra: dict[str, Any] | None = None,
) -> str:
    container: dict[str, Any] = {
        "name": "api",
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "protocol": "tcp"}],
        "environment": resources.api_environment() if environment is None else environment,
        "secrets": [{"name": "DB_SECRET", "valueFrom": resources.secret_arn}] if secrets is None else secrets,
    }
    if health_check:
        container["healthCheck"] = health_check
    if command is not None:
        container["command"] = command
    container.update(container_extra or {})
    return str(
        backend.client("ecs").register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def worker_task_definition(
    backend: AwsBackend,
    resources: AppResources,
    *,
    family: str = "sp-test-worker",
    environment: list[dict[str, str]] | None = None,
) -> str:
    container = {
        "name": "worker",
        "image": IMAGE,
        "essential": True,
        "command": ["python", "-m", "modelserve.worker"],
        "environment": resources.worker_environment() if environment is None else environment,
    }
    return str(
        backend.client("ecs").register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def cluster(backend: AwsBackend, name: str = "sp-test", tags: dict[str, str] | None = None) -> str:
    return str(
        backend.client("ecs").create_cluster(
            clusterName=name, tags=[{"key": k, "value": v} for k, v in (tags or {}).items()]
        )["cluster"]["clusterName"]
    )


def service(
    backend: AwsBackend,
    net: Network,
    cluster_name: str,
    name: str,
    task_definition: str,
    *,
    target_group: str | None = None,
    container_name: str = "api",
    container_port: int = 8080,
    desired: int = 2,
    grace: int | None = 60,
    tags: dict[str, str] | None = None,
    maximum_percent: int | None = None,
) -> str:
    kwargs: dict[str, Any] = {}
    if target_group is not None:
        kwargs["loadBalancers"] = [
            {"targetGroupArn": target_group, "containerName": container_name, "containerPort": container_port}
        ]
        if grace is not None:
            kwargs["healthCheckGracePeriodSeconds"] = grace
    if tags:
        kwargs["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if maximum_percent is not None:
        kwargs["deploymentConfiguration"] = {"maximumPercent": maximum_percent, "minimumHealthyPercent": 100}
    return str(
        backend.client("ecs").create_service(
            cluster=cluster_name,
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=desired,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(net.subnet_ids),
                    "securityGroups": [net.security_group_id],
                    "assignPublicIp": "DISABLED",
                }
            },
            **kwargs,
        )["service"]["serviceArn"]
    )


def reference_deployment(
    backend: AwsBackend,
    *,
    api_environment: list[dict[str, str]] | None = None,
    max_receive_count: int = 2,
    grace: int = 60,
    **lb_settings: Any,
) -> tuple[AppResources, str, str]:
    """The reference shape: ALB → API service, and a worker service, both on the app's resources.

    Returns (resources, api service arn, worker service arn).
    """
    resources = app_resources(backend, max_receive_count=max_receive_count)
    net = network(backend)
    _, tg = load_balancer(backend, net, **lb_settings)
    name = cluster(backend)
    api_td = api_task_definition(backend, resources, environment=api_environment)
    worker_td = worker_task_definition(backend, resources)
    api = service(backend, net, name, "sp-test-api", api_td, target_group=tg, grace=grace)
    worker = service(backend, net, name, "sp-test-worker", worker_td, desired=1)
    return resources, api, worker
