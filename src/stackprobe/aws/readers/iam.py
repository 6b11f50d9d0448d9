"""IAM: principals, their policies as they apply (`PolicyRecord`), access keys and permissions boundaries.

Policies are read from every role, user and group in the account (inline and attached, customer- and
AWS-managed) and from every customer-managed policy, and parsed with `stackprobe.aws.policy`.
Service-linked roles are skipped: AWS owns their policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackprobe.aws.policy import PolicyError, Statement, parse_policy
from stackprobe.aws.readers.base import ServiceReader

# (kind, list call, its key, name parameter, inline list call, inline get call, attached list call)
_PRINCIPALS = (
    ("role", "list_roles", "Roles", "RoleName", "list_role_policies", "get_role_policy", "list_attached_role_policies"),
    ("user", "list_users", "Users", "UserName", "list_user_policies", "get_user_policy", "list_attached_user_policies"),
    (
        "group",
        "list_groups",
        "Groups",
        "GroupName",
        "list_group_policies",
        "get_group_policy",
        "list_attached_group_policies",
    ),
)


@dataclass(frozen=True)
class PolicyRecord:
    """One policy as it applies: its statements and the principals it is attached to.

    `resource` is how the deployed resource is named: a managed policy's ARN, or `<principal>:<name>`
    for an inline policy (the id Terraform gives aws_iam_role_policy and its user/group siblings).
    """

    resource: str
    describe: str
    statements: tuple[Statement, ...]
    attached_to: tuple[str, ...]
    customer_managed: bool
    problem: str = ""


def _parse(document: Any) -> tuple[tuple[Statement, ...], str]:
    try:
        return tuple(parse_policy(document)), ""
    except PolicyError as exc:
        return (), f"unreadable policy: {exc}"


class IamReader(ServiceReader):
    service = "iam"

    def _list(self, operation: str, key: str) -> tuple[Mapping[str, Any], ...]:
        return self.listing(operation, lambda: self.paginate(operation, key))

    def roles(self) -> tuple[Mapping[str, Any], ...]:
        return self._list("list_roles", "Roles")

    def users(self) -> tuple[Mapping[str, Any], ...]:
        return self._list("list_users", "Users")

    def groups(self) -> tuple[Mapping[str, Any], ...]:
        return self._list("list_groups", "Groups")

    def local_policies(self) -> tuple[Mapping[str, Any], ...]:
        """The customer-managed policies."""
        return self.listing("local policies", lambda: self.paginate("list_policies", "Policies", Scope="Local"))

    def open_id_connect_providers(self) -> tuple[Mapping[str, Any], ...]:
        return self._list("list_open_id_connect_providers", "OpenIDConnectProviderList")

    def access_keys(self, user: str) -> tuple[Mapping[str, Any], ...]:
        return self.read(
            ("access keys", user), lambda: tuple(self.paginate("list_access_keys", "AccessKeyMetadata", UserName=user))
        )

    def permissions_boundary(self, principal: str) -> str | None:
        """The permissions boundary ARN of `role/x` or `user/y` (None for groups, which cannot have one)."""
        kind, _, name = principal.partition("/")

        def read() -> str | None:
            # ListRoles/ListUsers do not return the boundary; GetRole/GetUser do.
            if kind == "role":
                boundary = self.client().get_role(RoleName=name)["Role"].get("PermissionsBoundary")
            elif kind == "user":
                boundary = self.client().get_user(UserName=name)["User"].get("PermissionsBoundary")
            else:
                boundary = None
            return (boundary or {}).get("PermissionsBoundaryArn")  # type: ignore[no-any-return]

        return self.read(("permissions boundary", principal), read)

    def policy_records(self) -> tuple[PolicyRecord, ...]:
        """Every inline policy, every customer-managed policy, and every attached AWS-managed policy."""
        return self.listing("policy records", self._read_policy_records)

    def _read_policy_records(self) -> list[PolicyRecord]:
        iam = self.client()
        records: list[PolicyRecord] = []
        attachments: dict[str, list[str]] = {}
        for kind, lister, key, name_arg, inline_lister, inline_getter, attached_lister in _PRINCIPALS:
            # The same listing roles()/users()/groups() keep: every check of a context shares one read.
            for principal in self._list(lister, key):
                if str(principal.get("Path", "")).startswith("/aws-service-role/"):
                    continue
                name = principal[name_arg]
                for policy_name in self.paginate(inline_lister, "PolicyNames", **{name_arg: name}):
                    document = getattr(iam, inline_getter)(**{name_arg: name, "PolicyName": policy_name})
                    statements, problem = _parse(document["PolicyDocument"])
                    describe = f"inline policy {policy_name} of {kind} {name}"
                    records.append(
                        PolicyRecord(f"{name}:{policy_name}", describe, statements, (f"{kind}/{name}",), True, problem)
                    )
                for attached in self.paginate(attached_lister, "AttachedPolicies", **{name_arg: name}):
                    attachments.setdefault(attached["PolicyArn"], []).append(f"{kind}/{name}")
        return records + self._managed_records(attachments)

    def _managed_records(self, attachments: dict[str, list[str]]) -> list[PolicyRecord]:
        iam = self.client()
        local = self.local_policies()
        local_arns = {p["Arn"] for p in local}
        aws_attached = [iam.get_policy(PolicyArn=arn)["Policy"] for arn in sorted(attachments) if arn not in local_arns]
        records: list[PolicyRecord] = []
        for policy in [*local, *aws_attached]:
            arn = policy["Arn"]
            version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
            statements, problem = _parse(version["Document"])
            customer = arn in local_arns
            describe = f"{'managed' if customer else 'AWS-managed'} policy {policy['PolicyName']}"
            records.append(PolicyRecord(arn, describe, statements, tuple(attachments.get(arn, ())), customer, problem))
        return records
