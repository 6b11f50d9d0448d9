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

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

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


def _tracking_alarms(moto: MotoEndpoint, table: str) -> list[str]:
    alarms = moto.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"TargetTracking-table/{table}-")
    return sorted(a["AlarmName"] for a in alarms["MetricAlarms"])


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """Replace a target-tracking policy, then deregister its target, counting the policy alarms each time."""
    table, dimension = "canary-alarms", "dynamodb:table:ReadCapacityUnits"
    moto.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    aas = moto.client("application-autoscaling")
    target = {"ServiceNamespace": "dynamodb", "ResourceId": f"table/{table}", "ScalableDimension": dimension}
    aas.register_scalable_target(**target, MinCapacity=5, MaxCapacity=50)
    counts = []
    for value in (50.0, 60.0):
        aas.put_scaling_policy(
            **target,
            PolicyName="reads",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": value,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"},
            },
        )
        counts.append(len(_tracking_alarms(moto, table)))
    aas.deregister_scalable_target(**target)
    left = _tracking_alarms(moto, table)
    return [
        Symptom(
            "replacing a target-tracking policy keeps the old policy's alarms",
            counts[1] > counts[0],
            f"alarms after the first policy: {counts[0]}, after replacing it: {counts[1]}",
        ),
        Symptom(
            "deregistering the scalable target keeps its policy's alarms",
            bool(left),
            f"alarms left after DeregisterScalableTarget: {left}",
        ),
    ]


PATCH = MotoPatch(
    name="appautoscaling-policy-alarms-orphaned",
    kind=GapKind.NOT_STORED,
    resource_types=("aws_appautoscaling_policy", "aws_appautoscaling_target"),
    gap="Replacing a target-tracking policy keeps its old CloudWatch alarms, and deregistering a scalable "
    "target keeps its policies and their alarms, so every destroy appears to leak TargetTracking alarms.",
    fix="Deletes a replaced policy's alarms, and a deregistered target's policies with their alarms, as AWS does.",
    install=_apply,
    canary=reproduce,
)
