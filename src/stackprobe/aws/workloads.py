"""The deployed ECS services, each with its task definition, tags and scaling bounds.

Health, autoscaling, database and job checks all start from the same question: which services run,
with which containers and environment, and how many tasks can they reach? This module answers it
from the account (every cluster, every service), never from the state file or resource names.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackprobe.aws import Clients
from stackprobe.aws.tags import tags_to_dict

DESIRED_COUNT = "ecs:service:DesiredCount"


@dataclass(frozen=True)
class Workload:
    """One ECS service and the task definition it runs."""

    cluster_name: str
    service: Mapping[str, Any]
    task_definition: Mapping[str, Any]
    service_tags: Mapping[str, str] = field(default_factory=dict)
    cluster_tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.service["serviceName"])

    @property
    def arn(self) -> str:
        return str(self.service["serviceArn"])

    @property
    def task_definition_arn(self) -> str:
        return str(self.task_definition["taskDefinitionArn"])

    @property
    def resource_id(self) -> str:
        """The Application Auto Scaling ResourceId of this service."""
        return f"service/{self.cluster_name}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.cluster_name}/{self.name}"

    @property
    def desired_count(self) -> int:
        return int(self.service.get("desiredCount") or 0)

    @property
    def load_balancers(self) -> list[Mapping[str, Any]]:
        return [lb for lb in self.service.get("loadBalancers") or [] if lb.get("targetGroupArn")]

    @property
    def maximum_percent(self) -> int:
        # AWS's default for a REPLICA service; the compat layer fills it in as AWS does.
        return int((self.service.get("deploymentConfiguration") or {}).get("maximumPercent") or 200)

    @property
    def is_daemon(self) -> bool:
        return self.service.get("schedulingStrategy") == "DAEMON"

    @property
    def tags(self) -> dict[str, str]:
        """Service tags over cluster tags: a service inherits the cluster's environment unless it says otherwise."""
        return {**self.cluster_tags, **self.service_tags}

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        return list(self.task_definition.get("containerDefinitions") or [])

    def container(self, name: str | None = None) -> Mapping[str, Any] | None:
        """The named container, else the essential one with port mappings, else the first essential one."""
        containers = self.containers
        if name is not None:
            return next((c for c in containers if c.get("name") == name), None)
        essential = [c for c in containers if c.get("essential", True)]
        with_ports = [c for c in essential if c.get("portMappings")]
        candidates = with_ports or essential or containers
        return candidates[0] if candidates else None

    def environment(self, container: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Plain `environment` entries of one container (the main one by default)."""
        target = container if container is not None else self.container()
        if target is None:
            return {}
        return {str(e["name"]): str(e.get("value", "")) for e in target.get("environment") or [] if "name" in e}

    def all_environment(self) -> dict[str, str]:
        """Plain environment of every container, merged (for questions such as "which host does it use")."""
        merged: dict[str, str] = {}
        for container in self.containers:
            merged.update(self.environment(container))
        return merged

    def secret_sources(self) -> dict[str, str]:
        """name -> valueFrom of the `secrets` of every container."""
        return {
            str(s["name"]): str(s.get("valueFrom", ""))
            for container in self.containers
            for s in container.get("secrets") or []
            if "name" in s
        }


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def discover_workloads(ctx: Clients) -> list[Workload]:
    """Every active ECS service in the account and region, with its task definition and tags."""
    ecs = ctx.client("ecs")
    cluster_arns: list[str] = []
    for page in ecs.get_paginator("list_clusters").paginate():
        cluster_arns += page.get("clusterArns", [])
    workloads: list[Workload] = []
    task_definitions: dict[str, Mapping[str, Any]] = {}
    for cluster_chunk in _chunks(cluster_arns, 100):
        clusters = ecs.describe_clusters(clusters=cluster_chunk, include=["TAGS"]).get("clusters", [])
        for cluster in clusters:
            cluster_tags = tags_to_dict(cluster.get("tags"))
            service_arns: list[str] = []
            for page in ecs.get_paginator("list_services").paginate(cluster=cluster["clusterArn"]):
                service_arns += page.get("serviceArns", [])
            for chunk in _chunks(service_arns, 10):
                described = ecs.describe_services(cluster=cluster["clusterArn"], services=chunk, include=["TAGS"])
                for service in described.get("services", []):
                    if service.get("status") == "INACTIVE":
                        continue
                    arn = service["taskDefinition"]
                    if arn not in task_definitions:
                        task_definitions[arn] = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                    workloads.append(
                        Workload(
                            cluster_name=str(cluster["clusterName"]),
                            service=service,
                            task_definition=task_definitions[arn],
                            service_tags=tags_to_dict(service.get("tags")),
                            cluster_tags=cluster_tags,
                        )
                    )
    return workloads


def scalable_targets(ctx: Clients) -> dict[str, Mapping[str, Any]]:
    """ResourceId -> the ECS DesiredCount scalable target registered with Application Auto Scaling."""
    client = ctx.client("application-autoscaling")
    targets: dict[str, Mapping[str, Any]] = {}
    for page in client.get_paginator("describe_scalable_targets").paginate(ServiceNamespace="ecs"):
        for target in page.get("ScalableTargets", []):
            if target.get("ScalableDimension") == DESIRED_COUNT:
                targets[str(target["ResourceId"])] = target
    return targets


@dataclass(frozen=True)
class TaskCeiling:
    """The most tasks a service can run at once, and how that number was reached (for evidence)."""

    tasks: int
    explanation: str


def task_ceiling(workload: Workload, target: Mapping[str, Any] | None) -> TaskCeiling:
    """Scalable-target MaxCapacity (else the desired count), times the deployment's maximumPercent.

    During a rolling deployment ECS starts new tasks before stopping old ones, up to maximumPercent of
    the count; that is when a connection pool per task most often exhausts a database.
    """
    if target is not None:
        base, what = int(target.get("MaxCapacity") or 0), "MaxCapacity"
    else:
        base, what = workload.desired_count, "desiredCount (no scalable target)"
    percent = workload.maximum_percent
    tasks = math.ceil(base * percent / 100) if percent > 100 else base
    if percent > 100:
        return TaskCeiling(tasks, f"{base} {what} x {percent}% deployment maximumPercent = {tasks} tasks")
    return TaskCeiling(tasks, f"{tasks} tasks ({what})")
