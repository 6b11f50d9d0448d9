"""ElastiCache: replication groups own member cache clusters, deletes complete, subnet groups can be deleted."""

from __future__ import annotations

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("elasticache-member-clusters", "elasticache-subnet-group-delete")


def _group(backend: AwsBackend, group_id: str) -> dict[str, object]:
    # The provider's request for num_cache_clusters = 2: NumCacheClusters alone, no ReplicasPerNodeGroup.
    answer = backend.client("elasticache").create_replication_group(
        ReplicationGroupId=group_id,
        ReplicationGroupDescription="compat",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=2,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
    )
    return dict(answer["ReplicationGroup"])


def test_member_clusters_exist_and_carry_the_group_settings(backend: AwsBackend) -> None:
    elasticache = backend.client("elasticache")
    group = _group(backend, "compat-rg")
    members = group["MemberClusters"]
    assert isinstance(members, list) and len(members) == 2

    # The provider's read: the first node group member, with node info.
    first = elasticache.describe_cache_clusters(CacheClusterId=members[0], ShowCacheNodeInfo=True)["CacheClusters"][0]

    assert first["ReplicationGroupId"] == "compat-rg"
    assert first["AtRestEncryptionEnabled"] is True
    assert first["TransitEncryptionEnabled"] is True
    assert first["CacheNodeType"] == "cache.t4g.micro"
    assert first["Engine"] == "redis"
    assert first["EngineVersion"]
    assert first["CacheParameterGroup"]["CacheParameterGroupName"].startswith("default.redis")
    for member in members:
        assert elasticache.describe_cache_clusters(CacheClusterId=member)["CacheClusters"]


def test_deleting_the_group_deletes_it_and_its_members(backend: AwsBackend) -> None:
    elasticache = backend.client("elasticache")
    members = _group(backend, "compat-rg-delete")["MemberClusters"]
    assert isinstance(members, list)

    answer = elasticache.delete_replication_group(ReplicationGroupId="compat-rg-delete")

    assert answer["ReplicationGroup"]["Status"] == "deleting"
    with pytest.raises(elasticache.exceptions.ReplicationGroupNotFoundFault):
        elasticache.describe_replication_groups(ReplicationGroupId="compat-rg-delete")
    for member in members:
        with pytest.raises(elasticache.exceptions.CacheClusterNotFoundFault):
            elasticache.describe_cache_clusters(CacheClusterId=member)


def test_deleting_a_cache_cluster_completes(backend: AwsBackend) -> None:
    elasticache = backend.client("elasticache")
    elasticache.create_cache_cluster(
        CacheClusterId="compat-cluster", Engine="memcached", CacheNodeType="cache.t4g.micro", NumCacheNodes=1
    )

    answer = elasticache.delete_cache_cluster(CacheClusterId="compat-cluster")

    assert answer["CacheCluster"]["CacheClusterStatus"] == "deleting"
    with pytest.raises(elasticache.exceptions.CacheClusterNotFoundFault):
        elasticache.describe_cache_clusters(CacheClusterId="compat-cluster")


def _subnet_group(backend: AwsBackend, name: str) -> None:
    ec2 = backend.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    backend.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName=name, CacheSubnetGroupDescription="compat", SubnetIds=[subnet]
    )


def test_an_unused_subnet_group_is_deleted(backend: AwsBackend) -> None:
    elasticache = backend.client("elasticache")
    _subnet_group(backend, "compat-subnets")

    elasticache.delete_cache_subnet_group(CacheSubnetGroupName="compat-subnets")

    with pytest.raises(elasticache.exceptions.CacheSubnetGroupNotFoundFault):
        elasticache.describe_cache_subnet_groups(CacheSubnetGroupName="compat-subnets")
    with pytest.raises(elasticache.exceptions.CacheSubnetGroupNotFoundFault):
        elasticache.delete_cache_subnet_group(CacheSubnetGroupName="compat-subnets")


def test_a_subnet_group_in_use_is_refused_until_its_cluster_is_gone(backend: AwsBackend) -> None:
    """As in AWS: the provider's destroy deletes the cluster first, then the group."""
    elasticache = backend.client("elasticache")
    _subnet_group(backend, "compat-used-subnets")
    elasticache.create_cache_cluster(
        CacheClusterId="compat-user",
        Engine="memcached",
        CacheNodeType="cache.t4g.micro",
        NumCacheNodes=1,
        CacheSubnetGroupName="compat-used-subnets",
    )

    with pytest.raises(elasticache.exceptions.ClientError) as refused:
        elasticache.delete_cache_subnet_group(CacheSubnetGroupName="compat-used-subnets")
    assert refused.value.response["Error"]["Code"] == "CacheSubnetGroupInUse"

    elasticache.delete_cache_cluster(CacheClusterId="compat-user")
    elasticache.delete_cache_subnet_group(CacheSubnetGroupName="compat-used-subnets")
