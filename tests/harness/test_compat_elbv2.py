"""ELBv2: a load balancer created without a Scheme is internet-facing, as in AWS (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("elbv2-default-scheme",)


@pytest.fixture(scope="module")
def subnets(backend: AwsBackend) -> list[str]:
    ec2 = backend.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.84.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.84.{n}.0/24", AvailabilityZone=f"{backend.region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in enumerate("ab", start=1)
    ]


def _load_balancer(backend: AwsBackend, name: str, subnets: list[str], **extra: Any) -> tuple[Any, Any]:
    """What CreateLoadBalancer answers, and what DescribeLoadBalancers reads back afterwards."""
    elbv2 = backend.client("elbv2")
    created = elbv2.create_load_balancer(Name=name, Subnets=subnets, **extra)["LoadBalancers"][0]
    described = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    return created.get("Scheme"), described.get("Scheme")


def test_a_load_balancer_without_a_scheme_is_internet_facing(backend: AwsBackend, subnets: list[str]) -> None:
    """The provider's request for `internal = false` carries no Scheme."""
    assert _load_balancer(backend, "compat-no-scheme", subnets) == ("internet-facing", "internet-facing")


def test_a_network_load_balancer_without_a_scheme_is_internet_facing(backend: AwsBackend, subnets: list[str]) -> None:
    schemes = _load_balancer(backend, "compat-nlb-no-scheme", subnets, Type="network")
    assert schemes == ("internet-facing", "internet-facing")


@pytest.mark.parametrize("scheme", ["internal", "internet-facing"])
def test_a_given_scheme_is_kept(backend: AwsBackend, subnets: list[str], scheme: str) -> None:
    assert _load_balancer(backend, f"compat-{scheme}", subnets, Scheme=scheme) == (scheme, scheme)
