"""Terraform resource types, spelled one way: the AWS provider's aliases mapped to the name they alias.

The provider registers `aws_alb*` as second names of the `aws_lb*` resources (same schema, same API
calls); a configuration may use either, or both. Everything that reads a resource type from a plan, a
state or a check declaration asks `canonical_type` first, so a check written for `aws_lb_listener`
judges an `aws_alb_listener` too, and one resource is never counted twice under two names. Addresses
keep the user's spelling: they name a block in the user's files.
"""

from __future__ import annotations

from collections.abc import Mapping

ALIASES: Mapping[str, str] = {
    "aws_alb": "aws_lb",
    "aws_alb_listener": "aws_lb_listener",
    "aws_alb_listener_certificate": "aws_lb_listener_certificate",
    "aws_alb_listener_rule": "aws_lb_listener_rule",
    "aws_alb_target_group": "aws_lb_target_group",
    "aws_alb_target_group_attachment": "aws_lb_target_group_attachment",
}


def canonical_type(resource_type: str) -> str:
    """`aws_alb_listener` -> `aws_lb_listener`; every other type (and a `data.` prefix) is kept as it is."""
    prefix, dot, name = resource_type.rpartition(".")
    return f"{prefix}{dot}{ALIASES.get(name, name)}"
