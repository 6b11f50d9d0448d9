"""Stand-ins: what a configuration names but does not create, made in the emulator with the identifier it uses.

A stack written for one account names what already exists there: a certificate ARN on a listener, a role
looked up by name, a hosted zone id in a var file, an AMI id. stackprobe finds those references before the
first plan (stackprobe.lifecycle.stand_ins) and asks the emulator to hold each one, so the stack applies with
no prerequisites written. This module is what both sides share:

- the records: a `StandInRequest` (what to make, and the file and line that named it), the emulator's
  `Made` answer, and the `StandIn` line a report shows;
- the client: `request_stand_ins` posts requests to a stackprobe moto server (embedded or detached: the same
  route serves both), `registered` reads back every stand-in the server holds.

The server side (the route's body and the registry of the stand-ins made, forgotten when moto is reset, so
it never names objects the emulator no longer holds) runs inside the emulator's process:
`stackprobe.backends.stand_in_models`.

The registry is what keeps stand-ins out of everything that judges the stack: the teardown inventory
(`stackprobe.aws.inventory`) leaves the ids it lists out, and a check context names them (a finding about one
is "not applicable: stand-in for an external role", never a pass). Importing this module imports no moto.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The route on a stackprobe moto server: POST a JSON list of requests (answered with a list of `Made`), GET
# every stand-in it holds.
STAND_INS_PATH = "/stackprobe-api/stand-ins"
# What a report and a check call each kind of object.
NOUNS = {
    "acm_certificate": "certificate",
    "iam_role": "role",
    "route53_zone": "hosted zone",
    "kms_key": "KMS key",
    "kms_alias": "KMS alias",
    "secret": "secret",
    "ssm_parameter": "SSM parameter",
    "ami": "AMI",
    "vpc": "VPC",
    "subnet": "subnet",
    "security_group": "security group",
    "s3_bucket": "bucket",
}


class Status(StrEnum):
    """The emulator's answer to one request."""

    CREATED = "created"
    STANDING = "stand-in"  # made earlier in this emulator (a plan before this one): still a stand-in
    EXISTS = "exists"  # held before any stand-in was asked for (a prerequisites configuration or hook): it wins
    IMPOSSIBLE = "impossible"  # cannot be made (a filter no object can satisfy, moto refusing it)


@dataclass(frozen=True)
class StandInRequest:
    """One object to stand in: its kind, what identifies it (`args`), where, and who named it.

    `label` is the identifier as the configuration writes it (an ARN, a name, an id) or the lookup described
    (`tag:Name=main`); `where` is the file and line that named it (`main.tf:12`, `env/prod.tfvars:3`);
    `ref` is the data source's address, for a later request that names this one's id (`data.aws_vpc.main`).
    `account` and `region` are those of the moto backend that holds it: where moto looks it up.
    """

    kind: str
    label: str
    where: str
    account: str
    region: str
    args: Mapping[str, Any] = field(default_factory=dict)
    ref: str = ""
    used_by: str = ""

    @property
    def noun(self) -> str:
        return NOUNS.get(self.kind, self.kind)

    def key(self) -> str:
        """What makes two requests ask for the same object (where it was named does not)."""
        return json.dumps([self.kind, self.account, self.region, self.args], sort_keys=True, default=str)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "where": self.where,
            "account": self.account,
            "region": self.region,
            "args": dict(self.args),
            "ref": self.ref,
            "used_by": self.used_by,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StandInRequest:
        return cls(
            kind=str(raw["kind"]),
            label=str(raw.get("label", "")),
            where=str(raw.get("where", "")),
            account=str(raw["account"]),
            region=str(raw["region"]),
            args=dict(raw.get("args") or {}),
            ref=str(raw.get("ref", "")),
            used_by=str(raw.get("used_by", "")),
        )


@dataclass(frozen=True)
class Made:
    """The emulator's answer to one request.

    `object_id` is the id a later request may refer to (a VPC's, for the subnets looked up in it);
    `identifiers` every way a check may name the object (id, name, ARNs); `listed` the ids the teardown
    inventory lists for it, by the inventory's kind (a VPC brings its default security group and main route
    table along).
    """

    request: StandInRequest
    status: Status
    detail: str = ""
    object_id: str = ""
    identifiers: tuple[str, ...] = ()
    listed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.to_json(),
            "status": self.status.value,
            "detail": self.detail,
            "object_id": self.object_id,
            "identifiers": list(self.identifiers),
            "listed": {kind: list(ids) for kind, ids in self.listed.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Made:
        return cls(
            request=StandInRequest.from_json(raw["request"]),
            status=Status(raw["status"]),
            detail=str(raw.get("detail", "")),
            object_id=str(raw.get("object_id", "")),
            identifiers=tuple(str(i) for i in raw.get("identifiers") or ()),
            listed={str(k): tuple(str(i) for i in v) for k, v in (raw.get("listed") or {}).items()},
        )

    def reason(self) -> str:
        """Why a check does not judge it: what a not-applicable result says."""
        request = self.request
        named = f" (named at {request.where})" if request.where else ""
        return f"stand-in for an external {request.noun}: {request.label}{named}"


class Outcome(StrEnum):
    """What became of one object the configuration names but does not create (a report's line)."""

    STOOD_IN = "stood in"
    PRESENT = "already in the emulator"  # a prerequisites configuration or hook made it: it wins
    OWN = "created by the stack"  # the stack itself creates the same object: it wins
    IMPOSSIBLE = "cannot be stood in"


@dataclass(frozen=True)
class StandIn:
    """One line of a report's stand-in section."""

    kind: str  # the noun: "role", "certificate", ...
    identifier: str
    where: str
    outcome: Outcome
    detail: str = ""
    used_by: str = ""

    def render(self) -> str:
        context = ", ".join(part for part in (self.where, self.used_by) if part)
        text = f"{self.kind} {self.identifier}" + (f" ({context})" if context else "") + f": {self.outcome.value}"
        return text + (f"; {self.detail}" if self.detail else "")

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "identifier": self.identifier,
            "where": self.where,
            "used_by": self.used_by,
            "outcome": self.outcome.value,
            "detail": self.detail,
        }


# -- the client ---------------------------------------------------------------------------------------


def request_stand_ins(endpoint: str, requests: Sequence[StandInRequest], timeout: float = 120.0) -> list[Made]:
    """Ask the stackprobe moto server at `endpoint` to hold each of `requests`; its answers, in order."""
    body = json.dumps([r.to_json() for r in requests]).encode()
    request = urllib.request.Request(
        f"{endpoint}{STAND_INS_PATH}", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return [Made.from_json(raw) for raw in json.loads(response.read().decode())]


def registered(endpoint: str, timeout: float = 10.0) -> list[Made]:
    """Every stand-in the emulator at `endpoint` holds; none when it keeps no registry (LocalStack, say)."""
    try:
        with urllib.request.urlopen(f"{endpoint}{STAND_INS_PATH}", timeout=timeout) as response:
            raw = json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return []
    if not isinstance(raw, list):
        return []
    try:
        return [Made.from_json(item) for item in raw]
    except (KeyError, TypeError, ValueError):
        return []  # an answer of another shape is no registry of ours


def listed_ids(stand_ins: Iterable[Made]) -> dict[str, set[str]]:
    """The ids the teardown inventory lists for `stand_ins`, by the inventory's kind."""
    found: dict[str, set[str]] = {}
    for made in stand_ins:
        for kind, ids in made.listed.items():
            found.setdefault(kind, set()).update(ids)
    return found
