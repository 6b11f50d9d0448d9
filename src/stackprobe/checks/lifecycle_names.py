"""`create_before_destroy` on a resource whose name must be unique, and is fixed.

`lifecycle { create_before_destroy = true }` makes Terraform create the replacement first and destroy the
old resource after. For a resource AWS names uniquely (a target group, a load balancer, a security group in
its VPC, a role, a launch template, a database identifier...), the replacement asks for the name the old
one still holds: every replacement fails with a duplicate-name error, typically on the change that needed
it most (a port, a protocol, a VPC). The emulator replaces nothing on a first apply, so only the
configuration shows it: read from the .tf files (the workspace copy, local modules included), with file
and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.checks.source import configuration_modules
from stackprobe.terraform.config import Block, Expression, Value
from stackprobe.terraform.resource_types import canonical_type

# Resource type -> the argument AWS keeps unique (per account and region, or per VPC/cluster), and whether
# the provider generates a unique name when it is left out.
UNIQUE_NAMES: Mapping[str, tuple[str, bool]] = {
    "aws_lb": ("name", True),
    "aws_lb_target_group": ("name", True),
    "aws_security_group": ("name", True),
    "aws_launch_template": ("name", True),
    "aws_launch_configuration": ("name", True),
    "aws_autoscaling_group": ("name", True),
    "aws_iam_role": ("name", True),
    "aws_iam_policy": ("name", True),
    "aws_iam_instance_profile": ("name", True),
    "aws_db_instance": ("identifier", True),
    "aws_rds_cluster": ("cluster_identifier", True),
    "aws_db_subnet_group": ("name", True),
    "aws_db_parameter_group": ("name", True),
    "aws_db_option_group": ("name", True),
    "aws_elasticache_cluster": ("cluster_id", False),
    "aws_elasticache_replication_group": ("replication_group_id", False),
    "aws_elasticache_subnet_group": ("name", False),
    "aws_elasticache_parameter_group": ("name", False),
    "aws_ecs_service": ("name", False),
    "aws_ecs_cluster": ("name", False),
    "aws_ecs_capacity_provider": ("name", False),
    "aws_ecr_repository": ("name", False),
    "aws_s3_bucket": ("bucket", True),
    "aws_sqs_queue": ("name", True),
    "aws_sns_topic": ("name", True),
    "aws_cloudwatch_log_group": ("name", True),
    "aws_cloudwatch_metric_alarm": ("alarm_name", False),
    "aws_lambda_function": ("function_name", False),
    "aws_dynamodb_table": ("name", False),
    "aws_secretsmanager_secret": ("name", True),
    "aws_ssm_parameter": ("name", False),
    "aws_key_pair": ("key_name", True),
    "aws_kms_alias": ("name", True),
    "aws_wafv2_web_acl": ("name", False),
    "aws_acm_certificate": ("", True),  # nothing unique: listed so that it is not judged by a guess
}
# What makes an expression differ between the old resource and its replacement.
_VARYING = re.compile(r"\brandom_[a-z_]+\.|\buuid\(|\btimestamp\(|\bplantimestamp\(|\bname_prefix\b")


def _fixed(value: Value) -> str | None:
    """How a name argument is written, when it names the same thing for a replacement; None when it varies."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Expression) and not _VARYING.search(value.text):
        return value.text if len(value.text) <= 60 else value.text[:57] + "..."
    return None


def _create_before_destroy(block: Block) -> bool:
    for lifecycle in block.nested("lifecycle"):
        value = lifecycle.attributes.get("create_before_destroy")
        if value is True or (isinstance(value, Expression) and value.text == "true"):
            return True
    return False


@check(
    "source.create-before-destroy-fixed-name",
    "No resource with create_before_destroy has a fixed unique name",
    severity=Severity.HIGH,
    category=Category.RELIABILITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="With create_before_destroy the replacement is created while the old resource still exists; when AWS "
    "keeps the name unique (target groups, load balancers, security groups, roles, launch templates, database "
    "identifiers), the replacement asks for a name that is taken and every replacement fails with a "
    "duplicate-name error, on the change that needed it.",
    fix="Use name_prefix instead of name (the provider appends a unique suffix), leave the name out where the "
    "provider generates one, or drop create_before_destroy for resources that may be replaced in place.",
    reference="terraform/modules/service (name_prefix on the security group with create_before_destroy)",
)
def create_before_destroy_fixed_name(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    for module in configuration_modules(ctx):
        for f in module.files:
            for block in f.blocks:
                if block.type != "resource" or len(block.labels) != 2 or not _create_before_destroy(block):
                    continue
                kind, name = block.labels
                address = f"{module.address}{kind}.{name}"
                where = f"{f.name}:{block.line}" if block.line else f.name
                unique = UNIQUE_NAMES.get(canonical_type(kind))
                if unique is None or not unique[0]:
                    continue
                argument, generated = unique
                if "name_prefix" in block.attributes or argument not in block.attributes:
                    if "name_prefix" not in block.attributes and not generated:
                        continue  # a required argument left out: terraform says so itself
                    how = (
                        "name_prefix"
                        if "name_prefix" in block.attributes
                        else f"no {argument} (the provider makes one)"
                    )
                    evidence = (
                        f"{where}: {address} has create_before_destroy and {how}: its replacement gets a new name"
                    )
                    yield Finding(check_.id, True, address, evidence, address)
                    continue
                written = _fixed(block.attributes[argument])
                if written is None:
                    evidence = f"{where}: {address} has create_before_destroy and a {argument} that varies"
                    yield Finding(check_.id, True, address, evidence, address)
                    continue
                evidence = (
                    f"{where}: {address} has create_before_destroy and {argument} = {written}: its replacement asks "
                    f"for the same {argument} while the old one holds it, and AWS refuses the duplicate"
                )
                yield Finding(check_.id, False, address, evidence, address)
