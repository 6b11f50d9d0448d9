"""EC2: deleting a VPC removes its default network ACL, as in AWS."""

from __future__ import annotations

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("ec2-default-network-acl-orphaned",)


def _acls(backend: AwsBackend, vpc_id: str) -> list[str]:
    answer = backend.client("ec2").describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [acl["NetworkAclId"] for acl in answer["NetworkAcls"]]


def test_default_network_acl_goes_with_its_vpc(clean_backend: AwsBackend) -> None:
    ec2 = clean_backend.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    assert len(_acls(clean_backend, vpc_id)) == 1, "a new VPC has its default network ACL"
    ec2.delete_vpc(VpcId=vpc_id)
    assert _acls(clean_backend, vpc_id) == []


def test_other_vpcs_keep_their_acls(clean_backend: AwsBackend) -> None:
    ec2 = clean_backend.client("ec2")
    keep = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    drop = ec2.create_vpc(CidrBlock="10.79.0.0/16")["Vpc"]["VpcId"]
    ec2.delete_vpc(VpcId=drop)
    assert len(_acls(clean_backend, keep)) == 1
