"""One account as deployed: a snapshot that reads each service once, by one reader per service.

A check context builds one `Account` and every check of the context reads it, so the run asks the
emulator each question once, however many checks need the answer (one DescribeDBInstances serves the
database, capacity, alarm, requirement and network checks alike). Nothing is read until asked,
and each reader answers from its first read for the snapshot's life: a test that changes the account
builds a new context (or a new `Account`) to see the change.

The account is also queryable by Terraform resource type (`resources("aws_db_instance")`), which is
how the check registry decides, before running a check, that there is nothing for it to judge. Types
are read through `canonical_type`, so `aws_alb` and `aws_lb` find the same load balancers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from stackprobe.aws import Clients
from stackprobe.aws.readers.autoscaling import AutoScalingReader
from stackprobe.aws.readers.backup import BackupReader
from stackprobe.aws.readers.compute import ApiGatewayReader, ApiGatewayV2Reader, LambdaReader
from stackprobe.aws.readers.ec2 import Ec2Reader
from stackprobe.aws.readers.ecr import EcrReader
from stackprobe.aws.readers.ecs import EcsReader
from stackprobe.aws.readers.edge import AcmReader, CloudFrontReader, Route53Reader, Wafv2Reader
from stackprobe.aws.readers.elasticache import ElastiCacheReader
from stackprobe.aws.readers.elb import ClassicElbReader, Elbv2Reader
from stackprobe.aws.readers.iam import IamReader
from stackprobe.aws.readers.kms import KmsReader
from stackprobe.aws.readers.messaging import SnsReader, SqsReader
from stackprobe.aws.readers.monitoring import CloudWatchReader, LogsReader
from stackprobe.aws.readers.rds import RdsReader
from stackprobe.aws.readers.s3 import S3Reader
from stackprobe.aws.readers.secrets import SecretsManagerReader
from stackprobe.terraform.resource_types import canonical_type


class Account:
    """The readers of one account and region (the backend's when `region` is None), one per service."""

    def __init__(self, clients: Clients, region: str | None = None) -> None:
        self.region = region or clients.backend.region
        self.s3 = S3Reader(clients, region)
        self.ec2 = Ec2Reader(clients, region)
        self.elbv2 = Elbv2Reader(clients, region)
        self.elb = ClassicElbReader(clients, region)
        self.ecs = EcsReader(clients, region)
        self.ecr = EcrReader(clients, region)
        self.autoscaling = AutoScalingReader(clients, region)
        self.rds = RdsReader(clients, region)
        self.elasticache = ElastiCacheReader(clients, region)
        self.lambda_ = LambdaReader(clients, region)
        self.apigateway = ApiGatewayReader(clients, region)
        self.apigatewayv2 = ApiGatewayV2Reader(clients, region)
        self.iam = IamReader(clients, region)
        self.kms = KmsReader(clients, region)
        self.secretsmanager = SecretsManagerReader(clients, region)
        self.sqs = SqsReader(clients, region)
        self.sns = SnsReader(clients, region)
        self.cloudwatch = CloudWatchReader(clients, region)
        self.logs = LogsReader(clients, region)
        self.backup = BackupReader(clients, region)
        self.route53 = Route53Reader(clients, region)
        self.cloudfront = CloudFrontReader(clients, region)
        self.acm = AcmReader(clients, region)
        self.wafv2 = Wafv2Reader(clients, region)

    def resources(self, resource_type: str) -> Sequence[object]:
        """What the account holds of a Terraform resource type (see RESOURCE_TYPES for each one's scope)."""
        try:
            read = RESOURCE_TYPES[canonical_type(resource_type)]
        except KeyError:
            known = ", ".join(RESOURCE_TYPES)
            raise KeyError(f"the account snapshot does not read {resource_type}; it reads {known}") from None
        return read(self)

    def holds(self, resource_type: str) -> bool:
        return bool(self.resources(resource_type))


# Terraform resource type -> what the account holds of it: the types the checks judge (the registry
# refuses a check that declares another), each read as the checks read it: the ECS services'
# DesiredCount policies for aws_appautoscaling_policy, the customer-managed policies for aws_iam_policy.
RESOURCE_TYPES: Mapping[str, Callable[[Account], Sequence[object]]] = {
    "aws_appautoscaling_policy": lambda a: [p for ps in a.autoscaling.scaling_policies().values() for p in ps],
    "aws_cloudwatch_log_group": lambda a: a.logs.log_groups(),
    "aws_cloudwatch_metric_alarm": lambda a: a.cloudwatch.metric_alarms(),
    "aws_db_instance": lambda a: a.rds.instances(),
    "aws_db_proxy": lambda a: a.rds.proxy_records(),
    "aws_ecr_repository": lambda a: a.ecr.repositories(),
    "aws_ecs_cluster": lambda a: a.ecs.clusters(),
    "aws_ecs_service": lambda a: a.ecs.workloads(),
    "aws_ecs_task_definition": lambda a: a.ecs.task_definition_arns(),
    "aws_elasticache_cluster": lambda a: a.elasticache.cache_clusters(),
    "aws_elasticache_replication_group": lambda a: a.elasticache.replication_groups(),
    "aws_elb": lambda a: a.elb.load_balancers(),
    "aws_iam_group": lambda a: a.iam.groups(),
    "aws_iam_policy": lambda a: a.iam.local_policies(),
    "aws_iam_role": lambda a: a.iam.roles(),
    "aws_iam_user": lambda a: a.iam.users(),
    "aws_instance": lambda a: a.ec2.instances(),
    "aws_kms_key": lambda a: a.kms.listed_keys(),
    "aws_lambda_function": lambda a: a.lambda_.functions(),
    "aws_lb": lambda a: a.elbv2.load_balancers(),
    "aws_rds_cluster": lambda a: a.rds.clusters(),
    "aws_s3_bucket": lambda a: a.s3.bucket_names(),
    "aws_secretsmanager_secret": lambda a: a.secretsmanager.secrets(),
    "aws_security_group": lambda a: a.ec2.security_groups(),
    "aws_sqs_queue": lambda a: a.sqs.queues(),
    "aws_vpc": lambda a: a.ec2.vpcs(),
}
