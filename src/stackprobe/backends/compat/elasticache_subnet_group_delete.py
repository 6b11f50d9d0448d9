"""ElastiCache: DeleteCacheSubnetGroup exists, and refuses a group still in use, as in AWS.

moto 5.2 implements CreateCacheSubnetGroup and DescribeCacheSubnetGroups but not the delete: the
request answers 500 with a body that is not XML, the provider retries and fails, and `terraform
destroy` stops at `aws_elasticache_subnet_group`, leaving the VPC's subnets, route tables and
security groups behind (seen on the sports-commentary scenario). AWS deletes an unused group, answers
CacheSubnetGroupNotFoundFault for an unknown one, and CacheSubnetGroupInUse while a cluster uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import unimplemented
from stackprobe.backends.compat._monkey import add
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.elasticache.models import ElastiCacheBackend

IN_USE = "CacheSubnetGroupInUse"


def _users(backend: ElastiCacheBackend, name: str) -> list[str]:
    clusters = [c.cache_cluster_id for c in backend.cache_clusters.values() if c.cache_subnet_group_name == name]
    groups = [
        g.replication_group_id
        for g in backend.replication_groups.values()
        if getattr(g, "cache_subnet_group_name", None) == name
    ]
    return clusters + groups


def _delete_cache_subnet_group(self: ElastiCacheBackend, cache_subnet_group_name: str) -> None:
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException

    if cache_subnet_group_name not in self.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(cache_subnet_group_name)
    if _users(self, cache_subnet_group_name):
        raise ElastiCacheException(
            IN_USE, f"Cache subnet group {cache_subnet_group_name} is currently in use by a cache cluster."
        )
    del self.cache_subnet_groups[cache_subnet_group_name]


def _delete_cache_subnet_group_response(self: Any) -> ActionResult:
    from moto.core.responses import EmptyResult

    self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
    return EmptyResult()


def _apply() -> None:
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    add(ElastiCacheBackend, "delete_cache_subnet_group", _delete_cache_subnet_group)
    add(ElastiCacheResponse, "delete_cache_subnet_group", _delete_cache_subnet_group_response)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """DeleteCacheSubnetGroup on an unused group."""
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.83.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.83.1.0/24")["Subnet"]["SubnetId"]
    elasticache = moto.client("elasticache")
    elasticache.create_cache_subnet_group(
        CacheSubnetGroupName="canary-subnets", CacheSubnetGroupDescription="canary", SubnetIds=[subnet]
    )
    return [
        unimplemented(
            "DeleteCacheSubnetGroup is not implemented",
            lambda: elasticache.delete_cache_subnet_group(CacheSubnetGroupName="canary-subnets"),
        )
    ]


PATCH = MotoPatch(
    name="elasticache-subnet-group-delete",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_elasticache_subnet_group",),
    gap="DeleteCacheSubnetGroup is not implemented (a 500 whose body is not XML), so destroy fails at the "
    "subnet group and leaves the VPC it lives in behind.",
    fix="Implements it: deletes an unused group, CacheSubnetGroupNotFoundFault for an unknown one, "
    "CacheSubnetGroupInUse while a cache cluster or replication group uses it.",
    install=_apply,
    canary=reproduce,
)
