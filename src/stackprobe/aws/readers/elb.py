"""Elastic Load Balancing: v2 load balancers (application, network, gateway) with their listeners,
attributes and tags; target groups; and classic load balancers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


def _attributes(answer: Mapping[str, Any]) -> dict[str, str]:
    return {str(a["Key"]): str(a["Value"]) for a in answer.get("Attributes", [])}


class Elbv2Reader(ServiceReader):
    service = "elbv2"

    def load_balancers(self) -> tuple[Mapping[str, Any], ...]:
        """Every v2 load balancer, whatever its type (callers keep the types they judge)."""
        return self.listing("load balancers", lambda: self.paginate("describe_load_balancers", "LoadBalancers"))

    def load_balancer(self, arn: str) -> Mapping[str, Any] | None:
        return next((lb for lb in self.load_balancers() if lb["LoadBalancerArn"] == arn), None)

    def listeners(self, load_balancer_arn: str) -> tuple[Mapping[str, Any], ...]:
        return self.read(
            ("listeners", load_balancer_arn),
            lambda: tuple(self.paginate("describe_listeners", "Listeners", LoadBalancerArn=load_balancer_arn)),
        )

    def attributes(self, load_balancer_arn: str) -> Mapping[str, str]:
        return self.read(
            ("attributes", load_balancer_arn),
            lambda: _attributes(self.client().describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)),
        )

    def tags(self, arn: str) -> tuple[Mapping[str, Any], ...]:
        def read() -> tuple[Mapping[str, Any], ...]:
            descriptions = self.client().describe_tags(ResourceArns=[arn]).get("TagDescriptions", [])
            return tuple(descriptions[0].get("Tags", [])) if descriptions else ()

        return self.read(("tags", arn), read)

    def target_groups(self) -> tuple[Mapping[str, Any], ...]:
        """Every target group (each names its load balancers in LoadBalancerArns)."""
        return self.listing("target groups", lambda: self.paginate("describe_target_groups", "TargetGroups"))

    def target_group(self, arn: str) -> Mapping[str, Any] | None:
        return next((g for g in self.target_groups() if g["TargetGroupArn"] == arn), None)

    def target_group_attributes(self, arn: str) -> Mapping[str, str]:
        return self.read(
            ("target group attributes", arn),
            lambda: _attributes(self.client().describe_target_group_attributes(TargetGroupArn=arn)),
        )


class ClassicElbReader(ServiceReader):
    service = "elb"

    def load_balancers(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing(
            "load balancers", lambda: self.paginate("describe_load_balancers", "LoadBalancerDescriptions")
        )
