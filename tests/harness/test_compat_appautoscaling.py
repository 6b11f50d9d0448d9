"""Application Auto Scaling tags on scalable targets, read back the way the provider does."""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("appautoscaling-target-tags", "appautoscaling-policy-alarms-orphaned")


def _table_target(backend: AwsBackend, table: str, tags: dict[str, str] | None = None) -> str:
    backend.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    extra: dict[str, Any] = {"Tags": tags} if tags else {}
    answer = backend.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{table}",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=5,
        MaxCapacity=50,
        **extra,
    )
    return str(answer["ScalableTargetARN"])


def test_register_tags_are_listed_under_the_target_arn(backend: AwsBackend) -> None:
    arn = _table_target(backend, "aas-tags-on-create", {"team": "probe"})
    aas = backend.client("application-autoscaling")

    described = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=["table/aas-tags-on-create"])

    assert described["ScalableTargets"][0]["ScalableTargetARN"] == arn
    assert arn.startswith("arn:aws:application-autoscaling:eu-west-1:123456789012:scalable-target/")
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "probe"}


def test_tag_and_untag_resource(backend: AwsBackend) -> None:
    arn = _table_target(backend, "aas-tag-untag")
    aas = backend.client("application-autoscaling")

    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}
    aas.tag_resource(ResourceARN=arn, Tags={"env": "test", "owner": "a"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["owner"])

    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "test"}


def test_tags_of_an_unknown_target_are_not_found(backend: AwsBackend) -> None:
    aas = backend.client("application-autoscaling")
    unknown = "arn:aws:application-autoscaling:eu-west-1:123456789012:scalable-target/none"

    with pytest.raises(aas.exceptions.ResourceNotFoundException):
        aas.list_tags_for_resource(ResourceARN=unknown)


def _tracking_alarms(backend: AwsBackend, table: str) -> list[str]:
    alarms = backend.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"TargetTracking-table/{table}-")
    return sorted(a["AlarmName"] for a in alarms["MetricAlarms"])


def _put_cpu_policy(backend: AwsBackend, table: str, target: float) -> None:
    backend.client("application-autoscaling").put_scaling_policy(
        PolicyName="reads",
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{table}",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"},
        },
    )


def test_replacing_a_policy_replaces_its_alarms(backend: AwsBackend) -> None:
    _table_target(backend, "compat-alarms-replace")
    _put_cpu_policy(backend, "compat-alarms-replace", 50.0)
    first = _tracking_alarms(backend, "compat-alarms-replace")
    _put_cpu_policy(backend, "compat-alarms-replace", 60.0)
    second = _tracking_alarms(backend, "compat-alarms-replace")
    assert first and len(second) == len(first), "a replaced policy keeps exactly its own alarm set"
    assert not set(first) & set(second), "the old policy's alarms are gone"


def test_deregistering_the_target_deletes_policies_and_alarms(backend: AwsBackend) -> None:
    _table_target(backend, "compat-alarms-deregister")
    _put_cpu_policy(backend, "compat-alarms-deregister", 50.0)
    assert _tracking_alarms(backend, "compat-alarms-deregister")
    client = backend.client("application-autoscaling")
    client.deregister_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId="table/compat-alarms-deregister",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
    )
    assert _tracking_alarms(backend, "compat-alarms-deregister") == []
    policies = client.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"]
    assert not [p for p in policies if p["ResourceId"] == "table/compat-alarms-deregister"]
