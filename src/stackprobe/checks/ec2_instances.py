"""EC2 instances as AWS now expects them: IMDSv2 only, encrypted root volumes, launch templates.

- The instance metadata service answers IMDSv1 (a plain GET) unless `http_tokens = "required"`: a server-side
  request forgery in the application then returns the instance role's credentials. AWS's default stays
  "optional" for most AMIs.
- A root volume is encrypted only when the configuration says so, the AMI's snapshot is encrypted, or the
  account turned on EBS encryption by default; none of these shows on an emulator.
- Launch configurations are frozen: no new instance types or features since 2022, and AWS refuses to create
  them in accounts created since October 2024. Launch templates replace them.

Read from the plan: aws_instance, aws_launch_template and aws_launch_configuration as configured (a value
the configuration leaves unset is judged by AWS's default, not the emulator's), and the account-wide
settings the configuration itself makes (aws_ebs_encryption_by_default,
aws_ec2_instance_metadata_defaults).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackprobe.checks.base import Category, Check, CheckContext, Finding, Severity, check
from stackprobe.terraform.plan import Plan, PlannedResource

COMPUTE = ("aws_instance", "aws_launch_template", "aws_launch_configuration")
REFERENCE = "docs/ARCHITECTURE.md (ECS on Fargate: no instances to harden)"


def _first(value: Any) -> Mapping[str, Any]:
    """The first element of a nested block list (Terraform plans blocks as lists), or {}."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    return value if isinstance(value, Mapping) else {}


def _account_setting(plan: Plan, resource_type: str, attribute: str, wanted: object) -> str | None:
    """The address of an account-wide setting the configuration makes with `attribute == wanted`, or None."""
    for resource in plan.resources(resource_type):
        if resource.get(attribute) == wanted:
            return resource.address
    return None


def _compute(plan: Plan) -> list[PlannedResource]:
    return [r for kind in COMPUTE for r in plan.resources(kind)]


@check(
    "ec2.imdsv2",
    "Instances and launch templates require IMDSv2",
    severity=Severity.HIGH,
    category=Category.SECURITY,
    services=(),
    why="With IMDSv1 allowed, one server-side request forgery in anything running on the instance (a URL "
    "fetcher, an image resizer, a proxy) reads http://169.254.169.254/ and returns the instance role's "
    "credentials. IMDSv2's session token stops that; AWS's default for most AMIs still allows IMDSv1.",
    fix='Add metadata_options { http_tokens = "required", http_put_response_hop_limit = 1 } (2 for containers '
    "on the instance that need it) to every aws_instance and aws_launch_template, or set the account default "
    'with aws_ec2_instance_metadata_defaults { http_tokens = "required" }.',
    reference=REFERENCE,
    plan_level=True,
    reads=COMPUTE,
)
def imdsv2(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    default = _account_setting(ctx.plan, "aws_ec2_instance_metadata_defaults", "http_tokens", "required")
    for resource in _compute(ctx.plan):
        options = _first(resource.get("metadata_options"))
        tokens, endpoint = options.get("http_tokens"), options.get("http_endpoint")
        if tokens == "required" or endpoint == "disabled":
            said = 'http_tokens = "required"' if tokens == "required" else 'http_endpoint = "disabled"'
            yield Finding(check_.id, True, resource.address, f"{resource.address}: {said}", resource.address)
        elif default is not None:
            evidence = f"{resource.address}: IMDSv2 required by the account default {default}"
            yield Finding(check_.id, True, resource.address, evidence, resource.address)
        else:
            written = (
                f'http_tokens = "{tokens}"'
                if isinstance(tokens, str)
                else 'no http_tokens (AWS\'s default: "optional")'
            )
            evidence = (
                f"{resource.address}: {written}: IMDSv1 answers a plain GET, so a request forgery on the instance "
                "returns its role's credentials"
            )
            yield Finding(check_.id, False, resource.address, evidence, resource.address)


def _root_encryption(resource: PlannedResource) -> object:
    """What the configuration says about the root volume's encryption (None when it says nothing)."""
    if resource.type in ("aws_instance", "aws_launch_configuration"):
        return _first(resource.get("root_block_device")).get("encrypted")
    mappings = resource.get("block_device_mappings")
    for mapping in mappings if isinstance(mappings, list) else []:
        encrypted = _first(mapping.get("ebs") if isinstance(mapping, Mapping) else None).get("encrypted")
        if encrypted is not None:
            # A launch template's mapping is a string ("true"/"false"/"") in the provider's schema.
            return str(encrypted).lower() == "true" if encrypted != "" else None
    return None


@check(
    "ec2.root-volume-encrypted",
    "Instance root volumes are encrypted",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=(),
    why="An unencrypted root volume keeps the instance's disk (logs, caches, credentials files, swapped memory) "
    "readable by anyone who gets a snapshot of it, and snapshots and AMIs made from it are unencrypted too. "
    "AWS encrypts by default only when the account says so.",
    fix="Set root_block_device { encrypted = true } on aws_instance (block_device_mappings { ebs { encrypted = "
    '"true" } } in a launch template), or turn on aws_ebs_encryption_by_default { enabled = true } for the '
    "account and region.",
    reference=REFERENCE,
    plan_level=True,
    reads=COMPUTE,
)
def root_volume_encrypted(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    default = _account_setting(ctx.plan, "aws_ebs_encryption_by_default", "enabled", True)
    for resource in _compute(ctx.plan):
        encrypted = _root_encryption(resource)
        if encrypted is True:
            yield Finding(
                check_.id, True, resource.address, f"{resource.address}: root volume encrypted", resource.address
            )
        elif default is not None:
            evidence = f"{resource.address}: encrypted by the account default {default}"
            yield Finding(check_.id, True, resource.address, evidence, resource.address)
        else:
            written = "encrypted = false" if encrypted is False else "no encryption setting for the root volume"
            evidence = (
                f"{resource.address}: {written}, and the configuration does not turn on EBS encryption by default: "
                "the root volume is unencrypted unless the AMI's snapshot is"
            )
            yield Finding(check_.id, False, resource.address, evidence, resource.address)


@check(
    "ec2.no-launch-configuration",
    "Auto Scaling groups use launch templates, not launch configurations",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    services=(),
    why="Launch configurations get no new instance types or features (IMDSv2 defaults, mixed instances, Spot "
    "allocation) and AWS refuses to create them in accounts created since October 2024: the stack does not "
    "apply in a new account, while the emulator accepts it.",
    fix="Replace aws_launch_configuration with aws_launch_template (the same AMI, instance type, user data and "
    'security groups) and give the Auto Scaling group launch_template { id = ..., version = "$Latest" }.',
    reference=REFERENCE,
    plan_level=True,
    reads=("aws_launch_configuration",),
)
def no_launch_configuration(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    assert ctx.plan is not None  # plan_level: run_check skips the check without a plan
    users: dict[str, list[str]] = {}
    for group in ctx.plan.resources("aws_autoscaling_group"):
        name = group.get("launch_configuration")
        if isinstance(name, str):
            users.setdefault(name, []).append(group.address)
    for configuration in ctx.plan.resources("aws_launch_configuration"):
        name = configuration.get("name")
        used = users.get(name, []) if isinstance(name, str) else []
        by = f", used by {', '.join(used)}" if used else ""
        evidence = (
            f"{configuration.address}: a launch configuration{by}: AWS no longer creates them in new accounts and "
            "adds nothing to them"
        )
        yield Finding(check_.id, False, configuration.address, evidence, configuration.address)
