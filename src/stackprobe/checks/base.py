"""Checks are data plus one function; findings are the records every report is generated from.

A `Check` says what it guards (id, title, severity, category, fidelity, the AWS services and the
Terraform resource types it reads, why it matters, and the fix). Its function receives a `CheckContext`
and yields `Finding`s: one per resource inspected, passing or failing, each with the evidence seen. A
check that inspects nothing yields nothing, and its result is "not applicable", never "pass"; when none
of the resource types it judges is there, the registry says so without running it. When an apply failed
part-way, a check whose verdict depends on what it did not create is "not checked", naming it, and not run.

The context is frozen: it describes one deployment at one moment. Its account snapshot
(`context.account`) reads each service once, whichever checks ask; the lifecycle's records (the second
plan's drift, the teardown report) and a mutant's plan are given to a new context
(`dataclasses.replace(context, drift=...)`), never assigned onto a shared one.

Fidelity is honest about what an emulator can prove:
- `config`: the deployed configuration was read back and judged (meaningful on an emulator);
- `behaviour`: the behaviour was exercised live (a request made, a process run, a message moved);
- `source`: the configuration's files were read (provider blocks, var files, saved plans, the backend,
  variable defaults): true whatever is deployed, and needing no deploy at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackprobe.aws.account import Account
from stackprobe.aws.environment import EnvironmentDecision, environment_decision
from stackprobe.network.model import read_network
from stackprobe.network.reachability import Graph
from stackprobe.terraform.resource_types import canonical_type

if TYPE_CHECKING:
    from stackprobe.aws.inventory import TeardownReport
    from stackprobe.backends.base import AwsBackend
    from stackprobe.datastores import LocalDatastores
    from stackprobe.terraform.drift import DriftReport
    from stackprobe.terraform.plan import Plan


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; choose one of {choices}") from None


class Category(StrEnum):
    SECURITY = "Security"
    RELIABILITY = "Reliability"
    BEST_PRACTICE = "Best practice"
    OPERATIONS = "Operations"
    COST = "Cost"


class Fidelity(StrEnum):
    CONFIG = "config"
    BEHAVIOUR = "behaviour"
    SOURCE = "source"


class Holder(StrEnum):
    """Where the resources a check judges are: deployed in the account, planned, or in the Terraform state."""

    ACCOUNT = "deployed"
    PLAN = "planned"
    STATE = "in the Terraform state"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not applicable"
    SKIPPED = "skipped"
    ERROR = "error"
    # The apply failed part-way, and the verdict depends on a resource it did not create: neither a pass nor a
    # fail may be drawn from that resource's absence.
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Finding:
    """What one check saw on one resource.

    `resource` identifies the deployed resource (ARN, id or name); `address` is its Terraform address
    when the state maps it. `evidence` is what was observed, phrased so that a reader can verify it
    (e.g. `0.0.0.0/0 → sg-0abc (db):5432`).
    """

    check_id: str
    passed: bool
    resource: str
    evidence: str
    address: str | None = None
    severity: Severity | None = None  # overrides the check's severity for this one finding

    @property
    def status(self) -> Status:
        return Status.PASS if self.passed else Status.FAIL


@dataclass(frozen=True)
class StateResource:
    """One instance of a managed resource in the Terraform state."""

    address: str  # with its index, as the user spells it: module.edge.aws_lb_listener.https[0]
    base: str  # without it, as `dependencies` name resources: module.edge.aws_lb_listener.https
    type: str  # canonical: an aws_alb_listener reads as aws_lb_listener
    attributes: Mapping[str, Any]
    dependencies: tuple[str, ...]


def _managed_instances(state: Mapping[str, Any]) -> list[StateResource]:
    found: list[StateResource] = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        base = (f"{resource['module']}." if resource.get("module") else "") + f"{resource['type']}.{resource['name']}"
        for instance in resource.get("instances", []):
            key = instance.get("index_key")
            suffix = "" if key is None else (f'["{key}"]' if isinstance(key, str) else f"[{key}]")
            found.append(
                StateResource(
                    f"{base}{suffix}",
                    base,
                    canonical_type(str(resource["type"])),
                    instance.get("attributes") or {},
                    tuple(instance.get("dependencies") or ()),
                )
            )
    return found


def without_index(address: str) -> str:
    """An address as the configuration names it: `module.edge[0].aws_lb.main[1]` -> `module.edge.aws_lb.main`."""
    return re.sub(r"\[[^\]]*\]", "", address)


def type_of(address: str) -> str:
    """The canonical resource type of an address (`module.edge.aws_alb.main` -> `aws_lb`)."""
    parts = without_index(address).split(".")
    return canonical_type(parts[-2]) if len(parts) >= 2 else ""


@dataclass(frozen=True)
class Unapplied:
    """A planned resource that an apply which failed part-way did not create: it failed, or it was never
    created because something it needs failed (or the apply stopped before it).

    `references` are the resources its configuration refers to (addresses without index): a listener
    refers to its load balancer, a rule to its security group, so a check that judges those is judging
    something incomplete."""

    address: str  # as planned: module.edge.aws_lb_listener.https[0]
    why: str  # "failed to apply", or "was not created (it needs `...`, which failed to apply)"
    values: Mapping[str, Any] = field(default_factory=dict)  # its planned values
    references: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        return type_of(self.address)

    def touches(self, resource_type: str) -> bool:
        """Whether the resource is of `resource_type`, or its configuration refers to one of that type."""
        return resource_type in (self.type, *(type_of(reference) for reference in self.references))

    def describe(self) -> str:
        return f"`{self.address}` {self.why}"


# State attributes that name a deployed resource, for the Terraform address of a finding.
_IDENTIFYING_ATTRIBUTES = ("id", "arn", "name", "bucket", "url", "identifier", "function_name", "repository_url")


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may read: the deployed account (`account`), the plan, the state, the configuration.

    Built in one place from a deployed stack (`stackprobe.lifecycle.context.build_context`); a harness test may
    build one by hand around a backend it filled itself, and builds another to see a change it made after.
    """

    backend: AwsBackend
    plan: Plan | None = None
    state: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    # The configuration as the user gave it (configuration-level checks read it; nothing writes to it).
    source_dir: Path | None = None
    # The var files the stack was applied with (their names may say the environment: prod.tfvars).
    var_files: tuple[Path, ...] = ()
    # The root module as terraform ran it: the workspace's copy of source_dir, with stackprobe's override
    # files (and a mutant's files, under mutation).
    work_dir: Path | None = None
    # Where local container commands run from (live probes start the stack's containers there).
    app_dir: Path | None = None
    # Container name -> how to run it locally (`COMMAND`, or `docker:IMAGE`), as the user configured it.
    container_commands: Mapping[str, str] = field(default_factory=dict)
    # The environment the user declared (`--environment`); None: decided from tags, variables, var files.
    environment: str | None = None
    # What the service must provide beyond universal good practice (stackprobe-requirements.yaml);
    # the requirements.* checks are not applicable unless something is declared here.
    requirements: Mapping[str, Any] = field(default_factory=dict)
    # The lifecycle's own records, for the lifecycle.* checks (None until that step ran).
    drift: DriftReport | None = None
    teardown: TeardownReport | None = None
    # Set when the stack is a backend's reduced subset (stackprobe_backend_var_files): names that subset,
    # so a check that finds nothing of its kind is skipped, not failed (see stackprobe.testing).
    reduced_stack: str | None = None
    # Stand-ins (objects the configuration names but does not create, made in the emulator for it): each way a
    # finding may name one -> why it is not judged ("stand-in for an external role: LabRole (named at main.tf:3)").
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    # For an apply that failed part-way: what the plan holds and the apply did not create. A check whose verdict
    # depends on one of them is not run: its result is "not checked", naming them (stackprobe.checks.run_check).
    unapplied: tuple[Unapplied, ...] = ()
    # Real local servers behind the deployed datastores (`--datastore`), started when a probe or check first asks
    # and ended by the lifecycle that made them (stackprobe.lifecycle.datastores); None: none asked for.
    datastores: LocalDatastores | None = field(default=None, compare=False)
    # The deployed account, read lazily and each service once for this context (a replaced context reads
    # its own: it may describe another moment).
    account: Account = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The one attribute set after construction, and only here: the context stays frozen for checks.
        object.__setattr__(self, "account", Account(self))

    def client(self, service: str, region_name: str | None = None) -> Any:
        """A boto3 client for what a live probe does; checks read the account through `account`."""
        return self.backend.client(service, region_name=region_name)

    @cached_property
    def decision(self) -> EnvironmentDecision:
        """The stack's environment decision, made once per context (the report header shows its `describe()`)."""
        return environment_decision(self)

    @cached_property
    def network_graph(self) -> Graph:
        """The account's network as a reachability graph, built once per context (every network check shares it)."""
        return Graph(read_network(self.account))

    @cached_property
    def _state_resources(self) -> tuple[StateResource, ...]:
        return tuple(_managed_instances(self.state))

    def state_resources(self, resource_type: str | None = None) -> list[StateResource]:
        """The state's managed resource instances, of one type when given (`aws_alb` finds `aws_lb` too)."""
        wanted = canonical_type(resource_type) if resource_type else None
        return [r for r in self._state_resources if wanted is None or r.type == wanted]

    def holds(self, resource_type: str, holder: Holder) -> bool:
        """Whether a resource of this type is deployed, planned, or in the state (as `holder` says)."""
        if holder is Holder.PLAN:
            return self.plan is not None and bool(self.plan.resources(resource_type))
        if holder is Holder.STATE:
            return bool(self.state_resources(resource_type))
        return self.account.holds(resource_type)

    @cached_property
    def _address_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for resource in self._state_resources:
            for name in _IDENTIFYING_ATTRIBUTES:
                value = resource.attributes.get(name)
                if isinstance(value, str) and value:
                    index.setdefault(value, resource.address)
        return index

    def address_for(self, *identifiers: str | None) -> str | None:
        """The Terraform address whose state holds any of `identifiers` (id, arn, name, url)."""
        for identifier in identifiers:
            if identifier and identifier in self._address_index:
                return self._address_index[identifier]
        return None

    def without_stand_ins(self, findings: Iterable[Finding]) -> tuple[list[Finding], list[str]]:
        """`findings` less those about a stand-in, never judged as the stack's own, and why each left out was.

        A finding is about a stand-in when it names one and no resource of the state has that name (a stack
        that creates a bucket called like a stood-in role keeps its bucket's findings)."""
        kept: list[Finding] = []
        reasons: list[str] = []
        for finding in findings:
            reason = self.stand_ins.get(finding.resource) if finding.address is None else None
            if reason is None:
                kept.append(finding)
            elif reason not in reasons:
                reasons.append(reason)
        return kept, reasons

    def finding(
        self,
        check: Check,
        passed: bool,
        resource: str,
        evidence: str,
        *ids: str | None,
        severity: Severity | None = None,
    ) -> Finding:
        """A Finding for `check`, with the Terraform address looked up from `resource` and `ids`."""
        return Finding(
            check_id=check.id,
            passed=passed,
            resource=resource,
            evidence=evidence,
            address=self.address_for(resource, *ids),
            severity=severity,
        )


CheckFunction = Callable[["Check", CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    """One guarded property. `run` yields a Finding per inspected resource."""

    id: str
    title: str
    severity: Severity
    category: Category
    fidelity: Fidelity
    services: tuple[str, ...]
    why: str
    fix: str
    run: CheckFunction = field(compare=False, repr=False)
    # Where the reference stack implements the fix (for generated improvement reports).
    reference: str = ""
    # Plan-level checks read the plan only and need no deployed stack.
    plan_level: bool = False
    # The Terraform resource types the check judges (canonical: aws_lb, never aws_alb), looked for where
    # `holder` says: with none of them there, the registry reports the check not applicable, unrun.
    reads: tuple[str, ...] = ()
    holder: Holder = Holder.ACCOUNT


class SkipKind(StrEnum):
    """Why a check was not run: each kind is a different statement about the run, not about the stack."""

    UNSERVED = "a service the backend does not serve"
    NOT_EXERCISABLE = "behaviour the emulator cannot exercise"
    NO_PLAN = "a plan-level check with no plan"


@dataclass
class CheckResult:
    check: Check
    findings: list[Finding] = field(default_factory=list)
    skipped_reason: str = ""
    skip_kind: SkipKind | None = None
    error: str = ""
    # Why nothing was judged, when the check says (see stackprobe.errors.NotApplicable); beside findings, what
    # the check could not judge among what it looked at.
    not_applicable_reason: str = ""
    # Why the check was not run on a partial apply: what it depends on that the apply did not create.
    not_checked_reason: str = ""
    # How long it took here (run_check's wall time): the probes that start the app and wait as ECS would make a
    # run's checks phase, and a report names the slowest so that a user sees which to look at.
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        if self.error:
            return Status.ERROR
        if self.skipped_reason:
            return Status.SKIPPED
        if self.not_checked_reason:
            return Status.NOT_CHECKED
        if not self.findings:
            return Status.NOT_APPLICABLE
        return Status.FAIL if any(not f.passed for f in self.findings) else Status.PASS

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.passed]

    def severity_of(self, finding: Finding) -> Severity:
        """A finding's own severity, else its check's: the one severity every report shows for it."""
        return finding.severity or self.check.severity

    def worst_severity(self) -> Severity:
        if not self.failures:
            return Severity.INFO
        return max(self.severity_of(f) for f in self.failures)

    @property
    def severity(self) -> Severity:
        """What a report shows for the result: its worst failing finding's severity, else the check's own."""
        return self.worst_severity() if self.failures else self.check.severity


def check(
    id: str,
    title: str,
    *,
    severity: Severity,
    category: Category,
    fidelity: Fidelity = Fidelity.CONFIG,
    services: Iterable[str],
    why: str,
    fix: str,
    reference: str = "",
    plan_level: bool = False,
    reads: Iterable[str] = (),
    holder: Holder | None = None,
) -> Callable[[CheckFunction], Check]:
    """Decorator that turns a function into a Check record (the function stays its `run`).

    `reads` are the resource types the check judges; `holder` says where they are, by default the plan
    for a plan-level check and the deployed account for the others.
    """

    def wrap(function: CheckFunction) -> Check:
        return Check(
            id=id,
            title=title,
            severity=severity,
            category=category,
            fidelity=fidelity,
            services=tuple(services),
            why=why,
            fix=fix,
            run=function,
            reference=reference,
            plan_level=plan_level,
            reads=tuple(reads),
            holder=holder or (Holder.PLAN if plan_level else Holder.ACCOUNT),
        )

    return wrap
