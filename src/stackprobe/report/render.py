"""Render a RunReport as terminal text, Markdown, JSON, JUnit XML or SARIF (all from the same records)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any
from xml.etree import ElementTree as ET

from stackprobe.checks.base import CheckResult, Finding, Severity, Status
from stackprobe.report.model import ACCEPTED, RunOutcome, RunReport
from stackprobe.report.sarif import to_sarif

STATUS_MARK = {
    Status.PASS.value: "PASS",
    Status.FAIL.value: "FAIL",
    Status.NOT_APPLICABLE.value: "N/A ",
    Status.SKIPPED.value: "SKIP",
    Status.ERROR.value: "ERR ",
    Status.NOT_CHECKED.value: "NCHK",  # the apply failed part-way, and the verdict depends on what it did not create
    ACCEPTED: "ACPT",  # failed, but every failing finding is baselined or suppressed: the run does not fail
}


def _finding_line(finding: Finding) -> str:
    where = f"{finding.address} ({finding.resource})" if finding.address else finding.resource
    return f"{where}: {finding.evidence}"


def _failure_line(result: CheckResult, finding: Finding, heading: Severity) -> str:
    """A failing finding listed under a severity heading: its own severity is named when it is another."""
    own = result.severity_of(finding)
    return _finding_line(finding) + ("" if own == heading else f" ({own.label})")


def _accepted_suffix(report: RunReport, finding: Finding) -> str:
    acceptance = report.accepted.get(finding)
    return f" [{acceptance.describe()}]" if acceptance is not None else ""


def _detail(result: CheckResult, report: RunReport) -> list[str]:
    if result.status == Status.SKIPPED:
        return [f"skipped: {result.skipped_reason}"]
    if result.status == Status.ERROR:
        return [f"error: {result.error}"]
    if result.status == Status.NOT_CHECKED:
        return [f"not checked: {result.not_checked_reason}"]
    # Beside findings, a check may say what it could not judge (a pool size not determinable for one database).
    unjudged = [f"not judged: {result.not_applicable_reason}"] if result.not_applicable_reason else []
    if result.status == Status.FAIL:
        return [_finding_line(f) + _accepted_suffix(report, f) for f in result.failures] + unjudged
    if result.status == Status.PASS:
        # First: the terminal shows a pass's first two lines only, and a pass with a gap must not look whole.
        return (
            unjudged
            + [_finding_line(f) for f in result.findings[:3]]
            + ([f"... and {len(result.findings) - 3} more"] if len(result.findings) > 3 else [])
        )
    return [result.not_applicable_reason or "nothing of this kind was deployed"]


def _audit_findings(report: RunReport) -> list[str]:
    """Failing findings grouped by severity, then category: the order a remediation plan follows."""
    lines: list[str] = []
    for severity, results in report.findings_by_severity().items():
        lines.append(f"{severity.label.upper()}")
        by_category: dict[str, list[CheckResult]] = {}
        for result in results:
            by_category.setdefault(result.check.category.value, []).append(result)
        for category in sorted(by_category):
            lines.append(f"  {category}")
            for result in sorted(by_category[category], key=lambda r: r.check.id):
                lines.append(f"    {result.check.id}: {result.check.title}")
                lines += [f"      - {_failure_line(result, f, severity)}" for f in report.new_failures(result)]
                lines.append(f"      fix: {result.check.fix}")
        lines.append("")
    return lines


def _accepted_lines(report: RunReport) -> list[str]:
    """Accepted findings, each with why: they do not fail the run, and are never silently left out."""
    accepted = report.accepted_findings()
    if not accepted:
        return []
    lines = [f"ACCEPTED ({len(accepted)} failing findings that do not fail the run)"]
    for result, finding, acceptance in accepted:
        lines.append(f"  - {result.check.id}: {_finding_line(finding)} [{acceptance.describe()}]")
    return [*lines, ""]


def _no_longer_occur_text(report: RunReport) -> str:
    count = len(report.no_longer_occur)
    return f"{count} baseline finding{'s' if count != 1 else ''} no longer occur: remove them from {report.baseline}"


def _baseline_lines(report: RunReport) -> list[str]:
    if not report.no_longer_occur:
        return []
    return [_no_longer_occur_text(report) + ":", *[f"  - {entry}" for entry in report.no_longer_occur], ""]


NOT_RUN_TEXT = "The configuration or the harness could not run: nothing was deployed and no check ran."
PARTIAL_TEXT = "The apply stopped part-way; the checks below judged what was deployed before it stopped:"


def _outcome_lines(report: RunReport) -> list[str]:
    """What a reader must know before any check row: that there are none, or that the apply stopped."""
    if report.outcome == RunOutcome.NOT_RUN:
        return [NOT_RUN_TEXT, ""]
    if report.outcome == RunOutcome.PARTIAL:
        return [PARTIAL_TEXT, *[f"  - {failed}" for failed in report.failed_resources], ""]
    return []


def _verdict(report: RunReport) -> str:
    if report.outcome == RunOutcome.NOT_RUN:
        return "NOT RUN"
    if report.outcome == RunOutcome.PARTIAL:
        return "PARTIAL"
    return "PASSED" if report.passed else "FAILED"


FALLBACK_LABEL = "Provider fallback (--provider-fallback)"


def _fallback_lines(report: RunReport) -> list[str]:
    """Right under the title: the verdict below is on another provider version than the configuration asks."""
    return [f"{FALLBACK_LABEL}: {pinned.describe()}" for pinned in report.provider_fallbacks]


STAND_INS_HEADING = "Stand-ins (named by the configuration, not created by it: made in the emulator before the plan)"


def to_terminal(report: RunReport, verbose: bool = False) -> str:
    lines = [f"stackprobe {report.title}: {report.stack} on {report.backend}", *_fallback_lines(report)]
    lines += [report.environment, ""] if report.environment else [""]
    lines += _outcome_lines(report)
    if report.outcome == RunOutcome.NOT_RUN:
        lines += [*report.errors, *(["", *report.notes] if report.notes else []), "", "Result: NOT RUN"]
        return "\n".join(lines) + "\n"
    if report.title == "audit":
        nothing_new = "No new failing finding." if report.accepted else "No failing check."
        lines += _audit_findings(report) or [nothing_new, ""]
    lines += _accepted_lines(report) + _baseline_lines(report)
    if report.title == "audit":
        lines.append("All checks:")
    for result in sorted(report.results, key=lambda r: (list(Status).index(r.status) != 1, -r.worst_severity())):
        check = result.check
        lines.append(
            f"[{STATUS_MARK[report.shown_status(result)]}] {check.id:<40} {result.severity.label:<8} "
            f"{check.fidelity.value:<9} {check.title}"
        )
        # Every check shows its evidence: a pass says what was seen, so a reader can judge the proof.
        detail = _detail(result, report)
        lines += [f"         - {line}" for line in (detail if verbose or result.status != Status.PASS else detail[:2])]
        if report.new_failures(result):
            lines.append(f"         fix: {check.fix}")
    if report.limitations:
        lines += ["", "Emulator limitations (not defects of the stack):"]
        lines += [f"  - {item}" for item in report.limitations]
    if report.stand_ins:
        lines += ["", f"{STAND_INS_HEADING}:"] + [f"  - {stand_in.render()}" for stand_in in report.stand_ins]
    if report.notes:
        lines += ["", *report.notes]
    if report.errors:
        lines += ["", "Errors:"] + [f"  {error}" for error in report.errors]
    if report.timings:
        lines += ["", "Timings: " + ", ".join(f"{t.name} {t.seconds:.0f}s" for t in report.timings)]
    if slowest := report.slowest_checks():
        lines.append("Slowest checks: " + ", ".join(f"{r.check.id} {r.seconds:.1f}s" for r in slowest))
    counts = report.counts()
    lines += [
        "",
        "Result: " + _verdict(report) + " — " + ", ".join(f"{n} {name}" for name, n in counts.items() if n),
    ]
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(report: RunReport) -> str:
    lines = [f"# stackprobe {report.title}: `{report.stack}`", "", f"Backend: {report.backend}", ""]
    lines += [f"**{line}**" for line in _fallback_lines(report)] + ([""] if report.provider_fallbacks else [])
    if report.environment:
        lines += [f"Environment: {report.environment}", ""]
    if report.outcome == RunOutcome.NOT_RUN:
        lines += ["**NOT RUN**", "", NOT_RUN_TEXT, ""] + [f"```\n{error}\n```" for error in report.errors]
        return "\n".join(lines) + "\n"
    counts = report.counts()
    lines.append("**" + _verdict(report) + "** — " + ", ".join(f"{n} {name}" for name, n in counts.items() if n) + "\n")
    if report.outcome == RunOutcome.PARTIAL:
        lines += [PARTIAL_TEXT, "", *[f"- `{failed}`" for failed in report.failed_resources], ""]
    grouped = report.findings_by_severity()
    if grouped:
        lines += ["## Findings by severity", ""]
        for severity, results in grouped.items():
            lines += [f"### {severity.label.capitalize()}", ""]
            for result in sorted(results, key=lambda r: (r.check.category.value, r.check.id)):
                check = result.check
                lines.append(f"- **{check.id}** ({check.category.value}, {check.fidelity.value}): {check.title}")
                for finding in report.new_failures(result):
                    own = result.severity_of(finding)
                    label = "" if own == severity else f" ({own.label})"
                    lines.append(f"  - `{finding.address or finding.resource}`{label}: {_md_escape(finding.evidence)}")
                lines.append(f"  - Why: {check.why}")
                lines.append(f"  - Fix: {check.fix}")
            lines.append("")
    lines += _markdown_accepted(report)
    lines += [
        "## All checks",
        "",
        "| Check | Status | Severity | Category | Fidelity | Evidence |",
        "|---|---|---|---|---|---|",
    ]
    for result in report.results:
        check = result.check
        evidence = _md_escape("; ".join(_detail(result, report))[:400])
        lines.append(
            f"| `{check.id}` | {report.shown_status(result)} | {result.severity.label} | {check.category.value} | "
            f"{check.fidelity.value} | {evidence} |"
        )
    if report.limitations:
        lines += ["", "## Emulator limitations", ""] + [f"- {item}" for item in report.limitations]
    if report.stand_ins:
        lines += ["", "## Stand-ins", "", f"{STAND_INS_HEADING}.", ""]
        lines += [f"- {_md_escape(stand_in.render())}" for stand_in in report.stand_ins]
    if report.errors:
        lines += ["", "## Errors", ""] + [f"```\n{error}\n```" for error in report.errors]
    return "\n".join(lines) + "\n"


def _markdown_accepted(report: RunReport) -> list[str]:
    """The accepted findings (with their reasons) and the baseline entries to remove, after the new findings."""
    lines: list[str] = []
    accepted = report.accepted_findings()
    if accepted:
        lines += ["## Accepted findings (they do not fail the run)", ""]
        lines += ["| Check | Resource | Accepted | Evidence |", "|---|---|---|---|"]
        for result, finding, acceptance in accepted:
            where, why = finding.address or finding.resource, _md_escape(acceptance.describe())
            lines.append(f"| `{result.check.id}` | `{where}` | {why} | {_md_escape(finding.evidence)} |")
        lines.append("")
    if report.no_longer_occur:
        lines += [f"**{_no_longer_occur_text(report)}:**", ""]
        lines += [f"- `{entry}`" for entry in report.no_longer_occur] + [""]
    return lines


def _json_finding(report: RunReport, result: CheckResult, finding: Finding) -> dict[str, Any]:
    acceptance = report.accepted.get(finding)
    disposition = None if finding.passed else acceptance.by.value if acceptance is not None else "new"
    return {
        "resource": finding.resource,
        "address": finding.address,
        "passed": finding.passed,
        "evidence": finding.evidence,
        "severity": result.severity_of(finding).label,
        # A failing finding is new (it fails the run), baselined or suppressed; a passing one has none.
        "disposition": disposition,
        "acceptance": {"reason": acceptance.reason, "where": acceptance.where} if acceptance is not None else None,
    }


def to_json(report: RunReport) -> str:

    body = {
        "title": report.title,
        "stack": report.stack,
        "backend": report.backend,
        "environment": report.environment or None,
        "provider_fallbacks": [
            {**asdict(pinned), "summary": pinned.describe()} for pinned in report.provider_fallbacks
        ],
        "passed": report.passed,
        "counts": report.counts(),
        "checks": [
            {
                "id": r.check.id,
                "title": r.check.title,
                "status": r.status.value,
                # What the text and Markdown show: the worst failing finding's, else the check's own.
                "severity": r.severity.label,
                "default_severity": r.check.severity.label,
                "worst_failed_severity": r.worst_severity().label if r.failures else None,
                "category": r.check.category.value,
                "fidelity": r.check.fidelity.value,
                "why": r.check.why,
                "fix": r.check.fix,
                "skipped_reason": r.skipped_reason or None,
                "not_checked_reason": r.not_checked_reason or None,
                "not_applicable_reason": r.not_applicable_reason or None,
                "error": r.error or None,
                "seconds": round(r.seconds, 2),
                "findings": [_json_finding(report, r, f) for f in r.findings],
            }
            for r in report.results
        ],
        "baseline": {"file": report.baseline, "no_longer_occur": report.no_longer_occur} if report.baseline else None,
        "outcome": report.outcome.value,
        "failed_resources": report.failed_resources,
        "limitations": report.limitations,
        "stand_ins": [stand_in.to_json() for stand_in in report.stand_ins],
        "notes": report.notes,
        "errors": report.errors,
        "timings": {t.name: round(t.seconds, 1) for t in report.timings},
    }
    return json.dumps(body, indent=2) + "\n"


def to_junit(report: RunReport) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"stackprobe {report.title} {report.stack}",
        tests=str(len(report.results)),
        failures=str(sum(1 for r in report.results if report.new_failures(r))),
        errors=str(len(report.by_status(Status.ERROR))),
        skipped=str(sum(len(report.by_status(s)) for s in (Status.SKIPPED, Status.NOT_APPLICABLE, Status.NOT_CHECKED))),
    )
    if report.provider_fallbacks:
        # JUnit's place for facts about the whole suite; it must come before the test cases.
        properties = ET.SubElement(suite, "properties")
        for pinned in report.provider_fallbacks:
            ET.SubElement(properties, "property", name="stackprobe.provider_fallback", value=pinned.describe())
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"stackprobe.{result.check.category.value}",
            name=result.check.id,
            time=f"{result.seconds:.3f}",
        )
        text = "\n".join(_detail(result, report))
        if report.new_failures(result):
            message = f"{report.worst_new_severity(result).label}: {result.check.title}"
            ET.SubElement(case, "failure", message=message).text = text + f"\nfix: {result.check.fix}"
        elif result.status == Status.FAIL:
            # Passed as far as the run goes; what was accepted, and why, stays in the record.
            accepted = f"accepted: every failing finding is baselined or suppressed\n{text}"
            ET.SubElement(case, "system-out").text = accepted
        elif result.status == Status.ERROR:
            ET.SubElement(case, "error", message=result.error)
        elif result.status in (Status.SKIPPED, Status.NOT_APPLICABLE, Status.NOT_CHECKED):
            ET.SubElement(case, "skipped", message=text)
    for error in report.errors:
        case = ET.SubElement(suite, "testcase", classname="stackprobe.run", name="run")
        ET.SubElement(case, "error", message=error[:200]).text = error
    return ET.tostring(suite, encoding="unicode") + "\n"


RENDERERS = {"text": to_terminal, "md": to_markdown, "json": to_json, "junit": to_junit, "sarif": to_sarif}


def render(report: RunReport, fmt: str) -> str:
    if fmt == "text":
        return to_terminal(report)
    return RENDERERS[fmt](report)  # type: ignore[operator]
