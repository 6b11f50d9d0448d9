"""vpc.single-port-rules and ecs.static-host-port-deploys on hand-written states of ECS on EC2 instances:
services, task definitions, Auto Scaling groups and security group rules as applied."""

from __future__ import annotations

import json
from typing import Any

import pytest
from plan_builders import context, state, stateful

from stackprobe.checks.base import Status
from stackprobe.checks.ports import single_port_rules, static_host_port_deploys
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/{family}:1"


def task_definition(family: str, host_port: int | None, mode: str = "bridge", port: int = 80) -> dict[str, Any]:
    mapping: dict[str, int] = {"containerPort": port}
    if host_port is not None:
        mapping["hostPort"] = host_port
    containers = [{"name": family, "image": "nginx:1.27", "portMappings": [mapping]}]
    attributes = {
        "arn": TASK_ARN.format(family=family),
        "family": family,
        "revision": 1,
        "network_mode": mode,
        "container_definitions": json.dumps(containers),
    }
    return stateful("aws_ecs_task_definition", family, attributes)


def service(family: str, desired: int, port: int = 80, **attributes: Any) -> dict[str, Any]:
    values = {
        "name": family,
        "task_definition": TASK_ARN.format(family=family),
        "desired_count": desired,
        "launch_type": "EC2",
        "load_balancer": [{"container_name": family, "container_port": port, "target_group_arn": "arn:tg"}],
        **attributes,
    }
    return stateful("aws_ecs_service", family, values)


def hosts(max_size: int, *ingress: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        stateful("aws_autoscaling_group", "ecs", {"name": "ecs", "max_size": max_size, "desired_capacity": max_size}),
        stateful("aws_launch_template", "ecs", {"id": "lt-1", "vpc_security_group_ids": ["sg-hosts"]}),
        stateful("aws_security_group", "hosts", {"id": "sg-hosts", "ingress": list(ingress)}),
    ]


def from_alb(low: int, high: int, protocol: str = "tcp") -> dict[str, Any]:
    return {"from_port": low, "to_port": high, "protocol": protocol, "security_groups": ["sg-alb"], "cidr_blocks": []}


def test_a_whole_range_from_the_load_balancer_to_fixed_host_ports_fails() -> None:
    defective = state(task_definition("web", 80), service("web", 2), *hosts(3, from_alb(0, 65535)))
    result = assert_check(context(state=defective), single_port_rules, Status.FAIL)
    [finding] = result.findings
    assert finding.address == "aws_security_group.hosts"
    assert finding.evidence == (
        "aws_security_group.hosts: admits tcp 0-65535 from sg-alb on sg-hosts, whose tasks publish fixed port(s) 80 "
        "only: the rest of the range opens the hosts' other services to that group"
    )


def test_a_range_is_right_for_dynamic_host_ports_and_one_port_for_fixed_ones() -> None:
    dynamic = state(task_definition("web", 0), service("web", 2), *hosts(2, from_alb(32768, 65535)))
    assert assert_check(context(state=dynamic), single_port_rules, Status.NOT_APPLICABLE).findings == []
    exact = state(
        task_definition("web", 80),
        service("web", 2),
        *hosts(3),
        stateful(
            "aws_vpc_security_group_ingress_rule",
            "alb_to_hosts",
            {"security_group_id": "sg-hosts", "referenced_security_group_id": "sg-alb", "from_port": 80, "to_port": 80},
        ),
    )
    assert assert_check(context(state=exact), single_port_rules, Status.PASS).findings[0].address == (
        "aws_vpc_security_group_ingress_rule.alb_to_hosts"
    )


def test_as_many_tasks_as_instances_with_a_fixed_host_port_blocks_every_deploy() -> None:
    defective = state(task_definition("web", 80), service("web", 2), *hosts(2))
    result = assert_check(context(state=defective), static_host_port_deploys, Status.FAIL)
    assert result.findings[0].evidence == (
        "aws_ecs_service.web: desired_count 2 with fixed host port 80 on at most 2 instance(s) "
        "(aws_autoscaling_group.ecs (max_size 2)), minimum healthy 100%, maximum 200%: a deploy must start a new "
        "task before stopping an old one, and no instance has the port free: the deployment never progresses"
    )
    crowded = state(task_definition("web", 80), service("web", 3), *hosts(2))
    evidence = assert_check(context(state=crowded), static_host_port_deploys, Status.FAIL).findings[0].evidence
    assert evidence.endswith("only 2 task(s) can hold the port at once; the service never reaches 3")


@pytest.mark.parametrize(
    ("family", "host_port", "desired", "max_size", "extra"),
    [
        ("spare", 80, 2, 3, {}),  # one instance free
        ("stops-first", 80, 2, 2, {"deployment_minimum_healthy_percent": 50}),  # ECS may stop one old task first
        ("dynamic", 0, 4, 2, {}),  # ECS picks the host port: no fixed port to hold
    ],
)
def test_room_for_a_deploy_passes(
    family: str, host_port: int, desired: int, max_size: int, extra: dict[str, Any]
) -> None:
    stack = state(task_definition(family, host_port), service(family, desired, **extra), *hosts(max_size))
    expected = Status.NOT_APPLICABLE if host_port == 0 else Status.PASS
    assert_check(context(state=stack), static_host_port_deploys, expected)
