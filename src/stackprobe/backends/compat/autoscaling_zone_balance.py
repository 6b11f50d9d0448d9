"""Auto Scaling: a group launches its instances across the subnets it is given, balanced by zone, as in AWS.

AWS: "Auto Scaling maintains an equal number of instances across enabled Availability Zones" (the user guide,
Auto Scaling group Availability Zone distribution; both strategies, the default balanced-best-effort and
balanced-only, say so). moto 5.2 launches every
instance of a group in the first subnet of its `VPCZoneIdentifier` ("We'll create all instances in a single
subnet to make things easier", moto/autoscaling/models.py), so a group given subnets in three zones runs in
one. Whatever is judged from where the instances run then reports the emulator's shortcut as the stack's
defect: an ECS cluster on EC2 with bridge networking (its services run on the group's instances) was reported
by `network.multi-az` as confined to one zone. The patch launches each instance in the subnet of the zone
that holds the fewest of the group's instances (ties go to the subnets' order), through moto's own method,
one instance at a time; a group with one subnet, or none, is left to moto.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.autoscaling.models import FakeAutoScalingGroup


def _install() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup

    original = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(
        self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
    ) -> None:
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) < 2:
            original(self, count_needed, propagated_tags)
            return
        ec2 = self.autoscaling_backend.ec2_backend
        zone_of = {subnet: ec2.get_subnet(subnet).availability_zone for subnet in subnets}
        running = Counter(state.instance.placement.zone for state in self.instance_states)
        given = self.vpc_zone_identifier
        try:
            for _ in range(count_needed):
                subnet = min(subnets, key=lambda s: (running[zone_of[s]], subnets.index(s)))
                # moto's method launches in the first subnet it is given: give it the one chosen.
                self.vpc_zone_identifier = subnet
                original(self, 1, dict(propagated_tags))
                running[zone_of[subnet]] += 1
        finally:
            self.vpc_zone_identifier = given

    replace(FakeAutoScalingGroup, "replace_autoscaling_group_instances", replace_autoscaling_group_instances)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A group of two instances over two subnets in two zones: where do they run?"""
    ec2, autoscaling = moto.client("ec2"), moto.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.84.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"][:2]]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.84.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    # An image of its own: the canaries' moto loads none of its default AMIs.
    image = ec2.register_image(Name="canary-zone-balance", RootDeviceName="/dev/xvda")["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName="canary-zone-balance", LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="canary-zone-balance",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=2,
        MaxSize=2,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(subnets),
    )
    instances: list[dict[str, Any]] = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=["canary-zone-balance"]
    )["AutoScalingGroups"][0]["Instances"]
    used = sorted({i["AvailabilityZone"] for i in instances})
    return [Symptom("a group over two zones runs in one", len(used) < 2, f"instances in {used} of {zones}")]


PATCH = MotoPatch(
    name="autoscaling-zone-balance",
    kind=GapKind.FAKED,
    resource_types=("aws_autoscaling_group",),
    gap="Every instance of a group is launched in the first subnet of its VPCZoneIdentifier, so a group over "
    "several zones runs in one, and what is judged from where instances run (an ECS cluster on EC2) is "
    "reported as confined to one zone.",
    fix="Launches each instance in the subnet of the zone with the fewest of the group's instances, as AWS "
    "balances a group across its zones.",
    install=_install,
    canary=reproduce,
)
