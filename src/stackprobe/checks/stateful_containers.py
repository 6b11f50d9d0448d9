"""Databases and caches run as ECS containers keep their data somewhere that outlives the task.

A take-home habit: the application's task definition carries a `postgres` (or `mysql`, `mongo`, `redis`)
container beside the app. Without a persistent volume its data lives in the task's writable layer: every
deploy, scale-in or task replacement starts an empty database, and with two tasks each has its own. On
Fargate only an EFS volume persists; on EC2 a Docker volume of scope `shared` does too (on that instance).

Read from the plan (the task definitions as configured); a `container_definitions` known only after apply
is read from the state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stackprobe.checks._support import known
from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.terraform.plan import PlannedResource

# Image repositories (the last path segment, before the tag) that hold data: databases, caches, brokers.
STATEFUL_IMAGES = {
    "postgres": "PostgreSQL",
    "postgis": "PostgreSQL",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "mongo": "MongoDB",
    "mongodb": "MongoDB",
    "redis": "Redis",
    "valkey": "Valkey",
    "redis-stack": "Redis",
    "elasticsearch": "Elasticsearch",
    "opensearch": "OpenSearch",
    "rabbitmq": "RabbitMQ",
    "cassandra": "Cassandra",
    "neo4j": "Neo4j",
    "influxdb": "InfluxDB",
    "couchdb": "CouchDB",
    "clickhouse-server": "ClickHouse",
    "minio": "MinIO",
}
_REPOSITORY = re.compile(r"^(?:[^/]+/)*(?P<name>[^/:@]+)(?::[^@]*)?(?:@.*)?$")


def stateful_engine(image: str) -> str | None:
    """The data store an image runs (`postgres:16-alpine` -> PostgreSQL, `bitnami/redis` -> Redis), else None."""
    match = _REPOSITORY.match(image.strip())
    return STATEFUL_IMAGES.get(match.group("name").lower()) if match else None


def _containers(value: Any) -> list[Mapping[str, Any]] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, list):
        return [c for c in value if isinstance(c, Mapping)]
    return None


def _persistent_volumes(definition: PlannedResource, ctx: CheckContext) -> dict[str, str]:
    """Volume name -> how it persists, for the task definition's volumes that outlive a task."""
    volumes = known(ctx, definition, "volume")
    found: dict[str, str] = {}
    for volume in volumes if isinstance(volumes, list) else []:
        if not isinstance(volume, Mapping) or not volume.get("name"):
            continue
        if volume.get("efs_volume_configuration"):
            found[str(volume["name"])] = "an EFS volume"
        for docker in volume.get("docker_volume_configuration") or []:
            if isinstance(docker, Mapping) and docker.get("scope") == "shared":
                found[str(volume["name"])] = "a shared Docker volume (it stays on one instance)"
    return found


@check(
    "ecs.stateful-container-storage",
    "Databases and caches run in ECS tasks keep their data on persistent storage",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    services=(),
    why="A database container without a persistent volume writes into the task: every deploy, scale-in, "
    "health-check replacement or Spot interruption starts it empty, and with more than one task each has its "
    "own database, so requests see different data. Nothing fails at apply time; the data is simply gone.",
    fix="Use the managed service (aws_db_instance / aws_rds_cluster for SQL, aws_elasticache_replication_group "
    "for Redis) and pass its endpoint to the app; if it must stay a container, run it as its own service with "
    "desired_count = 1 and mount an EFS volume (volume { efs_volume_configuration { ... } } and a mountPoints "
    "entry at its data directory).",
    reference="terraform/modules/database (RDS instead of a database container)",
    plan_level=True,
    reads=("aws_ecs_task_definition",),
)
def stateful_container_storage(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    for definition in ctx.plan.resources("aws_ecs_task_definition"):
        containers = _containers(known(ctx, definition, "container_definitions"))
        if containers is None:
            continue  # known only after apply, and not applied: nothing to read
        persistent = _persistent_volumes(definition, ctx)
        for container in containers:
            image = container.get("image")
            engine = stateful_engine(image) if isinstance(image, str) else None
            if engine is None:
                continue
            name = container.get("name") or "?"
            mounts = [
                (str(m.get("sourceVolume")), str(m.get("containerPath") or "?"))
                for m in container.get("mountPoints") or []
                if isinstance(m, Mapping)
            ]
            kept = [f"{path} on {persistent[volume]}" for volume, path in mounts if volume in persistent]
            if kept:
                evidence = f"{definition.address}: container {name} ({image}, {engine}) keeps {', '.join(kept)}"
            else:
                others = f" (its mounts {', '.join(p for _, p in mounts)} are task storage)" if mounts else ""
                evidence = (
                    f"{definition.address}: container {name} runs {engine} ({image}) with no persistent volume"
                    f"{others}: every deploy or task replacement starts it empty, and each task runs its own {engine}"
                )
            yield Finding(check_.id, bool(kept), definition.address, evidence, definition.address)
