"""ECS: deploymentConfiguration, healthCheckGracePeriodSeconds and availabilityZoneRebalancing read back, and a
service without awsvpc networking reads back without a networkConfiguration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.moto import EmbeddedMoto

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("ecs-service-deployment-settings", "ecs-service-empty-network-configuration")

CIRCUIT_BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


@pytest.fixture(scope="module")
def backend() -> Iterator[AwsBackend]:
    moto = EmbeddedMoto()
    started = moto.start()
    ecs = started.client("ecs")
    ecs.create_cluster(clusterName="compat")
    ecs.register_task_definition(
        family="compat-app",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )
    yield started
    moto.stop()


def _service(backend: AwsBackend, name: str, task_definition: str = "compat-app", **extra: Any) -> dict[str, Any]:
    backend.client("ecs").create_service(
        cluster="compat", serviceName=name, taskDefinition=task_definition, desiredCount=1, **extra
    )
    described = backend.client("ecs").describe_services(cluster="compat", services=[name])
    return dict(described["services"][0])


def test_create_stores_deployment_configuration_and_grace_period(backend: AwsBackend) -> None:
    service = _service(
        backend,
        "compat-breaker",
        deploymentConfiguration={**CIRCUIT_BREAKER, "maximumPercent": 150, "minimumHealthyPercent": 50},
        healthCheckGracePeriodSeconds=60,
        availabilityZoneRebalancing="ENABLED",
    )

    assert service["deploymentConfiguration"] == {
        **CIRCUIT_BREAKER,
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    assert service["healthCheckGracePeriodSeconds"] == 60
    assert service["availabilityZoneRebalancing"] == "ENABLED"


def test_missing_percentages_get_the_aws_defaults(backend: AwsBackend) -> None:
    replica = _service(backend, "compat-defaults", deploymentConfiguration=CIRCUIT_BREAKER)
    plain = _service(backend, "compat-plain")

    assert replica["deploymentConfiguration"] == {
        **CIRCUIT_BREAKER,
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert plain["deploymentConfiguration"] == {"maximumPercent": 200, "minimumHealthyPercent": 100}
    assert plain["availabilityZoneRebalancing"] == "DISABLED"


def test_update_replaces_deployment_configuration_and_grace_period(backend: AwsBackend) -> None:
    ecs = backend.client("ecs")
    _service(backend, "compat-update", deploymentConfiguration=CIRCUIT_BREAKER, healthCheckGracePeriodSeconds=30)

    ecs.update_service(
        cluster="compat",
        service="compat-update",
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": False},
            "maximumPercent": 120,
        },
        healthCheckGracePeriodSeconds=90,
    )
    ecs.update_service(cluster="compat", service="compat-update", desiredCount=2)
    service = ecs.describe_services(cluster="compat", services=["compat-update"])["services"][0]

    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": False},
        "maximumPercent": 120,
        "minimumHealthyPercent": 100,
    }
    assert service["healthCheckGracePeriodSeconds"] == 90
    assert service["desiredCount"] == 2


def test_capacity_provider_strategy_and_flags_read_back(backend: AwsBackend) -> None:
    """Without these, a FARGATE_SPOT worker is planned for replacement after every apply."""
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    service = _service(backend, "compat-spot", capacityProviderStrategy=strategy, enableECSManagedTags=True)
    assert service["capacityProviderStrategy"] == strategy
    assert service["enableECSManagedTags"] is True
    assert service["enableExecuteCommand"] is False

    backend.client("ecs").update_service(cluster="compat", service="compat-spot", enableExecuteCommand=True)
    updated = backend.client("ecs").describe_services(cluster="compat", services=["compat-spot"])["services"][0]
    assert updated["capacityProviderStrategy"] == strategy
    assert updated["enableExecuteCommand"] is True


def test_flags_default_to_false_like_aws(backend: AwsBackend) -> None:
    service = _service(backend, "compat-flags")
    assert service["enableECSManagedTags"] is False
    assert "capacityProviderStrategy" not in service or service["capacityProviderStrategy"] == []


def test_a_service_without_awsvpc_has_no_network_configuration(backend: AwsBackend) -> None:
    """The provider reads a present networkConfiguration as an awsvpc one and crashes on an empty one."""
    service = _service(backend, "compat-ec2", launchType="EC2")
    assert "networkConfiguration" not in service

    backend.client("ecs").update_service(cluster="compat", service="compat-ec2", desiredCount=2)
    updated = backend.client("ecs").describe_services(cluster="compat", services=["compat-ec2"])["services"][0]
    assert "networkConfiguration" not in updated


def test_an_awsvpc_service_keeps_its_network_configuration(backend: AwsBackend) -> None:
    ec2 = backend.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.81.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.81.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="compat-awsvpc", Description="awsvpc", VpcId=vpc)["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
    backend.client("ecs").register_task_definition(
        family="compat-awsvpc",
        networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )

    service = _service(backend, "compat-awsvpc", "compat-awsvpc", networkConfiguration=network)

    assert service["networkConfiguration"] == network
