"""The report of one run: what was deployed, every check result, drift, teardown, and limitations."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from stackprobe.checks.base import CheckResult, Severity, Status


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

    def by_status(self, status: Status) -> list[CheckResult]:
        return [r for r in self.results if r.status == status]

    def failed_at_or_above(self, threshold: Severity) -> list[CheckResult]:
        return [r for r in self.results if r.status == Status.FAIL and r.worst_severity() >= threshold]

    @property
    def passed(self) -> bool:
        return (
            self.outcome == RunOutcome.COMPLETE
            and not self.errors
            and not any(r.status in (Status.FAIL, Status.ERROR) for r in self.results)
        )

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    def findings_by_severity(self) -> dict[Severity, list[CheckResult]]:
        grouped: dict[Severity, list[CheckResult]] = {}
        for result in self.results:
            if result.status == Status.FAIL:
                grouped.setdefault(result.worst_severity(), []).append(result)
        return dict(sorted(grouped.items(), key=lambda item: -item[0]))
