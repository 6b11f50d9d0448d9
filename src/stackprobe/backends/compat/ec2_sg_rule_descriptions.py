"""EC2: descriptions of security group rules that reference a security group or a prefix list.

In AWS every rule has one description, whatever its source. moto 5.2 keeps a rule's description only in
its CIDR range: DescribeSecurityGroupRules answers no Description for a rule whose source is another
security group (`referenced_security_group_id`, `source_security_group_id`) or a prefix list, the
prefix-list description is dropped entirely, and ModifySecurityGroupRules writes the new description into
an empty CIDR range instead of the rule's source. The provider re-plans each such description forever.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.ec2.models.security_groups import (
        GroupedSecurityRuleView,
        SecurityGroup,
        SecurityGroupBackend,
        SecurityGroupRule,
    )


def rule_description(rule: SecurityGroupRule) -> str | None:
    if rule.source_group:
        return rule.source_group.get("Description")
    if rule.prefix_list_id:
        return getattr(rule, "prefix_list_description", None)
    return rule.ip_range.get("Description")


def _move_description_to_source(rule: Any) -> None:
    """After ModifySecurityGroupRules, put a description moto wrote into an empty CIDR range where it belongs."""
    if "CidrIp" in rule.ip_range or "CidrIpv6" in rule.ip_range or "Description" not in rule.ip_range:
        return
    description = rule.ip_range.pop("Description")
    if rule.source_group:
        rule.source_group["Description"] = description
    elif rule.prefix_list_id:
        rule.prefix_list_description = description


def _apply() -> None:
    from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupBackend, SecurityGroupRule

    original_init = SecurityGroupRule.__init__
    init_signature = inspect.signature(original_init)
    original_flattened = SecurityGroup._flattened_rules
    original_modify = SecurityGroupBackend.modify_security_group_rules

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix_list = init_signature.bind(self, *args, **kwargs).arguments.get("prefix_list_id")
        self.prefix_list_description = (prefix_list or {}).get("Description")

    def _flattened_rules(self: SecurityGroup, rules: list[SecurityGroupRule]) -> list[GroupedSecurityRuleView]:
        views = original_flattened(self, rules)
        for view in views:
            for entry in view.prefix_list_ids:
                for rule in rules:
                    if (
                        rule.prefix_list_id == entry["PrefixListId"]
                        and (rule.ip_protocol, rule.from_port, rule.to_port)
                        == (view.ip_protocol, view.from_port, view.to_port)
                        and rule_description(rule) is not None
                    ):
                        entry["Description"] = rule_description(rule)  # type: ignore[assignment]
        return views

    def modify_security_group_rules(self: SecurityGroupBackend, group_id: str, rules: dict[str, Any]) -> None:
        original_modify(self, group_id, rules)
        group = self.get_security_group_by_name_or_id(group_id)
        # moto raised already for an unknown group.
        assert group is not None
        for rule_id in rules:
            rule = group.get_rule(rule_id)
            if rule is not None:
                _move_description_to_source(rule)

    replace(SecurityGroupRule, "__init__", __init__)
    replace(SecurityGroupRule, "description", property(rule_description))
    replace(SecurityGroup, "_flattened_rules", _flattened_rules)
    replace(SecurityGroupBackend, "modify_security_group_rules", modify_security_group_rules)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """A group-to-group rule and a prefix-list rule with descriptions, and a description modified later."""
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.82.0.0/16")["Vpc"]["VpcId"]
    app = ec2.create_security_group(GroupName="canary-app", Description="app", VpcId=vpc)["GroupId"]
    lb = ec2.create_security_group(GroupName="canary-lb", Description="lb", VpcId=vpc)["GroupId"]
    prefix_list = ec2.create_managed_prefix_list(PrefixListName="canary-pl", MaxEntries=2, AddressFamily="IPv4")
    prefix_list_id = prefix_list["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": lb, "Description": "from lb"}],
            },
            {"IpProtocol": "tcp", "FromPort": 9090, "ToPort": 9090, "UserIdGroupPairs": [{"GroupId": lb}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": prefix_list_id, "Description": "office"}],
            },
        ],
    )

    def rules() -> dict[int, Any]:
        found = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [app]}])
        return {r.get("FromPort"): r for r in found["SecurityGroupRules"] if not r.get("IsEgress")}

    ec2.modify_security_group_rules(
        GroupId=app,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rules()[9090]["SecurityGroupRuleId"],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 9090,
                    "ToPort": 9090,
                    "ReferencedGroupId": lb,
                    "Description": "metrics",
                },
            }
        ],
    )
    described = rules()
    permissions = {
        p["FromPort"]: p for p in ec2.describe_security_groups(GroupIds=[app])["SecurityGroups"][0]["IpPermissions"]
    }
    prefix_entry = permissions[443]["PrefixListIds"][0]
    pair = permissions[9090]["UserIdGroupPairs"][0]
    return [
        Symptom(
            "a group-to-group rule reads back without its description",
            described[8080].get("Description") != "from lb",
            f"DescribeSecurityGroupRules Description={described[8080].get('Description')!r}",
        ),
        Symptom(
            "a prefix-list rule reads back without its description",
            described[443].get("Description") != "office",
            f"DescribeSecurityGroupRules Description={described[443].get('Description')!r}",
        ),
        Symptom(
            "a group's prefix-list entry reads back without its description",
            prefix_entry.get("Description") != "office",
            f"DescribeSecurityGroups PrefixListIds={permissions[443]['PrefixListIds']}",
        ),
        Symptom(
            "a description set by ModifySecurityGroupRules is not on the rule's group pair",
            pair.get("Description") != "metrics",
            f"DescribeSecurityGroups UserIdGroupPairs={permissions[9090]['UserIdGroupPairs']}",
        ),
    ]


PATCH = MotoPatch(
    name="ec2-sg-rule-descriptions",
    kind=GapKind.DRIFT,
    resource_types=(
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
        "aws_security_group_rule",
    ),
    gap="Rules whose source is a security group or a prefix list read back without their description "
    "(DescribeSecurityGroupRules; prefix lists in DescribeSecurityGroups too), and ModifySecurityGroupRules "
    "stores a new description in an empty CIDR range.",
    fix="Reads and writes a rule's description where its source keeps it: the referenced group pair, the "
    "prefix list entry, or the CIDR range.",
    install=_apply,
    canary=reproduce,
)
