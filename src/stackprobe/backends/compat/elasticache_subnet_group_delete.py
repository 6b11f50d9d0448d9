"""ElastiCache: DeleteCacheSubnetGroup exists, and refuses a group still in use, as in AWS.

moto 5.2 implements CreateCacheSubnetGroup and DescribeCacheSubnetGroups but not the delete: the
request answers 500 with a body that is not XML, the provider retries and fails, and `terraform
destroy` stops at `aws_elasticache_subnet_group`, leaving the VPC's subnets, route tables and
security groups behind (seen on the sports-commentary scenario). AWS deletes an unused group, answers
CacheSubnetGroupNotFoundFault for an unknown one, and CacheSubnetGroupInUse while a cluster uses it.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse

from stackprobe.backends.compat._monkey import add
from stackprobe.backends.compat.base import GapKind, MotoPatch


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str) -> None:
        super().__init__(f"Cache subnet group {name} is currently in use by a cache cluster.")


def _users(backend: ElastiCacheBackend, name: str) -> list[str]:
    clusters = [c.cache_cluster_id for c in backend.cache_clusters.values() if c.cache_subnet_group_name == name]
    groups = [
        g.replication_group_id
        for g in backend.replication_groups.values()
        if getattr(g, "cache_subnet_group_name", None) == name
    ]
    return clusters + groups


def _delete_cache_subnet_group(self: ElastiCacheBackend, cache_subnet_group_name: str) -> None:
    if cache_subnet_group_name not in self.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(cache_subnet_group_name)
    if _users(self, cache_subnet_group_name):
        raise CacheSubnetGroupInUse(cache_subnet_group_name)
    del self.cache_subnet_groups[cache_subnet_group_name]


def _delete_cache_subnet_group_response(self: Any) -> ActionResult:
    self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
    return EmptyResult()


def _apply() -> None:
    add(ElastiCacheBackend, "delete_cache_subnet_group", _delete_cache_subnet_group)
    add(ElastiCacheResponse, "delete_cache_subnet_group", _delete_cache_subnet_group_response)


PATCH = MotoPatch(
    name="elasticache-subnet-group-delete",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_elasticache_subnet_group",),
    gap="DeleteCacheSubnetGroup is not implemented (a 500 whose body is not XML), so destroy fails at the "
    "subnet group and leaves the VPC it lives in behind.",
    fix="Implements it: deletes an unused group, CacheSubnetGroupNotFoundFault for an unknown one, "
    "CacheSubnetGroupInUse while a cache cluster or replication group uses it.",
    install=_apply,
)
