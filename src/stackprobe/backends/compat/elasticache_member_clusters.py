"""ElastiCache: a replication group owns real member cache clusters, and deleting it deletes them.

moto 5.2 lists `MemberClusters` ids on a replication group but creates no cache cluster behind them
(and, without cluster mode, ignores `NumCacheClusters`: a group asked for 2 clusters gets 1).
The provider reads the group's engine, version, node type, security groups and at-rest/in-transit
encryption from its first member with DescribeCacheClusters, which answers CacheClusterNotFound, so
`aws_elasticache_replication_group` fails on create (and `at_rest_encryption_enabled` cannot read back).
DeleteReplicationGroup and DeleteCacheCluster only set the status to "deleting" and keep the resource
forever, so the provider's destroy waits until it times out. In AWS the member clusters carry the group's
settings and go with it (except a retained primary), and a deleted resource disappears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import error_of
from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.elasticache.models import CacheCluster, ElastiCacheBackend, ReplicationGroup

# What AWS picks when CreateReplicationGroup names no engine version (the provider reads it back).
DEFAULT_ENGINE_VERSIONS = {"redis": "7.1.0", "valkey": "8.0.1"}
DEFAULT_MAINTENANCE_WINDOW = "sun:05:00-sun:06:00"


def _member_availability_zones(group: ReplicationGroup) -> dict[str, str | None]:
    return {
        member["cache_cluster_id"]: member.get("preferred_availability_zone")
        for node_group in group.node_groups
        for member in node_group["node_group_members"]
    }


def _default_parameter_group(engine: str, version: str, cluster_enabled: bool) -> str:
    name = f"default.{engine}{version.split('.')[0]}"
    return f"{name}.cluster.on" if cluster_enabled else name


def _member_cluster(
    backend: ElastiCacheBackend, group: ReplicationGroup, cluster_id: str, az: str | None
) -> CacheCluster:
    from moto.elasticache.models import CacheCluster

    engine = group.engine or "redis"
    version = group.engine_version or DEFAULT_ENGINE_VERSIONS.get(engine, "7.1.0")
    cluster = CacheCluster(
        account_id=backend.account_id,
        region_name=backend.region_name,
        cache_cluster_id=cluster_id,
        cache_node_type=group.cache_node_type,
        replication_group_id=group.replication_group_id,
        az_mode="single-az",
        preferred_availability_zone=az,
        num_cache_nodes=1,
        engine=engine,
        engine_version=version,
        cache_parameter_group_name=group.cache_parameter_group_name,
        cache_subnet_group_name=group.cache_subnet_group_name,
        transit_encryption_enabled=group.transit_encryption_enabled,
        network_type=group.network_type,
        ip_discovery=group.ip_discovery,
        snapshot_name=None,
        preferred_maintenance_window=group.preferred_maintenance_window or DEFAULT_MAINTENANCE_WINDOW,
        port=group.port,
        notification_topic_arn=group.notification_topic_arn,
        auto_minor_version_upgrade=True
        if group.auto_minor_version_upgrade is None
        else group.auto_minor_version_upgrade,
        snapshot_retention_limit=group.snapshot_retention_limit,
        snapshot_window=group.snapshot_window,
        auth_token=None,
        outpost_mode=None,
        preferred_outpost_arn=None,
        preferred_availability_zones=None,
        cache_security_group_names=group.cache_security_group_names,
        security_group_ids=group.security_group_ids,
        tags=None,
        snapshot_arns=None,
        preferred_outpost_arns=None,
        log_delivery_configurations=[],
        cache_node_ids_to_remove=None,
        cache_node_ids_to_reboot=None,
    )
    # Fields moto's CacheCluster does not model but DescribeCacheClusters returns in AWS.
    extra: Any = cluster
    extra.replication_group_id = group.replication_group_id
    extra.num_cache_nodes = 1
    extra.at_rest_encryption_enabled = group.at_rest_encryption_enabled
    extra.auth_token_enabled = group.auth_token_enabled
    extra.transit_encryption_mode = group.transit_encryption_mode
    extra.security_groups = [{"SecurityGroupId": sg, "Status": "active"} for sg in group.security_group_ids or []]
    extra.cache_parameter_group = {
        "CacheParameterGroupName": group.cache_parameter_group_name
        or _default_parameter_group(engine, version, group.cluster_enabled),
        "ParameterApplyStatus": "in-sync",
        "CacheNodeIdsToReboot": [],
    }
    return cluster


def _apply() -> None:
    from moto.elasticache.models import ElastiCacheBackend

    original_create = ElastiCacheBackend.create_replication_group
    original_delete = ElastiCacheBackend.delete_replication_group
    original_delete_cluster = ElastiCacheBackend.delete_cache_cluster

    def create_replication_group(self: ElastiCacheBackend, **kwargs: Any) -> ReplicationGroup:
        # Without cluster mode, AWS sizes the group by NumCacheClusters (primary + replicas); moto only
        # counts ReplicasPerNodeGroup, so NumCacheClusters=2 alone made a group of one.
        count = kwargs.get("num_cache_clusters")
        if count and not kwargs.get("replicas_per_node_group") and kwargs.get("cluster_mode") != "enabled":
            kwargs["replicas_per_node_group"] = count - 1
        group = original_create(self, **kwargs)
        for cluster_id, az in _member_availability_zones(group).items():
            if cluster_id not in self.cache_clusters:
                self.cache_clusters[cluster_id] = _member_cluster(self, group, cluster_id, az)
        return group

    def delete_replication_group(
        self: ElastiCacheBackend, replication_group_id: str, retain_primary_cluster: bool | None
    ) -> ReplicationGroup:
        members = (
            list(self.replication_groups[replication_group_id].member_clusters)
            if (replication_group_id in self.replication_groups)
            else []
        )
        # moto answers with the group in status "deleting", as AWS does; then it is gone.
        group = original_delete(self, replication_group_id, retain_primary_cluster)
        self.replication_groups.pop(replication_group_id, None)
        retained = members[0] if retain_primary_cluster and members else None
        for cluster_id in members:
            if cluster_id == retained and cluster_id in self.cache_clusters:
                self.cache_clusters[cluster_id].replication_group_id = None
            else:
                self.cache_clusters.pop(cluster_id, None)
        return group

    def delete_cache_cluster(self: ElastiCacheBackend, cache_cluster_id: str) -> CacheCluster:
        cluster = original_delete_cluster(self, cache_cluster_id)
        self.cache_clusters.pop(cache_cluster_id, None)
        return cluster

    replace(ElastiCacheBackend, "create_replication_group", create_replication_group)
    replace(ElastiCacheBackend, "delete_replication_group", delete_replication_group)
    replace(ElastiCacheBackend, "delete_cache_cluster", delete_cache_cluster)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """The provider's replication group (NumCacheClusters=2 alone), its first member read back, then deletes."""
    elasticache = moto.client("elasticache")
    group = elasticache.create_replication_group(
        ReplicationGroupId="canary-rg",
        ReplicationGroupDescription="canary",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=2,
        AtRestEncryptionEnabled=True,
    )["ReplicationGroup"]
    members = group["MemberClusters"]
    member_error = error_of(lambda: elasticache.describe_cache_clusters(CacheClusterId=members[0]))
    elasticache.delete_replication_group(ReplicationGroupId="canary-rg")
    group_left = error_of(lambda: elasticache.describe_replication_groups(ReplicationGroupId="canary-rg")) is None
    elasticache.create_cache_cluster(
        CacheClusterId="canary-cluster", Engine="memcached", CacheNodeType="cache.t4g.micro", NumCacheNodes=1
    )
    elasticache.delete_cache_cluster(CacheClusterId="canary-cluster")
    cluster_left = error_of(lambda: elasticache.describe_cache_clusters(CacheClusterId="canary-cluster")) is None
    return [
        Symptom("NumCacheClusters=2 makes a group of one", len(members) != 2, f"MemberClusters={members}"),
        Symptom(
            "a member cluster of a replication group does not exist",
            member_error is not None,
            f"DescribeCacheClusters({members[0]}): {member_error or 'found'}",
        ),
        Symptom(
            "a deleted replication group stays",
            group_left,
            "still described after DeleteReplicationGroup" if group_left else "gone",
        ),
        Symptom(
            "a deleted cache cluster stays",
            cluster_left,
            "still described after DeleteCacheCluster" if cluster_left else "gone",
        ),
    ]


PATCH = MotoPatch(
    name="elasticache-member-clusters",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_elasticache_replication_group", "aws_elasticache_cluster"),
    gap="NumCacheClusters is ignored, a replication group's MemberClusters have no cache cluster behind "
    "them (the provider's read of the first member fails, so at_rest_encryption_enabled cannot read back), "
    "and deleted replication groups and cache clusters stay in 'deleting' forever, so destroy never ends.",
    fix="Sizes a group by NumCacheClusters, creates a member cache cluster per member id carrying the "
    "group's settings (engine, version, node type, security groups, encryption), and removes deleted "
    "groups with their members, and deleted clusters.",
    install=_apply,
    canary=reproduce,
)
