"""ECS on EC2 capacity deploys: a bridge-mode service and a host-mode daemon apply, read back and destroy.

The provider crashed creating any ECS service that does not use awsvpc, on the emulator's empty
networkConfiguration; this applies such services with real terraform (tests/harness/stacks/ecs_bridge), so
it costs about 30 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stackprobe.aws.inventory import TeardownReport
from stackprobe.lifecycle.run import Run
from stackprobe.settings import RunSettings, StackSpec

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("ecs-service-empty-network-configuration",)

STACK = Path(__file__).parent / "stacks" / "ecs_bridge"


@pytest.fixture
def private_run(tmp_path: Path) -> Iterator[Run]:
    run = Run(RunSettings(), tmp_path)
    yield run
    run.close()


def test_services_without_awsvpc_apply_read_back_and_destroy(private_run: Run) -> None:
    spec = StackSpec(tf_dir=STACK.resolve())
    deployment = private_run.deployment(spec)

    deployment.apply()

    ecs = deployment.backend.client("ecs")
    described = ecs.describe_services(cluster="bridge", services=["bridge-web", "bridge-agent"])["services"]
    services = {service["serviceName"]: service for service in described}
    assert services["bridge-web"]["launchType"] == "EC2"
    assert services["bridge-agent"]["schedulingStrategy"] == "DAEMON"
    assert not [name for name, service in services.items() if "networkConfiguration" in service]
    modes = {
        family: ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]["networkMode"]
        for family in ("bridge-web", "bridge-agent")
    }
    assert modes == {"bridge-web": "bridge", "bridge-agent": "host"}
    plan, drift = deployment.second_plan()
    assert plan is None, drift
    report = private_run.end(spec)
    assert isinstance(report, TeardownReport)
    assert report.clean, report.render()
