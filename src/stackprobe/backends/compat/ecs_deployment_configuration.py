"""ECS: a service's deployment settings are stored and read back.

moto 5.2's CreateService drops `deploymentConfiguration` (circuit breaker, minimumHealthyPercent,
maximumPercent), `healthCheckGracePeriodSeconds` and `availabilityZoneRebalancing`, so DescribeServices
answers without them: the provider reads the circuit breaker back as absent, the grace period as 0 and the
rebalancing as unset, and re-plans them forever (a probe of the rollback behaviour would also see nothing
configured). UpdateService stores them as sent but without AWS's defaults. AWS returns what it was given,
with maximumPercent 200 and minimumHealthyPercent 100 filled in for a REPLICA service (100 and 0 for
DAEMON), and availabilityZoneRebalancing DISABLED, when not given.

The same create path also drops `capacityProviderStrategy` (a FARGATE_SPOT worker reads back with no
strategy, so the provider plans to *replace* the service on every plan), `enableECSManagedTags` and
`enableExecuteCommand` (read back absent, so they drift from false to unset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.ecs.models import EC2ContainerServiceBackend, Service

DEFAULT_AZ_REBALANCING = "DISABLED"


def with_aws_defaults(configuration: dict[str, Any] | None, scheduling_strategy: Any) -> dict[str, Any]:
    """The deploymentConfiguration DescribeServices reports for what CreateService/UpdateService sent."""
    result = dict(configuration or {})
    daemon = scheduling_strategy == "DAEMON"
    result.setdefault("maximumPercent", 100 if daemon else 200)
    result.setdefault("minimumHealthyPercent", 0 if daemon else 100)
    return result


# Request field → Service attribute (moto serialises attributes by their snake_case name), with the
# value AWS reports when the request did not carry the field.
PLAIN_SETTINGS = {
    "capacityProviderStrategy": ("capacity_provider_strategy", None),
    "enableECSManagedTags": ("enable_ecs_managed_tags", False),
    "enableExecuteCommand": ("enable_execute_command", False),
}


def _store_plain(service: Any, request: dict[str, Any], creating: bool) -> None:
    for field, (attribute, default) in PLAIN_SETTINGS.items():
        if request.get(field) is not None:
            setattr(service, attribute, request[field])
        elif creating and default is not None:
            setattr(service, attribute, default)


def _store(service: Any, configuration: Any, grace_period: Any, rebalancing: Any) -> None:
    # None means "not in this request": keep what the service has, or AWS's default on create.
    if configuration is not None or getattr(service, "deployment_configuration", None) is None:
        service.deployment_configuration = with_aws_defaults(configuration, service.scheduling_strategy)
    if grace_period is not None:
        service.health_check_grace_period_seconds = int(grace_period)
    if rebalancing is not None or getattr(service, "availability_zone_rebalancing", None) is None:
        service.availability_zone_rebalancing = rebalancing or DEFAULT_AZ_REBALANCING


def _apply() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    original_create = EC2ContainerServiceResponse.create_service
    original_update = EC2ContainerServiceBackend.update_service

    def create_service(self: Any) -> Any:
        result = original_create(self)
        answer: Any = result.result
        _store(
            answer["service"],
            self._get_param("deploymentConfiguration"),
            self._get_param("healthCheckGracePeriodSeconds"),
            self._get_param("availabilityZoneRebalancing"),
        )
        _store_plain(answer["service"], {field: self._get_param(field) for field in PLAIN_SETTINGS}, creating=True)
        return result

    def update_service(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Service:
        # The response layer passes every request field, snake_cased; take ours out before moto's setattr loop.
        configuration = service_properties.pop("deployment_configuration", None)
        grace_period = service_properties.pop("health_check_grace_period_seconds", None)
        rebalancing = service_properties.pop("availability_zone_rebalancing", None)
        plain = {field: service_properties.pop(attribute, None) for field, (attribute, _) in PLAIN_SETTINGS.items()}
        service = original_update(self, service_properties)
        _store(service, configuration, grace_period, rebalancing)
        _store_plain(service, plain, creating=False)
        return service

    replace(EC2ContainerServiceResponse, "create_service", create_service)
    replace(EC2ContainerServiceBackend, "update_service", update_service)


# What the canary's CreateService sends, and so expects DescribeServices to answer.
CANARY_SETTINGS: dict[str, Any] = {
    "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    },
    "healthCheckGracePeriodSeconds": 60,
    "availabilityZoneRebalancing": "ENABLED",
    "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
    "enableECSManagedTags": True,
    "enableExecuteCommand": True,
}


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """CreateService with every setting the patch stores, and one without them, read back with DescribeServices."""
    ecs = moto.client("ecs")
    ecs.create_cluster(clusterName="canary")
    ecs.register_task_definition(
        family="canary-app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}]
    )
    common = {"cluster": "canary", "taskDefinition": "canary-app", "desiredCount": 1}
    ecs.create_service(serviceName="canary-set", **common, **CANARY_SETTINGS)
    ecs.create_service(serviceName="canary-plain", **common)
    answer = ecs.describe_services(cluster="canary", services=["canary-set", "canary-plain"])
    described = {service["serviceName"]: service for service in answer["services"]}
    given, plain = described["canary-set"], described["canary-plain"]
    symptoms = [
        Symptom(f"CreateService drops {field}", given.get(field) != value, f"{field}={given.get(field)!r}")
        for field, value in CANARY_SETTINGS.items()
    ]
    defaults = plain.get("deploymentConfiguration")
    symptoms.append(
        Symptom(
            "a service created without deploymentConfiguration reads back without AWS's default percentages",
            defaults != {"maximumPercent": 200, "minimumHealthyPercent": 100},
            f"deploymentConfiguration={defaults!r}",
        )
    )
    return symptoms


PATCH = MotoPatch(
    name="ecs-service-deployment-settings",
    kind=GapKind.NOT_STORED,
    resource_types=("aws_ecs_service",),
    gap="CreateService drops deploymentConfiguration (circuit breaker, minimum/maximum percent), "
    "healthCheckGracePeriodSeconds, availabilityZoneRebalancing, capacityProviderStrategy, enableECSManagedTags "
    "and enableExecuteCommand; DescribeServices returns none of them (a FARGATE_SPOT service is replaced on "
    "every plan).",
    fix="Stores them on create and update and returns them, with AWS's defaults (minimum/maximum percent, "
    "availabilityZoneRebalancing DISABLED, managed tags and execute command off).",
    install=_apply,
    canary=reproduce,
)
