"""ECS: a service that does not use `awsvpc` reads back without a networkConfiguration, as in AWS.

Only tasks in `awsvpc` network mode have a network configuration (subnets, security groups, public IP);
AWS's DescribeServices leaves the field out for a service whose tasks use `bridge`, `host` or `none`
networking (the EC2 launch type's usual modes). moto 5.2's `Service` stores `{}` when CreateService
carried none, and DescribeServices answers `"networkConfiguration": {}`. The AWS provider (5.100) takes
a present networkConfiguration to hold an `awsvpcConfiguration` and dereferences it unchecked
(`flattenNetworkConfiguration`), so its read after CreateService panics and the plugin crashes: no
bridge- or host-mode ECS service could be deployed.
"""

from __future__ import annotations

from typing import Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.ecs.models import Service

    original_init = Service.__init__

    def __init__(self: Service, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # None, not {}: moto's serialiser leaves None out of the answer, as AWS leaves the field out.
        if not self.network_configuration:
            self.network_configuration = None  # type: ignore[assignment]

    replace(Service, "__init__", __init__)


# Network modes whose services AWS describes without a networkConfiguration (the EC2 launch type's).
CANARY_MODES = ("bridge", "host")


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A service of each non-awsvpc network mode on the EC2 launch type, read back with DescribeServices."""
    ecs = moto.client("ecs")
    ecs.create_cluster(clusterName="canary")
    for mode in CANARY_MODES:
        ecs.register_task_definition(
            family=f"canary-{mode}",
            networkMode=mode,
            requiresCompatibilities=["EC2"],
            containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
        )
        ecs.create_service(
            cluster="canary", serviceName=f"canary-{mode}", taskDefinition=f"canary-{mode}", launchType="EC2"
        )
    described = ecs.describe_services(cluster="canary", services=[f"canary-{mode}" for mode in CANARY_MODES])
    return [
        Symptom(
            f"a {service['serviceName'].removeprefix('canary-')}-mode service reads back with a networkConfiguration",
            "networkConfiguration" in service,
            f"networkConfiguration={service.get('networkConfiguration')!r}",
        )
        for service in described["services"]
    ]


PATCH = MotoPatch(
    name="ecs-service-empty-network-configuration",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_ecs_service",),
    gap="DescribeServices answers an empty networkConfiguration ({}) for a service whose tasks do not use awsvpc "
    "(bridge or host networking, the EC2 launch type's); the provider dereferences its missing "
    "awsvpcConfiguration and crashes, so the apply fails at the first such service.",
    fix="Leaves networkConfiguration out of a service created without one, as AWS does.",
    install=_apply,
    canary=reproduce,
)
