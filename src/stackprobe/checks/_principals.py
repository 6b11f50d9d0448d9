"""IAM principals as the escalation, OIDC-trust, stop-timeout and endpoint checks ask about them.

Every question is answered with `stackprobe.aws.policy`, the engine the IAM checks use: a principal's
statements are those of every policy record attached to it (inline, customer-managed, AWS-managed), and
"may it do A on R" is an Allow statement covering both that no unconditional Deny covers. Conditions are
read the conservative way for the caller: an Allow is not assumed to be narrowed by a condition that might
not narrow it, and a conditional Deny is not assumed to apply. The one condition these checks read is
`iam:PermissionsBoundary`, which decides whether an IAM write can reach a principal at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackprobe.aws.policy import PolicyError, Statement, parse_policy
from stackprobe.aws.readers.iam import PolicyRecord
from stackprobe.checks.base import CheckContext

BOUNDARY_KEY = "iam:permissionsboundary"
_POSITIVE_STRING_OPERATORS = {"stringequals", "stringlike", "arnequals", "arnlike"}


@dataclass(frozen=True)
class Grant:
    """One Allow statement of a principal, with the policy it is in (for evidence)."""

    statement: Statement
    record: PolicyRecord

    def describe(self) -> str:
        return f"{self.record.describe} statement {self.statement.label}"


@dataclass(frozen=True)
class Principal:
    """A role or user, its ARN, what it trusts (roles) and every statement that applies to it."""

    kind: str  # "role" or "user"
    name: str
    arn: str
    grants: tuple[Grant, ...]
    denies: tuple[Statement, ...]
    trust: tuple[Statement, ...] = ()
    boundary: str | None = None
    records: tuple[PolicyRecord, ...] = field(default=(), compare=False)
    # The permissions boundary's own statements, when the account holds that policy (None: none, or unreadable).
    boundary_statements: tuple[Statement, ...] | None = field(default=None, compare=False)

    def bounded(self) -> Principal | None:
        """The boundary as a principal of its own: what the principal can do is also what this allows."""
        if self.boundary_statements is None:
            return None
        record = PolicyRecord(
            str(self.boundary), f"permissions boundary {self.boundary}", self.boundary_statements, (), True
        )
        return Principal(
            self.kind,
            self.name,
            self.arn,
            tuple(Grant(s, record) for s in self.boundary_statements if s.is_allow),
            tuple(s for s in self.boundary_statements if s.is_deny),
        )

    @property
    def key(self) -> str:
        """How policy records name it: `role/NAME`, `user/NAME`."""
        return f"{self.kind}/{self.name}"

    def denied(self, action: str, resource: str) -> bool:
        """Whether an unconditional Deny covers `action` on `resource`."""
        return any(not d.conditions and d.covers_action(action) and d.covers_resource(resource) for d in self.denies)

    def allowing(self, action: str, resource: str) -> list[Grant]:
        """The Allow statements that let it do `action` on `resource` (none when a Deny covers it)."""
        if self.denied(action, resource):
            return []
        return [g for g in self.grants if g.statement.covers_action(action) and g.statement.covers_resource(resource)]

    def allows_anywhere(self, action: str) -> list[Grant]:
        """The Allow statements that cover `action` on some resource (not all denied)."""
        return [g for g in self.grants if g.statement.covers_action(action) and not self.denied_everywhere(action)]

    def denied_everywhere(self, action: str) -> bool:
        return any(
            not d.conditions and d.covers_action(action) and d.not_resources is None and d.any_resource
            for d in self.denies
        )

    def broadly(self, action: str) -> list[Grant]:
        """The Allow statements that cover `action` on every resource of its service, unless a Deny narrows it.

        A Deny of the action on everything but a list (NotResource) leaves only that list: not broad.
        """
        for deny in self.denies:
            if deny.conditions or not deny.covers_action(action):
                continue
            if deny.any_resource or (
                deny.not_resources is not None and not any(unscoped(p) for p in deny.not_resources)
            ):
                return []
        service = action.split(":", 1)[0]
        return [
            g
            for g in self.grants
            if g.statement.covers_action(action)
            and (g.statement.not_resources is not None or any(unscoped(p, service) for p in g.statement.resources))
        ]

    def trusted_services(self) -> set[str]:
        """Service principals its trust policy lets assume it (`ecs-tasks.amazonaws.com`)."""
        return {
            value
            for statement in self.trust
            if statement.is_allow and statement.covers_action("sts:AssumeRole")
            for value in statement.principal_values("Service")
        }


def unscoped(pattern: str, service: str = "") -> bool:
    """Does a Resource pattern reach every resource (of `service`) of an account: `*`, `arn:aws:s3:::*`,
    `arn:aws:kms:eu-west-1:123456789012:key/*`? (iam.task-role-least-privilege reads its grants with it too.)"""
    if set(pattern) <= {"*", "?"}:
        return True
    parts = pattern.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return False
    if service and parts[2] != service and not set(parts[2]) <= {"*"}:
        return False
    resource = parts[5]
    # Drop the resource type ("key/", "table/", "secret:", "parameter/"); S3 ARNs start with the bucket.
    if parts[2] != "s3":
        for separator in ("/", ":"):
            head, sep, tail = resource.partition(separator)
            if sep and not set(head) <= {"*", "?"}:
                resource = tail
                break
    first = resource.split("/", 1)[0]
    return first == "" or set(first) <= {"*", "?"}


def boundary_condition(statement: Statement) -> tuple[str, ...] | None:
    """The boundaries a statement requires of the principal it writes to (`iam:PermissionsBoundary`), if any."""
    for condition in statement.conditions:
        if condition.key.lower() != BOUNDARY_KEY or condition.negated or condition.if_exists:
            continue
        if condition.base_operator in _POSITIVE_STRING_OPERATORS and condition.values:
            return condition.values
    return None


def _statements(document: Any) -> tuple[Statement, ...]:
    try:
        return tuple(parse_policy(document))
    except PolicyError:
        return ()


def principals(ctx: CheckContext) -> list[Principal]:
    """Every role (service-linked ones left out: AWS owns them) and user of the account."""
    records = ctx.account.iam.policy_records()
    by_holder: dict[str, list[PolicyRecord]] = {}
    for record in records:
        for holder in record.attached_to:
            by_holder.setdefault(holder, []).append(record)
    policies = {record.resource: record for record in records}
    found: list[Principal] = []
    listed: list[tuple[str, Mapping[str, Any]]] = [("role", r) for r in ctx.account.iam.roles()]
    listed += [("user", u) for u in ctx.account.iam.users()]
    for kind, item in listed:
        if str(item.get("Path", "")).startswith("/aws-service-role/"):
            continue
        name = str(item["RoleName"] if kind == "role" else item["UserName"])
        held = by_holder.get(f"{kind}/{name}", [])
        grants = tuple(Grant(s, r) for r in held for s in r.statements if s.is_allow)
        denies = tuple(s for r in held for s in r.statements if s.is_deny)
        trust = _statements(item.get("AssumeRolePolicyDocument")) if kind == "role" else ()
        boundary = ctx.account.iam.permissions_boundary(f"{kind}/{name}")
        limit = policies.get(boundary) if boundary else None
        found.append(
            Principal(
                kind,
                name,
                str(item["Arn"]),
                grants,
                denies,
                trust,
                boundary,
                tuple(held),
                limit.statements if limit is not None and not limit.problem else None,
            )
        )
    return found


def by_arn(found: Iterable[Principal]) -> dict[str, Principal]:
    return {p.arn: p for p in found}


def role_named(found: Sequence[Principal], arn: str | None) -> Principal | None:
    """The role whose ARN is `arn` (task definitions name roles by ARN, sometimes by name)."""
    if not arn:
        return None
    for principal in found:
        if principal.kind == "role" and (principal.arn == arn or principal.name == arn.rsplit("/", 1)[-1]):
            return principal
    return None
