"""EC2: deleting a VPC also deletes its default network ACL, as AWS does.

moto 5.2's DeleteVpc removes the main route table and the default security group but leaves the
VPC's default network ACL behind, orphaned. Nothing in a stack can delete it (AWS refuses to delete a
default ACL), so every destroy looked like it leaked one `acl-...` and the teardown proof failed for
a reason that is the emulator's, not the stack's.
"""

from __future__ import annotations

from typing import Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.ec2.models.vpcs import VPCBackend

    original_delete_vpc = VPCBackend.delete_vpc

    def delete_vpc(self: Any, vpc_id: str) -> Any:
        vpc = original_delete_vpc(self, vpc_id)
        for acl_id, acl in list(self.network_acls.items()):
            if acl.vpc_id == vpc_id and getattr(acl, "default", False) in (True, "true"):
                acl._associations.clear()
                self.network_acls.pop(acl_id, None)
        return vpc

    replace(VPCBackend, "delete_vpc", delete_vpc)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """Create a VPC, delete it, and list the network ACLs still filed under it."""
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.81.0.0/16")["Vpc"]["VpcId"]
    ec2.delete_vpc(VpcId=vpc)
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
    left = [acl["NetworkAclId"] for acl in acls]
    return [Symptom("DeleteVpc leaves the VPC's default network ACL behind", bool(left), f"network ACLs left: {left}")]


PATCH = MotoPatch(
    name="ec2-default-network-acl-orphaned",
    kind=GapKind.NOT_STORED,
    resource_types=("aws_vpc",),
    gap="DeleteVpc leaves the VPC's default network ACL behind, so every destroy appears to leak one.",
    fix="Deletes the default network ACL of a VPC together with the VPC.",
    install=_apply,
    canary=reproduce,
)
