"""The datastores a stack deployed, read from the emulator and the Terraform state: what a local server must be.

Each `DeployedDatastore` is one server's worth: an RDS instance (its read replicas and an RDS Proxy in front of
it are served by the same server, at their own endpoints), an Aurora cluster (cluster, reader and member
endpoints), an ElastiCache replication group or a cache cluster outside one. For each it says the engine and
major version, every endpoint a client may be given (host, port, and the network-model workload that receives
the traffic, with the hop behind a proxy), the database name and master user, and what stands for credentials:
- the master password from the secret RDS manages (`manage_master_user_password`, read from the emulator's
  Secrets Manager), else from the state's `password`; when neither holds it (a write-only `password_wo`), the
  local master gets a password of its own, and the notes say so;
- users an RDS Proxy requires IAM for (the usernames of its auth secrets): they log in with IAM tokens;
- for Redis, the AUTH token (`auth_token`, from the state) or the RBAC users of the group's user group
  (`aws_elasticache_user`: access string, passwords, IAM), and whether transit encryption is on.
Values read here are given to the local server only; reports name them, never show them.
"""

from __future__ import annotations

import json
import secrets as token_source
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from stackprobe.aws.account import Account
from stackprobe.datastores.engines import Family, family_of, flavour_of, major_of
from stackprobe.datastores.servers import RedisUser
from stackprobe.network.reachability import Graph

if TYPE_CHECKING:
    from stackprobe.terraform.plan import Plan

# PostgreSQL from 15 on RDS: rds.force_ssl defaults to 1 (TLS only).
FORCE_SSL_FROM = 15


class Deployment(Protocol):
    """What discovery reads of a deployed stack (a CheckContext is one)."""

    @property
    def account(self) -> Account: ...

    @property
    def state(self) -> Mapping[str, Any]: ...

    @property
    def network_graph(self) -> Graph: ...

    @property
    def plan(self) -> Plan | None: ...

    def address_for(self, *identifiers: str | None) -> str | None: ...


@dataclass(frozen=True)
class Endpoint:
    """One address clients are given; `network_id` is the network-model workload the traffic arrives at, and
    `behind` the one a proxy passes it on to (checked as a second hop)."""

    host: str
    port: int
    role: str  # "endpoint", "reader endpoint", "replica <id>", "RDS Proxy <name>", "node <id>"
    network_id: str
    behind: str | None = None


@dataclass(frozen=True)
class DeployedDatastore:
    """One datastore a local server stands in for (see the module docstring)."""

    kind: str  # "rds instance", "aurora cluster", "elasticache replication group", "elasticache cluster"
    identifier: str
    arn: str
    address: str | None  # its Terraform address, when the state maps it
    engine: str  # as deployed: postgres, aurora-postgresql, mysql, mariadb, redis, valkey
    version: str  # EngineVersion as deployed
    endpoints: tuple[Endpoint, ...]
    db_name: str | None = None
    master_user: str | None = None
    master_password: str | None = field(default=None, repr=False)
    password_source: str = ""
    iam_users: tuple[str, ...] = ()
    tls: bool = False
    auth_token: str | None = field(default=None, repr=False)
    redis_users: tuple[RedisUser, ...] = field(default=(), repr=False)
    instance_class: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def family(self) -> Family:
        family = family_of(self.engine)
        assert family is not None, self.engine
        return family

    @property
    def flavour(self) -> str:
        return flavour_of(self.engine)

    @property
    def major(self) -> str:
        return major_of(self.family, self.version, self.flavour)

    @property
    def label(self) -> str:
        """How a report names it: its Terraform address, else its kind and identifier."""
        return self.address or f"{self.kind} {self.identifier}"

    def names(self) -> set[str]:
        """Every way `--datastore ADDRESS=...` may name it: address (with and without index), identifier, ARN,
        and the endpoints' hosts."""
        found = {self.identifier, self.arn, *(e.host for e in self.endpoints)}
        if self.address:
            found |= {self.address, _without_index(self.address)}
        return {name for name in found if name}


def _without_index(address: str) -> str:
    import re

    return re.sub(r"\[[^\]]*\]", "", address)


def state_instances(state: Mapping[str, Any], resource_type: str) -> Iterator[Mapping[str, Any]]:
    """The attributes of every managed instance of `resource_type` in a state."""
    for resource in state.get("resources", []) or []:
        if resource.get("mode") == "managed" and resource.get("type") == resource_type:
            for instance in resource.get("instances", []) or []:
                yield instance.get("attributes") or {}


def _secret_document(account: Account, arn: str) -> dict[str, Any]:
    try:
        text = account.secretsmanager.secret_string(arn)
    except (ClientError, BotoCoreError):
        return {}
    try:
        document = json.loads(text or "")
    except json.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def _master_password(
    account: Account, raw: Mapping[str, Any], state_attributes: Mapping[str, Any] | None
) -> tuple[str, str]:
    """(password, where it came from); a password of the local server's own when the stack's cannot be read."""
    secret = str((raw.get("MasterUserSecret") or {}).get("SecretArn") or "")
    if secret:
        password = _secret_document(account, secret).get("password")
        if isinstance(password, str):
            return password, "the secret RDS manages (manage_master_user_password)"
    password = (state_attributes or {}).get("password")
    if isinstance(password, str) and password:
        return password, "the state's password"
    return (
        token_source.token_urlsafe(18),
        "a password of the local server's own (the stack's is write-only: not in the state, no managed secret)",
    )


def _state_by(state: Mapping[str, Any], resource_type: str, key: str) -> dict[str, Mapping[str, Any]]:
    return {str(a.get(key)): a for a in state_instances(state, resource_type) if a.get(key)}


def _proxy_endpoints(
    account: Account, targets: Mapping[str, str]
) -> tuple[dict[str, list[Endpoint]], dict[str, list[str]]]:
    """Per target instance identifier: the endpoints of the proxies in front of it, and the users they require IAM
    for."""
    endpoints: dict[str, list[Endpoint]] = {}
    iam: dict[str, list[str]] = {}
    proxies = {p.name: p for p in account.rds.proxies()}
    for raw in account.rds.proxy_records():
        proxy = proxies.get(str(raw.get("DBProxyName")))
        if proxy is None:
            continue
        users = [
            str(_secret_document(account, str(auth.get("SecretArn"))).get("username") or "")
            for auth in raw.get("Auth") or []
            if str(auth.get("IAMAuth", "")).upper() == "REQUIRED" and auth.get("SecretArn")
        ]
        port = 5432 if str(raw.get("EngineFamily", "")).upper() == "POSTGRESQL" else 3306
        arn = str(raw.get("DBProxyArn") or proxy.name)
        for target in proxy.targets:
            if target not in targets:
                continue
            endpoints.setdefault(target, []).extend(
                Endpoint(host, port, f"RDS Proxy {proxy.name}", arn, behind=targets[target]) for host in proxy.endpoints
            )
            iam.setdefault(target, []).extend(user for user in users if user)
    return endpoints, iam


def discover(deployment: Deployment) -> list[DeployedDatastore]:
    """Every datastore the account holds that a local server could stand in for (engines of no known family,
    such as memcached, are left out)."""
    return [*_rds(deployment), *_elasticache(deployment)]


def _rds(deployment: Deployment) -> Iterator[DeployedDatastore]:
    account, state = deployment.account, deployment.state
    instances = [db for db in account.rds.instances() if family_of(str(db.raw.get("Engine", ""))) is not None]
    by_identifier = _state_by(state, "aws_db_instance", "identifier")
    primaries = {db.identifier: db.arn for db in instances if db.primary}
    proxy_endpoints, proxy_users = _proxy_endpoints(account, primaries)
    for db in instances:
        if not db.primary:
            continue
        raw = db.raw
        endpoint = raw.get("Endpoint") or {}
        port = int(endpoint.get("Port") or raw.get("DbInstancePort") or 0)
        endpoints = [Endpoint(str(endpoint.get("Address") or ""), port, "endpoint", db.arn)]
        for replica in instances:
            if replica.replica and replica.raw.get("ReadReplicaSourceDBInstanceIdentifier") in (db.identifier, db.arn):
                found = replica.raw.get("Endpoint") or {}
                endpoints.append(
                    Endpoint(
                        str(found.get("Address") or ""),
                        int(found.get("Port") or port),
                        f"read replica {replica.identifier}",
                        replica.arn,
                    )
                )
        endpoints += proxy_endpoints.get(db.identifier, [])
        attributes = by_identifier.get(db.identifier)
        password, source = _master_password(account, raw, attributes)
        engine, version = str(raw.get("Engine", "")), str(raw.get("EngineVersion", ""))
        notes = []
        if any(e.role.startswith("read replica") for e in endpoints):
            notes.append("its read replicas are served by the same server (writes to them are not refused here)")
        yield DeployedDatastore(
            kind="rds instance",
            identifier=db.identifier,
            arn=db.arn,
            address=deployment.address_for(db.arn, db.identifier),
            engine=engine,
            version=version,
            endpoints=tuple(e for e in endpoints if e.host and e.port),
            db_name=str(raw.get("DBName") or "") or None,
            master_user=str(raw.get("MasterUsername") or "") or None,
            master_password=password,
            password_source=source,
            iam_users=tuple(dict.fromkeys(proxy_users.get(db.identifier, []))),
            tls=_force_ssl(engine, version),
            instance_class=str(raw.get("DBInstanceClass") or "") or None,
            notes=tuple(notes),
        )
    for cluster in account.rds.clusters():
        engine = str(cluster.get("Engine", ""))
        if family_of(engine) is None:
            continue
        port = int(cluster.get("Port") or 0)
        arn = str(cluster.get("DBClusterArn") or cluster["DBClusterIdentifier"])
        endpoints = [Endpoint(str(cluster.get("Endpoint") or ""), port, "endpoint", arn)]
        endpoints.append(Endpoint(str(cluster.get("ReaderEndpoint") or ""), port, "reader endpoint", arn))
        for member in instances:
            if member.raw.get("DBClusterIdentifier") == cluster["DBClusterIdentifier"]:
                found = member.raw.get("Endpoint") or {}
                endpoints.append(
                    Endpoint(str(found.get("Address") or ""), int(found.get("Port") or port), "instance", arn)
                )
        clusters_state = _state_by(state, "aws_rds_cluster", "cluster_identifier")
        password, source = _master_password(account, cluster, clusters_state.get(cluster["DBClusterIdentifier"]))
        version = str(cluster.get("EngineVersion", ""))
        yield DeployedDatastore(
            kind="aurora cluster",
            identifier=str(cluster["DBClusterIdentifier"]),
            arn=arn,
            address=deployment.address_for(arn, str(cluster["DBClusterIdentifier"])),
            engine=engine,
            version=version,
            endpoints=tuple(dict.fromkeys(e for e in endpoints if e.host and e.port)),
            db_name=str(cluster.get("DatabaseName") or "") or None,
            master_user=str(cluster.get("MasterUsername") or "") or None,
            master_password=password,
            password_source=source,
            tls=_force_ssl(engine, version),
        )


def _force_ssl(engine: str, version: str) -> bool:
    family = family_of(engine)
    if family is not Family.POSTGRES:
        return False
    major = major_of(family, version)
    return major.isdigit() and int(major) >= FORCE_SSL_FROM


def _redis_users(state: Mapping[str, Any], group_ids: Iterable[str]) -> tuple[RedisUser, ...]:
    groups = _state_by(state, "aws_elasticache_user_group", "user_group_id")
    users = _state_by(state, "aws_elasticache_user", "user_id")
    found: list[RedisUser] = []
    for group_id in group_ids:
        for user_id in (groups.get(group_id) or {}).get("user_ids") or []:
            user = users.get(str(user_id))
            if user is None:
                continue
            modes = user.get("authentication_mode") or []
            mode = str((modes[0] if modes else {}).get("type") or "")
            passwords = tuple(str(p) for p in user.get("passwords") or [] if p)
            passwords = passwords or tuple(str(p) for p in (modes[0] if modes else {}).get("passwords") or [] if p)
            found.append(
                RedisUser(
                    name=str(user.get("user_name") or user_id),
                    access_string=str(user.get("access_string") or "off"),
                    passwords=passwords,
                    iam=mode == "iam",
                )
            )
    return tuple(found)


def _user_groups(group: Mapping[str, Any], attributes: Mapping[str, Any]) -> list[str]:
    return [str(g) for g in group.get("UserGroupIds") or attributes.get("user_group_ids") or []]


def _elasticache(deployment: Deployment) -> Iterator[DeployedDatastore]:
    account, state = deployment.account, deployment.state
    clusters = {c["CacheClusterId"]: c for c in account.elasticache.cache_clusters()}
    group_state = _state_by(state, "aws_elasticache_replication_group", "replication_group_id")
    cluster_state = _state_by(state, "aws_elasticache_cluster", "cluster_id")
    grouped: set[str] = set()
    for group in account.elasticache.replication_groups():
        if group.get("Status") == "deleting":
            continue
        members = [clusters[m] for m in group.get("MemberClusters", []) if m in clusters]
        grouped.update(group.get("MemberClusters", []))
        attributes = group_state.get(str(group["ReplicationGroupId"])) or {}
        engine = str(group.get("Engine") or (members[0].get("Engine") if members else "") or "redis")
        if family_of(engine) is not Family.REDIS:
            continue
        arn = str(group.get("ARN") or group["ReplicationGroupId"])
        endpoints: list[Endpoint] = []
        configuration = group.get("ConfigurationEndpoint") or {}
        if configuration.get("Address"):
            endpoints.append(
                Endpoint(
                    configuration["Address"], int(configuration.get("Port") or 6379), "configuration endpoint", arn
                )
            )
        for node_group in group.get("NodeGroups", []) or []:
            for role, key in (("primary endpoint", "PrimaryEndpoint"), ("reader endpoint", "ReaderEndpoint")):
                found = node_group.get(key) or {}
                if found.get("Address"):
                    endpoints.append(Endpoint(found["Address"], int(found.get("Port") or 6379), role, arn))
        for member in members:
            for node in member.get("CacheNodes", []) or []:
                found = node.get("Endpoint") or {}
                if found.get("Address"):
                    endpoints.append(
                        Endpoint(
                            found["Address"], int(found.get("Port") or 6379), f"node {member['CacheClusterId']}", arn
                        )
                    )
        version = str(
            (members[0].get("EngineVersion") if members else "")
            or attributes.get("engine_version_actual")
            or attributes.get("engine_version")
            or ""
        )
        token = attributes.get("auth_token")
        yield DeployedDatastore(
            kind="elasticache replication group",
            identifier=str(group["ReplicationGroupId"]),
            arn=arn,
            address=deployment.address_for(arn, str(group["ReplicationGroupId"])),
            engine=engine,
            version=version,
            endpoints=tuple(dict.fromkeys(endpoints)),
            tls=bool(group.get("TransitEncryptionEnabled") or attributes.get("transit_encryption_enabled")),
            auth_token=str(token) if token else None,
            redis_users=_redis_users(state, _user_groups(group, attributes)),
        )
    for cluster_id, cluster in clusters.items():
        if cluster_id in grouped or cluster.get("ReplicationGroupId"):
            continue
        engine = str(cluster.get("Engine") or "")
        if family_of(engine) is not Family.REDIS or cluster.get("CacheClusterStatus") == "deleting":
            continue
        arn = str(cluster.get("ARN") or cluster_id)
        endpoints = [
            Endpoint(node["Endpoint"]["Address"], int(node["Endpoint"].get("Port") or 6379), f"node {cluster_id}", arn)
            for node in cluster.get("CacheNodes", []) or []
            if (node.get("Endpoint") or {}).get("Address")
        ]
        attributes = cluster_state.get(cluster_id) or {}
        yield DeployedDatastore(
            kind="elasticache cluster",
            identifier=cluster_id,
            arn=arn,
            address=deployment.address_for(arn, cluster_id),
            engine=engine,
            version=str(cluster.get("EngineVersion") or attributes.get("engine_version") or ""),
            endpoints=tuple(endpoints),
            tls=bool(cluster.get("TransitEncryptionEnabled")),
        )
