"""Auto Scaling: a group's instances run balanced across the zones of the subnets it is given.

What an ECS cluster on EC2 runs on (tests/corpus/ec2-bridge-cluster, examples/lookalike-ec2-bridge): its
services run where the group's instances run, and `network.multi-az` judges them by those zones. Without
the patch, moto puts every instance in the group's first subnet. Names are unique per test: moto's state is
per process, shared by the xdist worker's tests.

Reproduce: .venv/bin/pytest tests/harness/test_compat_autoscaling.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("autoscaling-zone-balance",)


def _group(backend: AwsBackend, name: str, subnets_per_zone: list[int], desired: int) -> tuple[Any, list[str]]:
    """A group over new subnets (`subnets_per_zone[i]` of them in the region's zone i); its zones' names."""
    ec2, autoscaling = backend.client("ec2"), backend.client("autoscaling")
    index = sum(ord(c) for c in name) % 200
    vpc = ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][: len(subnets_per_zone)]
    subnets = []
    for zone, count in zip(zones, subnets_per_zone, strict=True):
        for _ in range(count):
            cidr = f"10.{index}.{len(subnets)}.0/24"
            subnets.append(ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"])
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=10,
        DesiredCapacity=desired,
        VPCZoneIdentifier=",".join(subnets),
        Tags=[{"Key": "team", "Value": "compat", "PropagateAtLaunch": True}],
    )
    return autoscaling, zones


def _zones_of(autoscaling: Any, name: str) -> Counter[str]:
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return Counter(instance["AvailabilityZone"] for instance in group["Instances"])


def test_a_group_over_three_zones_runs_an_equal_number_in_each(backend: AwsBackend) -> None:
    autoscaling, zones = _group(backend, "balanced", [1, 1, 1], desired=6)
    assert _zones_of(autoscaling, "balanced") == Counter({zone: 2 for zone in zones})


def test_scaling_out_keeps_the_zones_within_one_instance_of_each_other(backend: AwsBackend) -> None:
    autoscaling, zones = _group(backend, "rescaled", [1, 1], desired=1)
    autoscaling.set_desired_capacity(AutoScalingGroupName="rescaled", DesiredCapacity=5)
    counts = _zones_of(autoscaling, "rescaled")
    assert sum(counts.values()) == 5 and set(counts) == set(zones)
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_two_subnets_in_one_zone_count_as_that_zone(backend: AwsBackend) -> None:
    autoscaling, zones = _group(backend, "doubled", [2, 1], desired=4)
    assert _zones_of(autoscaling, "doubled") == Counter({zones[0]: 2, zones[1]: 2})


def test_instances_keep_the_groups_tags_and_subnets_and_the_group_its_subnets(backend: AwsBackend) -> None:
    autoscaling, _ = _group(backend, "tagged", [1, 1], desired=2)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["tagged"])["AutoScalingGroups"][0]
    subnets = group["VPCZoneIdentifier"].split(",")
    assert len(subnets) == 2  # the patch gives moto one subnet at a time and puts the list back
    ids = [i["InstanceId"] for i in group["Instances"]]
    reservations = backend.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert sorted(i["SubnetId"] for i in instances) == sorted(subnets)
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        assert tags.get("team") == "compat" and tags.get("aws:autoscaling:groupName") == "tagged", tags
