"""Application Auto Scaling: scalable targets and scaling policies (the ECS services' desired counts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader

DESIRED_COUNT = "ecs:service:DesiredCount"


class AutoScalingReader(ServiceReader):
    service = "application-autoscaling"

    def targets(self, namespace: str) -> tuple[Mapping[str, Any], ...]:
        """Every scalable target of a service namespace (ecs, dynamodb, rds, ...)."""
        return self.listing(
            ("targets", namespace),
            lambda: self.paginate("describe_scalable_targets", "ScalableTargets", ServiceNamespace=namespace),
        )

    def scalable_targets(self) -> dict[str, Mapping[str, Any]]:
        """ResourceId -> the ECS DesiredCount scalable target registered for it."""
        return {str(t["ResourceId"]): t for t in self.targets("ecs") if t.get("ScalableDimension") == DESIRED_COUNT}

    def scaling_policies(self) -> dict[str, list[Mapping[str, Any]]]:
        """ResourceId -> the ECS DesiredCount scaling policies on it."""
        raw = self.listing(
            "policies", lambda: self.paginate("describe_scaling_policies", "ScalingPolicies", ServiceNamespace="ecs")
        )
        policies: dict[str, list[Mapping[str, Any]]] = {}
        for policy in raw:
            if policy.get("ScalableDimension") == DESIRED_COUNT:
                policies.setdefault(str(policy["ResourceId"]), []).append(policy)
        return policies
