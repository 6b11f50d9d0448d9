"""IAM and bucket policies read the way AWS evaluates them, so checks never string-match JSON.

The policy grammar allows many spellings of one meaning: a single Statement object or a list,
scalars or lists for Action/Resource/Principal, `"*"` or `{"AWS": "*"}` for everyone, `"false"` or
`false` in a condition, `s3:*` or `S3:*`. `parse_policy` normalises all of them into `Statement`s, and
the matchers answer the questions checks ask with IAM's wildcard semantics (`*` and `?` match any
characters, `/` and `:` included; actions case-insensitive, resources case-sensitive).

Where a question cannot be answered exactly (a NotResource list, unusual condition operators), the
answer is the conservative one for the caller: a Deny is not assumed to cover what it might not, and
an Allow is not assumed to be restricted by a condition that might not restrict it.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EVERYONE = "*"
SECURE_TRANSPORT = "aws:securetransport"

# Condition keys that pin a grant to a known account, organisation, network or resource. A statement
# whose principal is "*" but which requires one of these (with a positive operator and concrete
# values) is not public: this is the list S3 Block Public Access and Access Analyzer use.
RESTRICTING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:userid",
        "aws:username",
        "s3:dataaccesspointaccount",
        "s3:dataaccesspointarn",
    }
)
# aws:SourceIp ranges wider than these are "everyone" for practical purposes (0.0.0.0/1 is half
# the internet), so they do not make a grant private.
_NARROWEST_PUBLIC_PREFIX = {4: 8, 6: 32}


class PolicyError(ValueError):
    """The document is not a policy (not JSON, no Statement, a statement that is not an object)."""


def as_list(value: Any) -> list[Any]:
    """The policy grammar's "scalar or list" as a list (None and absent are empty)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    # JSON booleans in conditions ("false" vs false) compare as their lowercase text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM wildcard match: `*` is any run of characters (`/` and `:` included), `?` one character."""
    return _wildcard_regex(pattern, case_sensitive).match(value) is not None


def covers_everything_under(pattern: str, prefix: str, *, case_sensitive: bool = True) -> bool:
    """True when `pattern` matches every string that starts with `prefix`.

    That holds exactly when the pattern ends in `*` and what comes before it matches some prefix of
    `prefix`: the trailing `*` then absorbs whatever follows (e.g. `arn:aws:s3:::b*` covers every
    object of bucket `b`, `arn:aws:s3:::b/uploads/*` does not).
    """
    if not pattern.endswith("*"):
        return False
    head = pattern[:-1]
    return any(wildcard_match(head, prefix[:k], case_sensitive=case_sensitive) for k in range(len(prefix) + 1))


def _literal_prefix(pattern: str) -> str:
    cut = [i for i in (pattern.find("*"), pattern.find("?")) if i >= 0]
    return pattern[: min(cut)] if cut else pattern


def _may_overlap_prefix(pattern: str, prefix: str) -> bool:
    """Could `pattern` match some string starting with `prefix`? (sound: True when unsure)."""
    literal = _literal_prefix(pattern)
    return literal.startswith(prefix) or prefix.startswith(literal)


@dataclass(frozen=True)
class Condition:
    """One `operator: {key: values}` test, values as text (`false` and `"false"` are both "false")."""

    operator: str
    key: str
    values: tuple[str, ...]

    @property
    def base_operator(self) -> str:
        """The operator without set qualifier or IfExists, lower-cased (`ForAnyValue:BoolIfExists` → `bool`)."""
        operator = self.operator.split(":", 1)[-1]
        if operator.endswith("IfExists"):
            operator = operator[: -len("IfExists")]
        return operator.lower()

    @property
    def if_exists(self) -> bool:
        return self.operator.endswith("IfExists")

    @property
    def for_all_values(self) -> bool:
        return self.operator.lower().startswith("forallvalues:")

    @property
    def negated(self) -> bool:
        return "not" in self.base_operator

    def render(self) -> str:
        values = self.values[0] if len(self.values) == 1 else "[" + ", ".join(self.values) + "]"
        return f"{self.operator} {self.key}={values}"


Principals = tuple[tuple[str, str], ...]


def _principals(value: Any) -> Principals | None:
    """("AWS", "*")-style pairs; the bare string "*" means every principal, as {"AWS": "*"} does."""
    if value is None:
        return None
    if isinstance(value, str):
        return (("AWS", value),)
    if isinstance(value, Mapping):
        return tuple((str(kind), str(item)) for kind, items in value.items() for item in as_list(items))
    raise PolicyError(f"Principal must be a string or an object, not {type(value).__name__}")


@dataclass(frozen=True)
class Statement:
    """A policy statement with every element normalised to tuples (None where the element is absent)."""

    sid: str
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...]
    not_resources: tuple[str, ...] | None
    principals: Principals | None
    not_principals: Principals | None
    conditions: tuple[Condition, ...]
    index: int = 0

    @property
    def label(self) -> str:
        """How evidence names this statement: its Sid, or its position."""
        return f"'{self.sid}'" if self.sid else f"#{self.index + 1}"

    @property
    def is_allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"

    # actions ---------------------------------------------------------------------------------
    def covers_action(self, action: str) -> bool:
        """Does the statement apply to `action` (e.g. `s3:GetObject`)? Case-insensitive, as IAM is."""
        if self.not_actions is not None:
            return not any(wildcard_match(p, action, case_sensitive=False) for p in self.not_actions)
        return any(wildcard_match(p, action, case_sensitive=False) for p in self.actions)

    def covers_all_actions(self, service: str | None = None) -> bool:
        """Does it apply to every action (of `service`, e.g. "s3", when given)?"""
        prefix = f"{service.lower()}:" if service else ""
        if self.not_actions is not None:
            # "everything except X" covers all of `service` only if no X can name one of its actions.
            return not any(_may_overlap_prefix(p.lower(), prefix) for p in self.not_actions)
        if service is None:
            # "*" and "*:*" (both halves wildcards) name every action of every service.
            return any(all(part and set(part) <= {"*"} for part in p.split(":", 1)) for p in self.actions)
        return any(covers_everything_under(p.lower(), prefix, case_sensitive=False) for p in self.actions)

    def service_wildcards(self) -> list[str]:
        """Action patterns granting a whole service (`s3:*`, `iam:*`), not counting the bare `*`."""
        found = []
        for pattern in self.actions:
            service, sep, name = pattern.partition(":")
            if sep and name and set(name) <= {"*"} and service and not set(service) <= {"*"}:
                found.append(pattern)
        return found

    # resources -------------------------------------------------------------------------------
    def covers_resource(self, arn: str) -> bool:
        """Does the statement apply to the resource `arn` (an identity policy without Resource: no)?"""
        if self.not_resources is not None:
            return not any(wildcard_match(p, arn) for p in self.not_resources)
        return any(wildcard_match(p, arn) for p in self.resources)

    def covers_all_resources_under(self, prefix: str) -> bool:
        """Does it apply to every resource whose ARN starts with `prefix` (e.g. all objects of a bucket)?"""
        if self.not_resources is not None:
            return not any(_may_overlap_prefix(p, prefix) for p in self.not_resources)
        return any(covers_everything_under(p, prefix) for p in self.resources)

    @property
    def any_resource(self) -> bool:
        """Resource "*" (every resource of every service)."""
        return self.covers_all_resources_under("")

    # principals ------------------------------------------------------------------------------
    def applies_to_everyone(self) -> bool:
        """Principal "*" or {"AWS": "*"}: every caller, anonymous ones included."""
        if self.not_principals is not None:
            return False
        return any(kind in ("AWS", "*") and value == EVERYONE for kind, value in self.principals or ())

    def principal_values(self, kind: str) -> list[str]:
        return [value for k, value in self.principals or () if k == kind]

    def render_principals(self) -> str:
        if self.not_principals is not None:
            return "every principal except " + ", ".join(v for _, v in self.not_principals)
        if self.principals is None:
            return "(identity policy)"
        return ", ".join(value if kind == "AWS" else f"{kind}:{value}" for kind, value in self.principals)

    def render_actions(self) -> str:
        if self.not_actions is not None:
            return "every action except " + ", ".join(self.not_actions)
        return ", ".join(self.actions)

    def render_resources(self) -> str:
        if self.not_resources is not None:
            return "every resource except " + ", ".join(self.not_resources)
        return ", ".join(self.resources)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in as_list(value))


def _optional_strings(statement: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    return _strings(statement[name]) if name in statement else None


def _conditions(value: Any) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise PolicyError("Condition must be an object")
    found = []
    for operator, tests in value.items():
        if not isinstance(tests, Mapping):
            raise PolicyError(f"condition {operator!r} must map keys to values")
        for key, values in tests.items():
            found.append(Condition(str(operator), str(key), tuple(_text(v) for v in as_list(values))))
    return tuple(found)


def parse_statement(raw: Mapping[str, Any], index: int = 0) -> Statement:
    effect = str(raw.get("Effect", ""))
    if effect.lower() not in ("allow", "deny"):
        raise PolicyError(f"statement {index + 1} has Effect {effect!r}, not Allow or Deny")
    return Statement(
        sid=str(raw.get("Sid", "") or ""),
        effect=effect.capitalize(),
        actions=_strings(raw.get("Action")),
        not_actions=_optional_strings(raw, "NotAction"),
        resources=_strings(raw.get("Resource")),
        not_resources=_optional_strings(raw, "NotResource"),
        principals=_principals(raw.get("Principal")),
        not_principals=_principals(raw.get("NotPrincipal")),
        conditions=_conditions(raw.get("Condition")),
        index=index,
    )


def parse_policy(document: str | Mapping[str, Any] | None) -> list[Statement]:
    """Every statement of a policy document (JSON text, URL-encoded JSON text, or parsed JSON)."""
    if document is None or document == "":
        return []
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            # IAM's raw API answers URL-encoded documents; boto3 decodes them, other clients may not.
            text = urllib.parse.unquote(text)
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise PolicyError(f"policy is not JSON: {exc}") from None
    else:
        parsed = document
    if not isinstance(parsed, Mapping):
        raise PolicyError("policy must be a JSON object")
    statements = []
    for index, raw in enumerate(as_list(parsed.get("Statement"))):
        if not isinstance(raw, Mapping):
            raise PolicyError(f"statement {index + 1} is not an object")
        statements.append(parse_statement(raw, index))
    return statements


# --- questions checks ask --------------------------------------------------------------------


def _is_secure_transport_false(condition: Condition) -> bool:
    return (
        condition.key.lower() == SECURE_TRANSPORT
        and condition.base_operator == "bool"
        and not condition.for_all_values
        and "false" in (v.lower() for v in condition.values)
    )


def _tls_deny_flaws(statement: Statement) -> list[str]:
    """Why `statement` is not a deny of every non-TLS S3 request by anyone (empty when it is)."""
    flaws = []
    if not statement.is_deny:
        flaws.append(f"is {statement.effect}, not Deny")
    if not statement.applies_to_everyone():
        flaws.append(f"applies only to {statement.render_principals()}, not every principal")
    if not statement.covers_all_actions("s3"):
        flaws.append(f"covers only {statement.render_actions()}, not s3:*")
    if not statement.conditions or not all(_is_secure_transport_false(c) for c in statement.conditions):
        rendered = "; ".join(c.render() for c in statement.conditions) or "no condition"
        flaws.append(f"has condition {rendered}, not only Bool aws:SecureTransport=false")
    return flaws


@dataclass(frozen=True)
class Assessment:
    holds: bool
    evidence: str


def denies_insecure_transport(statements: Sequence[Statement], bucket_arn: str) -> Assessment:
    """Does the bucket policy deny every non-TLS request to the bucket and all of its objects?

    It does when Deny statements, each applying to every principal and every S3 action under only the
    condition `Bool`/`BoolIfExists` `aws:SecureTransport` = false, together cover the bucket ARN and
    every object ARN. Anything narrower (one action, one role, an extra condition, an Allow) leaves
    some plaintext request allowed and does not count.
    """
    objects = f"{bucket_arn}/"
    qualifying = [s for s in statements if not _tls_deny_flaws(s)]
    bucket_by = [s for s in qualifying if s.covers_resource(bucket_arn)]
    objects_by = [s for s in qualifying if s.covers_all_resources_under(objects)]
    if bucket_by and objects_by:
        labels = ", ".join(dict.fromkeys(s.label for s in bucket_by + objects_by))
        return Assessment(
            True,
            f"statement {labels} denies s3:* to every principal on {bucket_arn} and {bucket_arn}/* "
            "when aws:SecureTransport=false",
        )
    notes = []
    if qualifying:
        missing = [name for name, by in ((bucket_arn, bucket_by), (f"{bucket_arn}/*", objects_by)) if not by]
        labels = ", ".join(s.label for s in qualifying)
        notes.append(f"statement {labels} denies non-TLS requests but not on {' or '.join(missing)}")
    for statement in statements:
        if statement in qualifying:
            continue
        # Near misses worth naming: every Deny, and anything that tests aws:SecureTransport.
        if statement.is_deny or any(c.key.lower() == SECURE_TRANSPORT for c in statement.conditions):
            notes.append(f"statement {statement.label} " + "; ".join(_tls_deny_flaws(statement)))
    if not notes:
        notes.append("no statement denies requests with aws:SecureTransport=false")
    return Assessment(False, "; ".join(notes))


def _restricts(condition: Condition) -> bool:
    """Does this condition pin the caller to known accounts, networks or resources?"""
    if condition.key.lower() not in RESTRICTING_KEYS:
        return False
    # Negated tests ("not from this VPC"), IfExists (absent key passes) and ForAllValues (absent key
    # passes) all let an unknown caller through.
    if condition.negated or condition.if_exists or condition.for_all_values:
        return False
    if not condition.values or any(set(v) <= {"*", "?"} for v in condition.values):
        return False
    if condition.key.lower() == "aws:sourceip":
        return all(_narrow_network(v) for v in condition.values)
    return True


def _narrow_network(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return network.prefixlen >= _NARROWEST_PUBLIC_PREFIX[network.version]


def is_public_grant(statement: Statement) -> bool:
    """An Allow to every principal (or to everyone but a few) with no condition pinning the caller."""
    if not statement.is_allow:
        return False
    everyone = statement.applies_to_everyone() or statement.not_principals is not None
    return everyone and not any(_restricts(c) for c in statement.conditions)


def grants_everything(statement: Statement) -> bool:
    """Allow of every action on every resource (`"Action": "*"`, `"Resource": "*"`): administrator."""
    return (
        statement.is_allow
        and statement.not_actions is None
        and statement.covers_all_actions()
        and (statement.any_resource)
    )
