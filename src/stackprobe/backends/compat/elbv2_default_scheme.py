"""ELBv2: a load balancer created without a Scheme is internet-facing, as in AWS.

CreateLoadBalancer's `Scheme` is optional and AWS defaults it to `internet-facing`. The AWS provider
sends no Scheme when `internal = false`, and moto 5.2's response layer passes the absent parameter on as
`scheme=None`, over the backend's own "internet-facing" default: the load balancer reads back with no
Scheme at all. The provider tolerates that (`internal` reads false), but stackprobe's reachability model
takes a load balancer without an internet-facing Scheme for an internal one, so an internet-facing ALB
looked unreachable from the internet and its exposure went unchecked.
"""

from __future__ import annotations

import inspect
from typing import Any

from stackprobe.backends.compat._monkey import ShapeMismatch, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

DEFAULT_SCHEME = "internet-facing"


def _apply() -> None:
    from moto.elbv2.models import ELBv2Backend

    original_create = ELBv2Backend.create_load_balancer
    signature = inspect.signature(original_create)
    if "scheme" not in signature.parameters:
        raise ShapeMismatch("moto.elbv2.models.ELBv2Backend.create_load_balancer takes no `scheme` any more")

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        if call.arguments.get("scheme") is None:
            call.arguments["scheme"] = DEFAULT_SCHEME
        return original_create(*call.args, **call.kwargs)

    replace(ELBv2Backend, "create_load_balancer", create_load_balancer)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """CreateLoadBalancer without Scheme (the provider's request for `internal = false`), then describe it."""
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.80.{n}.0/24", AvailabilityZone=f"{moto.region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in enumerate("ab", start=1)
    ]
    elbv2 = moto.client("elbv2")
    elbv2.create_load_balancer(Name="canary-default-scheme", Subnets=subnets)
    described = elbv2.describe_load_balancers(Names=["canary-default-scheme"])["LoadBalancers"][0]
    scheme = described.get("Scheme")
    return [
        Symptom(
            "a load balancer created without Scheme does not read back internet-facing",
            scheme != DEFAULT_SCHEME,
            f"DescribeLoadBalancers Scheme={scheme!r}",
        )
    ]


PATCH = MotoPatch(
    name="elbv2-default-scheme",
    kind=GapKind.NOT_STORED,
    resource_types=("aws_lb",),
    gap="CreateLoadBalancer without Scheme (the provider's request for internal = false) stores no scheme over "
    "AWS's internet-facing default, so the load balancer reads back with no Scheme and looks internal.",
    fix="Defaults the scheme of a new load balancer to internet-facing when the request carries none, as AWS does.",
    install=_apply,
    canary=reproduce,
)
