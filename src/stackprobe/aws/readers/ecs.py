"""ECS: clusters, the services that run (each a `Workload` with its task definition), task definitions.

Health, autoscaling, database, job and network checks all start from the same question: which services
run, with which containers and environment, and how many tasks can they reach? The reader answers it
from the account (every cluster, every service), never from the state file or resource names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackprobe.aws.readers.base import ServiceReader, chunks
from stackprobe.aws.tags import tags_to_dict


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


class EcsReader(ServiceReader):
    service = "ecs"

    def _described_clusters(self) -> tuple[Mapping[str, Any], ...]:
        """Every cluster, in the order ECS lists them, with its settings and tags (INACTIVE ones too)."""

        def read() -> list[Mapping[str, Any]]:
            arns = self.paginate("list_clusters", "clusterArns")
            return [
                cluster
                for chunk in chunks(arns, 100)
                for cluster in self.client()
                .describe_clusters(clusters=chunk, include=["SETTINGS", "TAGS"])
                .get("clusters", [])
            ]

        return self.listing("clusters", read)

    def clusters(self) -> list[Mapping[str, Any]]:
        """The ACTIVE clusters (DeleteCluster leaves a cluster INACTIVE and listed for a while)."""
        return [c for c in self._described_clusters() if c.get("status", "ACTIVE") == "ACTIVE"]

    def cluster(self, arn: str) -> Mapping[str, Any] | None:
        return next((c for c in self._described_clusters() if c.get("clusterArn") == arn), None)

    def services(self) -> tuple[Mapping[str, Any], ...]:
        """Every service of every cluster but the INACTIVE (deleted) ones, with its tags."""

        def read() -> list[Mapping[str, Any]]:
            ecs = self.client()
            found: list[Mapping[str, Any]] = []
            for cluster in self._described_clusters():
                service_arns = self.paginate("list_services", "serviceArns", cluster=cluster["clusterArn"])
                for chunk in chunks(service_arns, 10):
                    described = ecs.describe_services(cluster=cluster["clusterArn"], services=chunk, include=["TAGS"])
                    found += [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
            return found

        return self.listing("services", read)

    def workloads(self) -> tuple[Workload, ...]:
        """Every service (as `services`), with its task definition and its own and its cluster's tags."""

        def read() -> list[Workload]:
            clusters = {str(c["clusterArn"]): c for c in self._described_clusters()}
            return [
                Workload(
                    cluster_name=str(clusters[service["clusterArn"]]["clusterName"]),
                    service=service,
                    task_definition=self.task_definition(service["taskDefinition"]),
                    service_tags=tags_to_dict(service.get("tags")),
                    cluster_tags=tags_to_dict(clusters[service["clusterArn"]].get("tags")),
                )
                for service in self.services()
            ]

        return self.listing("workloads", read)

    def task_definition(self, arn: str) -> Mapping[str, Any]:
        return self.read(
            ("task definition", arn),
            lambda: self.client().describe_task_definition(taskDefinition=arn)["taskDefinition"],
        )

    def task_definition_arns(self) -> tuple[str, ...]:
        """The ACTIVE task definitions, whether or not a service runs them."""
        return self.listing(
            "task definitions", lambda: self.paginate("list_task_definitions", "taskDefinitionArns", status="ACTIVE")
        )

    def account_setting(self, name: str) -> str | None:
        """The account's effective value of an ECS account setting (e.g. containerInsights), None when unset."""

        def read() -> str | None:
            answer = self.client().list_account_settings(name=name, effectiveSettings=True)
            values = [str(s.get("value")) for s in answer.get("settings", []) if s.get("value")]
            return values[0] if values else None

        return self.read(("account setting", name), read)
