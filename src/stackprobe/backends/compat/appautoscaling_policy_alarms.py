"""Application Auto Scaling: a target-tracking policy's alarms go away with the policy.

AWS creates two CloudWatch alarms per target-tracking policy and deletes them when the policy is
replaced or deleted, or when its scalable target is deregistered (which deletes the target's
policies). moto 5.2 creates new alarms when PutScalingPolicy replaces a policy but keeps the old
ones, and DeregisterScalableTarget keeps the target's policies and their alarms: after a destroy,
`TargetTracking-...-AlarmHigh/AlarmLow` alarms remained, and the teardown proof reported them as
leftovers of the stack.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoPatch


def _apply() -> None:
    original_put = ApplicationAutoscalingBackend.put_scaling_policy
    original_deregister = ApplicationAutoscalingBackend.deregister_scalable_target

    def put_scaling_policy(
        self: Any,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
        policy_body: Any,
        policy_type: Any,
    ) -> Any:
        previous = [
            p
            for p in self.policies.values()
            if (p.policy_name, p.service_namespace, p.resource_id, p.scalable_dimension)
            == (policy_name, service_namespace, resource_id, scalable_dimension)
        ]
        policy = original_put(
            self, policy_name, service_namespace, resource_id, scalable_dimension, policy_body, policy_type
        )
        for old in previous:
            if old is not policy:
                old.delete_alarms(self.account_id, self.region_name)
        return policy

    def deregister_scalable_target(self: Any, namespace: str, r_id: str, dimension: str) -> None:
        original_deregister(self, namespace, r_id, dimension)
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                namespace,
                r_id,
                dimension,
            ):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]

    replace(ApplicationAutoscalingBackend, "put_scaling_policy", put_scaling_policy)
    replace(ApplicationAutoscalingBackend, "deregister_scalable_target", deregister_scalable_target)


PATCH = MotoPatch(
    name="appautoscaling-policy-alarms-orphaned",
    moto_versions=">=5.2.5,<5.3",
    kind=GapKind.NOT_STORED,
    resource_types=("aws_appautoscaling_policy", "aws_appautoscaling_target"),
    gap="Replacing a target-tracking policy keeps its old CloudWatch alarms, and deregistering a scalable "
    "target keeps its policies and their alarms, so every destroy appears to leak TargetTracking alarms.",
    fix="Deletes a replaced policy's alarms, and a deregistered target's policies with their alarms, as AWS does.",
    install=_apply,
)
