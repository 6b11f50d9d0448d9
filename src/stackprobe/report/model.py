"""The report of one run: what was deployed, every check result, drift, teardown, and limitations."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from stackprobe.backends.stand_ins import StandIn
from stackprobe.checks.base import CheckResult, Finding, Severity, Status
from stackprobe.terraform.fallback import ProviderFallback

# How reports show a failed check whose every failing finding was accepted (baselined or skipped inline).
ACCEPTED = "accepted"
# A text report names the checks that took at least this long, at most this many: the checks that start the app and
# wait as ECS would (a graceful stop, a health check's retries) are where a run's checks phase goes.
SLOW_CHECK_SECONDS = 1.0
SLOWEST_SHOWN = 5


class AcceptedBy(StrEnum):
    """Why a failing finding does not fail the run."""

    BASELINE = "baselined"  # it is in the baseline file (`--baseline`): known before, not added by this change
    INLINE = "suppressed"  # a `# stackprobe:skip=CHECK reason="..."` comment next to its block accepts it


@dataclass(frozen=True)
class Acceptance:
    """A failing finding accepted, and where that was decided: the skip comment's file (relative to the root
    module) and line, or the baseline file (line None)."""

    by: AcceptedBy
    reason: str
    path: str
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def describe(self) -> str:
        """One phrase every report uses: `baselined (in FILE)`, `suppressed at main.tf:3: REASON`."""
        if self.by is AcceptedBy.BASELINE:
            return f"baselined (in {self.where})"
        return f"suppressed at {self.where}: {self.reason}"


@dataclass
class StepTiming:
    name: str
    seconds: float


class RunOutcome(StrEnum):
    """How far the run got: what a reader (and the exit status) must know before the check rows."""

    COMPLETE = "complete"  # deployed, checked, second plan, ended
    PARTIAL = "partial"  # the apply failed part-way: the checks judged what was deployed before it stopped
    NOT_RUN = "not run"  # the configuration or the harness could not run: nothing was deployed or checked


@dataclass
class RunReport:
    title: str
    stack: str
    backend: str
    results: list[CheckResult] = field(default_factory=list)
    timings: list[StepTiming] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The root module the run was given (findings' source locations are relative to it); None when unknown.
    source_dir: Path | None = None
    # The environment the checks judged the stack as, and why (EnvironmentDecision.describe()); "" if none.
    environment: str = ""
    outcome: RunOutcome = RunOutcome.COMPLETE
    # For a partial run: the resources whose create failed, and terraform's reason for each.
    failed_resources: list[str] = field(default_factory=list)
    # Ctrl-C or SIGTERM ended the run early (what was applied was still ended); the CLI exits 130.
    interrupted: bool = False
    # Failing findings that do not fail the run (stackprobe.report.gate); every other failing finding is new.
    accepted: dict[Finding, Acceptance] = field(default_factory=dict)
    # The baseline the run was judged against, and its entries that no longer occur ("CHECK on ADDRESS").
    baseline: str | None = None
    no_longer_occur: list[str] = field(default_factory=list)
    # Providers tested at another version than the configuration asks (--provider-fallback): every report
    # says so in its header, since a verdict on another provider version is not the configuration's own.
    provider_fallbacks: list[ProviderFallback] = field(default_factory=list)
    # What the configuration names but does not create, and what became of each before the plan: stood in
    # (made in the emulator with the identifier the stack uses), present already, the stack's own, or not
    # possible (with the remedy). See stackprobe.lifecycle.stand_ins.
    stand_ins: list[StandIn] = field(default_factory=list)

    def slowest_checks(self) -> list[CheckResult]:
        """The checks that took SLOW_CHECK_SECONDS or more, slowest first, at most SLOWEST_SHOWN of them."""
        slow = [r for r in self.results if r.seconds >= SLOW_CHECK_SECONDS]
        return sorted(slow, key=lambda r: r.seconds, reverse=True)[:SLOWEST_SHOWN]

    def by_status(self, status: Status) -> list[CheckResult]:
        return [r for r in self.results if r.status == status]

    def new_failures(self, result: CheckResult) -> list[Finding]:
        """The failing findings of `result` that neither the baseline nor an inline skip accepted."""
        return [f for f in result.failures if f not in self.accepted]

    def worst_new_severity(self, result: CheckResult) -> Severity:
        return max((result.severity_of(f) for f in self.new_failures(result)), default=Severity.INFO)

    def shown_status(self, result: CheckResult) -> str:
        """What reports show: the result's status, or `accepted` for a failure with no new failing finding."""
        return ACCEPTED if result.status == Status.FAIL and not self.new_failures(result) else result.status.value

    def failed_at_or_above(self, threshold: Severity) -> list[CheckResult]:
        """The results with a new failing finding at or above `threshold` (accepted ones never fail a run)."""
        return [r for r in self.results if self.new_failures(r) and self.worst_new_severity(r) >= threshold]

    @property
    def passed(self) -> bool:
        return (
            self.outcome == RunOutcome.COMPLETE
            and not self.errors
            and not any(r.status == Status.ERROR or self.new_failures(r) for r in self.results)
        )

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status} | {ACCEPTED: 0}
        for result in self.results:
            counts[self.shown_status(result)] += 1
        return counts

    def findings_by_severity(self) -> dict[Severity, list[CheckResult]]:
        """The results with new failing findings, by the worst of those (what a remediation plan starts from)."""
        grouped: dict[Severity, list[CheckResult]] = {}
        for result in self.results:
            if self.new_failures(result):
                grouped.setdefault(self.worst_new_severity(result), []).append(result)
        return dict(sorted(grouped.items(), key=lambda item: -item[0]))

    def accepted_findings(self) -> list[tuple[CheckResult, Finding, Acceptance]]:
        """Every accepted failing finding with its result, in report order: no report leaves one out."""
        return [(r, f, self.accepted[f]) for r in self.results for f in r.failures if f in self.accepted]
