"""What the emulator holds, enumerated service by service, independent of any state file.

Teardown proof compares two snapshots: one taken before apply (moto starts with a default VPC and
friends) and one after destroy. Anything new in the second is a leftover, whatever terraform's state
says. Neither lists the stand-ins the emulator holds for objects the stack names but does not create.
The table below is data: one row per kind of resource, and the ids of its live ones as the account's
readers (`stackprobe.aws.readers`, the same ones checks read) list them (deleted NAT gateways, say, are
still listed for a while).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws.account import Account
from stackprobe.aws.clients import AwsClients
from stackprobe.backends.base import AwsBackend
from stackprobe.backends.stand_ins import listed_ids, registered

LOG = logging.getLogger("stackprobe.aws.inventory")


@dataclass
class TeardownReport:
    destroyed: bool
    leftovers: dict[str, set[str]] = field(default_factory=dict)
    unlisted: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    # The protections teardown lifted so destroy could go through (stackprobe.lifecycle.protections).
    lifted: list[str] = field(default_factory=list)
    # What else ended with the stack and how, when it was not destroyed (its prerequisites, discarded).
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.destroyed and not self.leftovers

    def render(self) -> str:
        lifted = f" Lifted first: {'; '.join(self.lifted)}." if self.lifted else ""
        if self.clean:
            lines = [f"Destroyed in {self.seconds:.0f} s; the emulator holds nothing the stack created.{lifted}"]
        else:
            lines = [f"Teardown incomplete ({self.error or 'resources remain'}):"]
            lines += [f"  {kind}: {', '.join(sorted(items))}" for kind, items in sorted(self.leftovers.items())]
        return "\n".join(lines + self.notes)


@dataclass(frozen=True)
class Collection:
    """One kind of resource: the service that holds it, and the ids of its live ones in an account."""

    kind: str
    service: str
    ids: Callable[[Account], Iterable[str]]
    global_service: bool = False


def _ids(records: Iterable[Mapping[str, Any]], key: str) -> list[str]:
    return [str(record[key]) for record in records]


def _state_not(records: Iterable[Mapping[str, Any]], key: str, state: str) -> list[str]:
    return [str(r[key]) for r in records if r.get("State") != state]


def _live_kms_keys(account: Account) -> list[str]:
    # Destroy schedules deletion (AWS has no immediate delete); that counts as gone.
    return [
        str(meta["KeyId"])
        for meta in account.kms.listed_keys()
        if meta.get("KeyState") != "PendingDeletion" and meta.get("KeyManager") == "CUSTOMER"
    ]


def _scalable_targets(account: Account) -> list[str]:
    return [
        str(t["ResourceId"]) for namespace in ("ecs", "dynamodb", "rds") for t in account.autoscaling.targets(namespace)
    ]


COLLECTIONS: tuple[Collection, ...] = (
    Collection("s3 bucket", "s3", lambda a: a.s3.bucket_names(), global_service=True),
    Collection("vpc", "ec2", lambda a: _ids(a.ec2.vpcs(), "VpcId")),
    Collection("subnet", "ec2", lambda a: _ids(a.ec2.subnets(), "SubnetId")),
    Collection("security group", "ec2", lambda a: _ids(a.ec2.security_groups(), "GroupId")),
    Collection("route table", "ec2", lambda a: _ids(a.ec2.route_tables(), "RouteTableId")),
    # Default ACLs come and go with their VPC (which is listed itself), and LocalStack's EC2 leaves a
    # deleted VPC's default ACL behind, as moto did before stackprobe's ec2-default-network-acl patch.
    Collection(
        "network acl", "ec2", lambda a: [str(n["NetworkAclId"]) for n in a.ec2.network_acls() if not n.get("IsDefault")]
    ),
    Collection("internet gateway", "ec2", lambda a: _ids(a.ec2.internet_gateways(), "InternetGatewayId")),
    # Deleted NAT gateways and endpoints are still listed for a while.
    Collection("nat gateway", "ec2", lambda a: _state_not(a.ec2.nat_gateways(), "NatGatewayId", "deleted")),
    Collection("vpc endpoint", "ec2", lambda a: _state_not(a.ec2.vpc_endpoints(), "VpcEndpointId", "deleted")),
    Collection("elastic ip", "ec2", lambda a: _ids(a.ec2.addresses(), "AllocationId")),
    Collection(
        "ec2 instance",
        "ec2",
        lambda a: [str(i["InstanceId"]) for i in a.ec2.instances() if i.get("State", {}).get("Name") != "terminated"],
    ),
    Collection("flow log", "ec2", lambda a: _ids(a.ec2.flow_logs(), "FlowLogId")),
    Collection("load balancer", "elbv2", lambda a: _ids(a.elbv2.load_balancers(), "LoadBalancerArn")),
    Collection("target group", "elbv2", lambda a: _ids(a.elbv2.target_groups(), "TargetGroupArn")),
    # DeleteCluster leaves the cluster INACTIVE and still listed for a while (AWS documents the same).
    Collection("ecs cluster", "ecs", lambda a: _ids(a.ecs.clusters(), "clusterArn")),
    Collection("ecs service", "ecs", lambda a: _ids(a.ecs.services(), "serviceArn")),
    Collection("ecs task definition", "ecs", lambda a: a.ecs.task_definition_arns()),
    Collection("ecr repository", "ecr", lambda a: _ids(a.ecr.repositories(), "repositoryName")),
    Collection("db instance", "rds", lambda a: [db.identifier for db in a.rds.instances()]),
    Collection("db cluster", "rds", lambda a: _ids(a.rds.clusters(), "DBClusterIdentifier")),
    Collection("db subnet group", "rds", lambda a: _ids(a.rds.subnet_groups(), "DBSubnetGroupName")),
    Collection(
        "db parameter group",
        "rds",
        lambda a: [
            str(g["DBParameterGroupName"])
            for g in a.rds.parameter_groups()
            if not str(g["DBParameterGroupName"]).startswith("default.")
        ],
    ),
    Collection("db proxy", "rds", lambda a: _ids(a.rds.proxy_records(), "DBProxyName")),
    Collection("sqs queue", "sqs", lambda a: a.sqs.queue_urls()),
    Collection("sns topic", "sns", lambda a: _ids(a.sns.topics(), "TopicArn")),
    Collection("kms key", "kms", _live_kms_keys),
    Collection("secret", "secretsmanager", lambda a: _ids(a.secretsmanager.secrets(), "ARN")),
    Collection("log group", "logs", lambda a: _ids(a.logs.log_groups(), "logGroupName")),
    Collection("alarm", "cloudwatch", lambda a: _ids(a.cloudwatch.metric_alarms(), "AlarmName")),
    Collection("dashboard", "cloudwatch", lambda a: _ids(a.cloudwatch.dashboards(), "DashboardName")),
    Collection("iam role", "iam", lambda a: _ids(a.iam.roles(), "RoleName"), global_service=True),
    Collection("iam user", "iam", lambda a: _ids(a.iam.users(), "UserName"), global_service=True),
    Collection("iam policy", "iam", lambda a: _ids(a.iam.local_policies(), "Arn"), global_service=True),
    Collection("oidc provider", "iam", lambda a: _ids(a.iam.open_id_connect_providers(), "Arn"), global_service=True),
    Collection("scalable target", "application-autoscaling", _scalable_targets),
    Collection("acm certificate", "acm", lambda a: _ids(a.acm.certificates(), "CertificateArn")),
    Collection("lambda function", "lambda", lambda a: _ids(a.lambda_.functions(), "FunctionName")),
    Collection("rest api", "apigateway", lambda a: _ids(a.apigateway.rest_apis(), "id")),
    Collection("http api", "apigatewayv2", lambda a: _ids(a.apigatewayv2.apis(), "ApiId")),
    Collection("backup vault", "backup", lambda a: _ids(a.backup.vaults(), "BackupVaultName")),
    Collection("backup plan", "backup", lambda a: _ids(a.backup.plan_summaries(), "BackupPlanId")),
    Collection("cache cluster", "elasticache", lambda a: _ids(a.elasticache.cache_clusters(), "CacheClusterId")),
    Collection(
        "replication group", "elasticache", lambda a: _ids(a.elasticache.replication_groups(), "ReplicationGroupId")
    ),
    Collection("web acl", "wafv2", lambda a: _ids(a.wafv2.regional_web_acls(), "ARN")),
    Collection(
        "cloudfront distribution", "cloudfront", lambda a: _ids(a.cloudfront.distributions(), "Id"), global_service=True
    ),
    Collection("hosted zone", "route53", lambda a: _ids(a.route53.hosted_zones(), "Id"), global_service=True),
)

Snapshot = dict[str, set[str]]


def snapshot(backend: AwsBackend, regions: list[str] | None = None) -> tuple[Snapshot, list[str]]:
    """Everything the emulator lists, keyed by `kind@region`; plus the collections it could not list."""
    regions = regions or [backend.region]
    # One account per region: each service is read once, whichever collections list its resources.
    accounts = {region: Account(AwsClients(backend), region) for region in regions}
    found: Snapshot = {}
    skipped: list[str] = []
    # One job per service, its collections and regions listed in turn: the first request to a service makes
    # moto decode that service's model (and the client side its own), and moto's cache of decoded models
    # is not single-flight, so eight threads listing EC2's collections at once decoded EC2's 4.5 MB model up
    # to eight times (13 decodes of it in one audit).
    jobs: dict[str, list[tuple[str, Collection, str]]] = {}
    for collection in COLLECTIONS:
        if not backend.serves(collection.service):
            skipped.append(f"{collection.kind} ({backend.unavailable_reason(collection.service)})")
            continue
        for region in [regions[0]] if collection.global_service else regions:
            key = f"{collection.kind}@{'global' if collection.global_service else region}"
            jobs.setdefault(collection.service, []).append((key, collection, region))

    def run(collections: list[tuple[str, Collection, str]]) -> list[tuple[str, set[str] | str]]:
        listed: list[tuple[str, set[str] | str]] = []
        for key, collection, region in collections:
            try:
                listed.append((key, {str(item) for item in collection.ids(accounts[region]) if item is not None}))
            except (ClientError, BotoCoreError, KeyError, NotImplementedError) as exc:
                LOG.debug("cannot list %s: %s", key, exc)
                listed.append((key, type(exc).__name__))
        return listed

    # Threads, because each listing is a round trip to the emulator and most of the time is waiting.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [result for listed in pool.map(run, jobs.values()) for result in listed]
    # Stand-ins are not the stack's (stackprobe.backends.stand_ins): left out, so that a baseline never needs them
    # and a teardown never leaves them behind. Asked after listing, so one made meanwhile is left out too.
    hidden = listed_ids(registered(backend.endpoint))
    for key, result in results:
        if isinstance(result, str):
            skipped.append(f"{key} ({result})")
        else:
            found[key] = result - hidden.get(key.split("@", 1)[0], set())
    return found, skipped


def leftovers(before: Snapshot, after: Snapshot) -> dict[str, set[str]]:
    """What `after` holds that `before` did not, per kind (empty when teardown was clean)."""
    return {key: items - before.get(key, set()) for key, items in after.items() if items - before.get(key, set())}
