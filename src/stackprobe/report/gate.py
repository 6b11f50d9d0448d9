"""The gate: which failing findings of a run are new, and which a baseline or an inline skip accepted.

A legacy configuration fails dozens of checks on the day stackprobe is adopted; gating a pull request on
all of them would block every change until all are fixed. The gate lets a run fail only on what is new:
- a finding in the baseline (`--baseline FILE`, stackprobe.report.baseline) is *baselined*;
- a finding that a `# stackprobe:skip=CHECK reason="..."` comment beside its block accepts
  (stackprobe.terraform.skips) is *suppressed*, with that reason, file and line;
- every other failing finding is *new*, and only new findings count toward the exit status.
Accepted findings stay in every report, marked as such with their reason: nothing is silently dropped. Baseline
entries whose check was judged and no longer fails there are listed for removal.

It is read before anything is deployed (an unusable skip comment or baseline is bad input, reported in seconds
with its file and line), and applied after the checks ran: by the CLI to the RunReport, and by
stackprobe.testing to the one CheckResult a test asserts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from stackprobe.checks import CHECKS
from stackprobe.checks.base import CheckResult, Finding, Status
from stackprobe.report.baseline import Baseline, BaselineEntry, load_baseline, write_baseline
from stackprobe.report.improvements import stable
from stackprobe.report.model import Acceptance, AcceptedBy, RunOutcome, RunReport
from stackprobe.terraform.skips import InlineSkips, read_skips, shown_path

# A check that ran and judged: its baseline entries that did not fail again are fixed. (A skipped or errored
# check judged nothing, so its entries are neither matched nor listed.)
_JUDGED = (Status.PASS, Status.FAIL, Status.NOT_APPLICABLE)


def entry_of(finding: Finding) -> BaselineEntry:
    """How a baseline records a finding: check and address, else check and resource with emulator ids masked."""
    if finding.address:
        return BaselineEntry(finding.check_id, address=finding.address)
    return BaselineEntry(finding.check_id, resource=stable(finding.resource))


def inline_skips(source_dir: Path) -> InlineSkips:
    """The configuration's skip comments, each checked against the ids of the checks this stackprobe has."""
    return read_skips(source_dir, {item.id for item in CHECKS})


@dataclass(frozen=True)
class Gate:
    skips: InlineSkips | None = None
    baseline: Baseline | None = None

    def acceptance(self, finding: Finding) -> Acceptance | None:
        """Why a failing finding does not fail the run (an inline skip first: it carries a reason), else None."""
        skip = self.skips.find(finding.check_id, finding.address) if self.skips is not None else None
        if skip is not None:
            return Acceptance(AcceptedBy.INLINE, skip.reason, skip.path, skip.line)
        if self.baseline is not None and entry_of(finding) in self.baseline.entries:
            return Acceptance(AcceptedBy.BASELINE, "accepted in the baseline", shown_path(self.baseline.path))
        return None

    def accepted(self, results: Iterable[CheckResult]) -> dict[Finding, Acceptance]:
        found = {}
        for result in results:
            for finding in result.failures:
                acceptance = self.acceptance(finding)
                if acceptance is not None:
                    found[finding] = acceptance
        return found

    def no_longer_occur(self, results: Iterable[CheckResult]) -> list[BaselineEntry]:
        """Baseline entries of the checks in `results` that judged and did not fail there again; and entries
        naming a check this stackprobe does not have (renamed or removed: they can never occur again)."""
        if self.baseline is None:
            return []
        results = list(results)
        judged = {r.check.id for r in results if r.status in _JUDGED}
        occurring = {entry_of(f) for r in results for f in r.failures}
        known = {item.id for item in CHECKS}
        gone = [e for e in self.baseline.entries if e not in occurring and (e.check in judged or e.check not in known)]
        return sorted(gone, key=BaselineEntry.sort_key)

    def apply(self, report: RunReport) -> None:
        """Mark `report`'s accepted findings, and list the baseline entries that no longer occur."""
        report.accepted = self.accepted(report.results)
        if self.baseline is None:
            return
        report.baseline = shown_path(self.baseline.path)
        # A run that stopped early judged only part of the stack: what it did not reach has not been fixed.
        complete = report.outcome == RunOutcome.COMPLETE
        report.no_longer_occur = [e.describe() for e in self.no_longer_occur(report.results)] if complete else []

    def record(self, report: RunReport, path: Path, tf_dir: Path) -> Baseline:
        """Write today's failing findings as `tf_dir`'s baseline in `path`, judge `report` by it, and return it.
        Inline-skipped findings are left out: their comment already accepts them, and removing it must make them
        new again."""
        today = [
            entry_of(finding)
            for result in report.results
            for finding in result.failures
            if (acceptance := self.acceptance(finding)) is None or acceptance.by is AcceptedBy.BASELINE
        ]
        baseline = write_baseline(path, tf_dir, today)
        replace(self, baseline=baseline).apply(report)
        return baseline


def read_gate(source_dir: Path, baseline: Path | None) -> Gate:
    """The gate of one configuration: its skip comments, and the baseline written for it when one is given.

    SkipCommentError or BaselineError, naming the file (and line) and what is wrong, when either is unusable.
    """
    return Gate(inline_skips(source_dir), load_baseline(baseline, source_dir) if baseline is not None else None)
