"""RDS: instances, Aurora clusters, proxies (and their connection pools), subnet and parameter groups."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from stackprobe.aws.readers.base import ServiceReader


@dataclass(frozen=True)
class DbInstance:
    """One instance as DescribeDBInstances reports it (`raw`), with the facts several checks ask of it."""

    raw: Mapping[str, Any]

    @property
    def identifier(self) -> str:
        return str(self.raw["DBInstanceIdentifier"])

    @property
    def arn(self) -> str:
        return str(self.raw["DBInstanceArn"])

    @property
    def tags(self) -> list[Mapping[str, Any]]:
        return list(self.raw.get("TagList") or [])

    @property
    def standalone(self) -> bool:
        """Not an Aurora cluster member (whose backup, encryption and protection settings are the cluster's)."""
        return not self.raw.get("DBClusterIdentifier")

    @property
    def replica(self) -> bool:
        return bool(self.raw.get("ReadReplicaSourceDBInstanceIdentifier"))

    @property
    def primary(self) -> bool:
        return self.standalone and not self.replica

    @property
    def endpoint_address(self) -> str:
        return str((self.raw.get("Endpoint") or {}).get("Address") or "")

    @property
    def master_secret_arn(self) -> str:
        """The Secrets Manager secret RDS keeps the master password in ("" when RDS does not manage it)."""
        return str((self.raw.get("MasterUserSecret") or {}).get("SecretArn") or "")


@dataclass(frozen=True)
class DbProxy:
    """An RDS Proxy: the endpoints clients use, the instances behind it, and its share of their connections."""

    name: str
    endpoints: tuple[str, ...]
    targets: tuple[str, ...]
    max_connections_percent: int


class RdsReader(ServiceReader):
    service = "rds"

    def instances(self) -> tuple[DbInstance, ...]:
        return self.listing("instances", lambda: map(DbInstance, self.paginate("describe_db_instances", "DBInstances")))

    def clusters(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("clusters", lambda: self.paginate("describe_db_clusters", "DBClusters"))

    def proxy_records(self) -> tuple[Mapping[str, Any], ...]:
        """DescribeDBProxies as it answers (the network model needs no more than this)."""
        return self.listing("proxy records", lambda: self.paginate("describe_db_proxies", "DBProxies"))

    def proxies(self) -> tuple[DbProxy, ...]:
        """Each proxy with its endpoints, its RDS instance targets and its default pool's MaxConnectionsPercent."""
        return self.listing("proxies", lambda: [self._proxy(raw) for raw in self.proxy_records()])

    def _proxy(self, raw: Mapping[str, Any]) -> DbProxy:
        rds, name = self.client(), raw["DBProxyName"]
        endpoints = [str(raw.get("Endpoint", ""))]
        # Extra (reader/cross-VPC) endpoints; moto 5.2 does not implement the call and answers an HTML 500.
        with contextlib.suppress(ClientError, BotoCoreError, ResponseParserError):
            endpoints += [
                str(e.get("Endpoint", ""))
                for e in rds.describe_db_proxy_endpoints(DBProxyName=name).get("DBProxyEndpoints", [])
            ]
        targets = [
            str(t.get("RdsResourceId", ""))
            for t in rds.describe_db_proxy_targets(DBProxyName=name).get("Targets", [])
            if t.get("Type", "RDS_INSTANCE") == "RDS_INSTANCE"
        ]
        groups = rds.describe_db_proxy_target_groups(DBProxyName=name).get("TargetGroups", [])
        default = next((g for g in groups if g.get("IsDefault")), groups[0] if groups else {})
        percent = int((default.get("ConnectionPoolConfig") or {}).get("MaxConnectionsPercent", 100))
        return DbProxy(name, tuple(e for e in endpoints if e), tuple(targets), percent)

    def subnet_groups(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("subnet groups", lambda: self.paginate("describe_db_subnet_groups", "DBSubnetGroups"))

    def parameter_groups(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing(
            "parameter groups", lambda: self.paginate("describe_db_parameter_groups", "DBParameterGroups")
        )

    def parameters(self, group: str) -> tuple[Mapping[str, Any], ...]:
        """Every parameter of a parameter group (raises the ClientError RDS answers for an unknown group)."""
        return self.read(
            ("parameters", group),
            lambda: tuple(self.paginate("describe_db_parameters", "Parameters", DBParameterGroupName=group)),
        )
