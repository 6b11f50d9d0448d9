"""ElastiCache: replication groups, cache clusters (with their nodes) and cache subnet groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


class ElastiCacheReader(ServiceReader):
    service = "elasticache"

    def replication_groups(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing(
            "replication groups", lambda: self.paginate("describe_replication_groups", "ReplicationGroups")
        )

    def cache_clusters(self) -> tuple[Mapping[str, Any], ...]:
        """Every cache cluster, replication group members included, with its nodes' endpoints."""
        return self.listing(
            "cache clusters", lambda: self.paginate("describe_cache_clusters", "CacheClusters", ShowCacheNodeInfo=True)
        )

    def subnet_groups(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("subnet groups", lambda: self.paginate("describe_cache_subnet_groups", "CacheSubnetGroups"))
