"""What the emulator holds, enumerated service by service, independent of any state file.

Teardown proof compares two snapshots: one taken before apply (moto starts with a default VPC and
friends) and one after destroy. Anything new in the second is a leftover, whatever terraform's state
says. The table below is data: one row per kind of resource, the call that lists it, and a JMESPath
expression that picks the live ones (deleted NAT gateways, say, are still listed for a while).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import jmespath
from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.backends.base import AwsBackend

LOG = logging.getLogger("stackprobe.aws.inventory")


@dataclass
class TeardownReport:
    destroyed: bool
    leftovers: dict[str, set[str]] = field(default_factory=dict)
    unlisted: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.destroyed and not self.leftovers

    def render(self) -> str:
        if self.clean:
            return f"Destroyed in {self.seconds:.0f} s; the emulator holds nothing the stack created."
        lines = [f"Teardown incomplete ({self.error or 'resources remain'}):"]
        lines += [f"  {kind}: {', '.join(sorted(items))}" for kind, items in sorted(self.leftovers.items())]
        return "\n".join(lines)


@dataclass(frozen=True)
class Collection:
    kind: str
    service: str
    operation: str
    expression: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    global_service: bool = False
    custom: Callable[[Any], list[str]] | None = None


def _live_kms_keys(client: Any) -> list[str]:
    keys = []
    for page in client.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            # Destroy schedules deletion (AWS has no immediate delete); that counts as gone.
            if meta.get("KeyState") != "PendingDeletion" and meta.get("KeyManager") == "CUSTOMER":
                keys.append(key["KeyId"])
    return keys


def _ecs_services(client: Any) -> list[str]:
    found = []
    for cluster in client.list_clusters().get("clusterArns", []):
        arns = client.list_services(cluster=cluster).get("serviceArns", [])
        if arns:
            described = client.describe_services(cluster=cluster, services=arns)["services"]
            found += [s["serviceArn"] for s in described if s.get("status") != "INACTIVE"]
    return found


def _active_ecs_clusters(client: Any) -> list[str]:
    arns = client.list_clusters().get("clusterArns", [])
    if not arns:
        return []
    # DeleteCluster leaves the cluster INACTIVE and still listed for a while (AWS documents the same).
    return [c["clusterArn"] for c in client.describe_clusters(clusters=arns)["clusters"] if c["status"] == "ACTIVE"]


def _scalable_targets(client: Any) -> list[str]:
    found = []
    for namespace in ("ecs", "dynamodb", "rds"):
        response = client.describe_scalable_targets(ServiceNamespace=namespace)
        found += [t["ResourceId"] for t in response.get("ScalableTargets", [])]
    return found


COLLECTIONS: tuple[Collection, ...] = (
    Collection("s3 bucket", "s3", "list_buckets", "Buckets[].Name", global_service=True),
    Collection("vpc", "ec2", "describe_vpcs", "Vpcs[].VpcId"),
    Collection("subnet", "ec2", "describe_subnets", "Subnets[].SubnetId"),
    Collection("security group", "ec2", "describe_security_groups", "SecurityGroups[].GroupId"),
    Collection("route table", "ec2", "describe_route_tables", "RouteTables[].RouteTableId"),
    # Default ACLs come and go with their VPC (which is listed itself), and LocalStack's EC2 leaves a
    # deleted VPC's default ACL behind, as moto did before stackprobe's ec2-default-network-acl patch.
    Collection("network acl", "ec2", "describe_network_acls", "NetworkAcls[?!IsDefault].NetworkAclId"),
    Collection("internet gateway", "ec2", "describe_internet_gateways", "InternetGateways[].InternetGatewayId"),
    Collection("nat gateway", "ec2", "describe_nat_gateways", "NatGateways[?State!='deleted'].NatGatewayId"),
    Collection("vpc endpoint", "ec2", "describe_vpc_endpoints", "VpcEndpoints[?State!='deleted'].VpcEndpointId"),
    Collection("elastic ip", "ec2", "describe_addresses", "Addresses[].AllocationId"),
    Collection(
        "ec2 instance",
        "ec2",
        "describe_instances",
        "Reservations[].Instances[?State.Name!='terminated'][].InstanceId",
    ),
    Collection("flow log", "ec2", "describe_flow_logs", "FlowLogs[].FlowLogId"),
    Collection("load balancer", "elbv2", "describe_load_balancers", "LoadBalancers[].LoadBalancerArn"),
    Collection("target group", "elbv2", "describe_target_groups", "TargetGroups[].TargetGroupArn"),
    Collection("ecs cluster", "ecs", "list_clusters", "", custom=_active_ecs_clusters),
    Collection("ecs service", "ecs", "list_clusters", "", custom=_ecs_services),
    Collection(
        "ecs task definition", "ecs", "list_task_definitions", "taskDefinitionArns[]", kwargs={"status": "ACTIVE"}
    ),
    Collection("ecr repository", "ecr", "describe_repositories", "repositories[].repositoryName"),
    Collection("db instance", "rds", "describe_db_instances", "DBInstances[].DBInstanceIdentifier"),
    Collection("db cluster", "rds", "describe_db_clusters", "DBClusters[].DBClusterIdentifier"),
    Collection("db subnet group", "rds", "describe_db_subnet_groups", "DBSubnetGroups[].DBSubnetGroupName"),
    Collection(
        "db parameter group",
        "rds",
        "describe_db_parameter_groups",
        "DBParameterGroups[?!starts_with(DBParameterGroupName, 'default.')].DBParameterGroupName",
    ),
    Collection("db proxy", "rds", "describe_db_proxies", "DBProxies[].DBProxyName"),
    Collection("sqs queue", "sqs", "list_queues", "QueueUrls[]"),
    Collection("sns topic", "sns", "list_topics", "Topics[].TopicArn"),
    Collection("kms key", "kms", "list_keys", "", custom=_live_kms_keys),
    Collection("secret", "secretsmanager", "list_secrets", "SecretList[].ARN"),
    Collection("log group", "logs", "describe_log_groups", "logGroups[].logGroupName"),
    Collection("alarm", "cloudwatch", "describe_alarms", "MetricAlarms[].AlarmName"),
    Collection("dashboard", "cloudwatch", "list_dashboards", "DashboardEntries[].DashboardName"),
    Collection("iam role", "iam", "list_roles", "Roles[].RoleName", global_service=True),
    Collection("iam user", "iam", "list_users", "Users[].UserName", global_service=True),
    Collection("iam policy", "iam", "list_policies", "Policies[].Arn", kwargs={"Scope": "Local"}, global_service=True),
    Collection(
        "oidc provider", "iam", "list_open_id_connect_providers", "OpenIDConnectProviderList[].Arn", global_service=True
    ),
    Collection("scalable target", "application-autoscaling", "describe_scalable_targets", "", custom=_scalable_targets),
    Collection("acm certificate", "acm", "list_certificates", "CertificateSummaryList[].CertificateArn"),
    Collection("lambda function", "lambda", "list_functions", "Functions[].FunctionName"),
    Collection("rest api", "apigateway", "get_rest_apis", "items[].id"),
    Collection("http api", "apigatewayv2", "get_apis", "Items[].ApiId"),
    Collection("backup vault", "backup", "list_backup_vaults", "BackupVaultList[].BackupVaultName"),
    Collection("backup plan", "backup", "list_backup_plans", "BackupPlansList[].BackupPlanId"),
    Collection("cache cluster", "elasticache", "describe_cache_clusters", "CacheClusters[].CacheClusterId"),
    Collection(
        "replication group", "elasticache", "describe_replication_groups", "ReplicationGroups[].ReplicationGroupId"
    ),
    Collection("web acl", "wafv2", "list_web_acls", "WebACLs[].ARN", kwargs={"Scope": "REGIONAL"}),
    Collection(
        "cloudfront distribution",
        "cloudfront",
        "list_distributions",
        "DistributionList.Items[].Id",
        global_service=True,
    ),
    Collection("hosted zone", "route53", "list_hosted_zones", "HostedZones[].Id", global_service=True),
)

Snapshot = dict[str, set[str]]


def _list(backend: AwsBackend, collection: Collection, region: str) -> list[str]:
    client = backend.client(collection.service, region_name=region)
    if collection.custom is not None:
        return collection.custom(client)
    if client.can_paginate(collection.operation):
        pages = client.get_paginator(collection.operation).paginate(**collection.kwargs)
        return [str(item) for item in pages.search(collection.expression) if item is not None]
    response = getattr(client, collection.operation)(**collection.kwargs)
    return [str(item) for item in jmespath.search(collection.expression, response) or []]


def snapshot(backend: AwsBackend, regions: list[str] | None = None) -> tuple[Snapshot, list[str]]:
    """Everything the emulator lists, keyed by `kind@region`; plus the collections it could not list."""
    regions = regions or [backend.region]
    found: Snapshot = {}
    skipped: list[str] = []
    jobs: list[tuple[str, Collection, str]] = []
    for collection in COLLECTIONS:
        if not backend.serves(collection.service):
            skipped.append(f"{collection.kind} ({backend.unavailable_reason(collection.service)})")
            continue
        for region in [regions[0]] if collection.global_service else regions:
            jobs.append((f"{collection.kind}@{'global' if collection.global_service else region}", collection, region))

    def run(job: tuple[str, Collection, str]) -> tuple[str, set[str] | str]:
        key, collection, region = job
        try:
            return key, set(_list(backend, collection, region))
        except (ClientError, BotoCoreError, KeyError, NotImplementedError) as exc:
            LOG.debug("cannot list %s: %s", key, exc)
            return key, type(exc).__name__

    # Threads, because each listing is a round trip to the emulator and most of the time is waiting.
    with ThreadPoolExecutor(max_workers=8) as pool:
        for key, result in pool.map(run, jobs):
            if isinstance(result, str):
                skipped.append(f"{key} ({result})")
            else:
                found[key] = result
    return found, skipped


def leftovers(before: Snapshot, after: Snapshot) -> dict[str, set[str]]:
    """What `after` holds that `before` did not, per kind (empty when teardown was clean)."""
    return {key: items - before.get(key, set()) for key, items in after.items() if items - before.get(key, set())}
