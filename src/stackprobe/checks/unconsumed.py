"""Capacity the stack pays for that no workload uses.

A read replica or a cache costs as much as the instances it runs on whether or not anything reads from
it, and a pool size in the task definition protects nothing if the application never reads it: the
connection-budget arithmetic (database.connection-budget, the stack's own precondition) then guards a
number the running code does not follow. Each is invisible to the resource itself, and shows only from
the consumers' side:
- a replica's or a cache's endpoint that no ECS task definition is given (environment or environment file
  values, by address);
- a pool setting a container is given that its application does not read, as the application declares
  what it reads (`environment` in its stackprobe-contract.yaml; without that list a container's reads
  are unknown and its pool settings are not judged).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from stackprobe.aws.workloads import Workload
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.checks.database import OVERFLOW_KEYS, POOL_SIZE_KEYS
from stackprobe.probes.contract import contract_for

# Variables that size what a process holds open against a data store.
POOL_SETTING_KEYS = (*POOL_SIZE_KEYS, *OVERFLOW_KEYS)


def _consumers(address: str, workloads: Sequence[Workload]) -> list[str]:
    """The workloads whose task definition carries `address` in one of its environment values."""
    return [w.label for w in workloads if address and any(address in value for value in w.all_environment().values())]


def _cache_endpoints(group: Mapping[str, Any]) -> list[str]:
    """Addresses a client may be given for a replication group: its primary, reader or configuration endpoint."""
    addresses = [str((group.get("ConfigurationEndpoint") or {}).get("Address") or "")]
    for node_group in group.get("NodeGroups") or []:
        addresses.append(str((node_group.get("PrimaryEndpoint") or {}).get("Address") or ""))
        addresses.append(str((node_group.get("ReaderEndpoint") or {}).get("Address") or ""))
        addresses += [
            str((m.get("ReadEndpoint") or {}).get("Address") or "") for m in node_group.get("NodeGroupMembers") or []
        ]
    return [a for a in addresses if a]


@check(
    "capacity.unconsumed",
    "Every read replica and cache is given to a workload, and every pool setting is read by its container",
    severity=Severity.MEDIUM,
    category=Category.COST,
    services=("ecs", "rds", "elasticache"),
    why="A read replica or a cache no task is given serves nothing and still costs its instances (a "
    "db.r6g.large replica about 200 USD a month); the reads it was meant to absorb stay on the primary. A pool "
    "size the application does not read means the connection budget counts connections the code does not "
    "open, or misses the ones it does.",
    fix="Pass each replica's and cache's endpoint to the tasks that should use them (e.g. DB_READ_HOSTS, "
    "CACHE_HOST) and make the application read them, or remove the capacity; give containers only pool "
    "settings their application reads (and list what it reads in stackprobe-contract.yaml).",
    reference="terraform/main.tf (db_environment: DB_READ_HOSTS, DB_POOL_SIZE; cache_environment) and "
    "app/modelserve/config.py",
    reads=("aws_db_instance", "aws_elasticache_replication_group", "aws_ecs_service"),
)
def unconsumed(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    workloads = ctx.account.ecs.workloads()
    for db in ctx.account.rds.instances():
        if not db.replica:
            continue
        identifier, address = db.identifier, db.endpoint_address
        users = _consumers(address, workloads)
        evidence = (
            f"read replica {identifier} ({address}) is given to {', '.join(users)}"
            if users
            else f"read replica {identifier}: no task definition is given its endpoint {address or '(none yet)'}; "
            "it replicates and costs, and nothing reads from it"
        )
        yield ctx.finding(check_, bool(users), db.arn, evidence, identifier)
    for group in ctx.account.elasticache.replication_groups():
        endpoints = _cache_endpoints(group)
        users = sorted({user for endpoint in endpoints for user in _consumers(endpoint, workloads)})
        name = str(group["ReplicationGroupId"])
        evidence = (
            f"cache {name} is given to {', '.join(users)}"
            if users
            else f"cache {name}: no task definition is given any of its endpoints "
            f"({', '.join(endpoints) or 'none yet'})"
        )
        yield ctx.finding(check_, bool(users), str(group.get("ARN") or name), evidence, name)
    yield from _pool_settings(check_, ctx, workloads)


def _pool_settings(check_: Check, ctx: CheckContext, workloads: Sequence[Workload]) -> Iterator[Finding]:
    contract = contract_for(ctx)
    for workload in workloads:
        for container in workload.containers:
            name = str(container.get("name", ""))
            given = sorted(key for key in workload.environment(container) if key in POOL_SETTING_KEYS)
            reads = contract.environment.get(name)
            if not given or reads is None:
                continue
            unread = [key for key in given if key not in reads]
            label = f"{workload.label} container {name}"
            where = contract.where(f"environment.{name}")
            if unread:
                evidence = (
                    f"{label} is given {', '.join(unread)}, which its application does not read ({where}): the "
                    "connection budget counts a pool the code does not size"
                )
            else:
                evidence = f"{label} is given {', '.join(given)}, and its application reads it ({where})"
            yield ctx.finding(check_, not unread, workload.arn, evidence, workload.task_definition_arn)
