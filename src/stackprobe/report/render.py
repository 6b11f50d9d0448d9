"""Render a RunReport as terminal text, Markdown, JSON, JUnit XML or SARIF (all from the same records)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from stackprobe.checks.base import CheckResult, Finding, Severity, Status
from stackprobe.report.model import RunOutcome, RunReport
from stackprobe.report.sarif import to_sarif

STATUS_MARK = {
    Status.PASS: "PASS",
    Status.FAIL: "FAIL",
    Status.NOT_APPLICABLE: "N/A ",
    Status.SKIPPED: "SKIP",
    Status.ERROR: "ERR ",
}


def _finding_line(finding: Finding) -> str:
    where = f"{finding.address} ({finding.resource})" if finding.address else finding.resource
    return f"{where}: {finding.evidence}"


def _failure_line(result: CheckResult, finding: Finding, heading: Severity) -> str:
    """A failing finding listed under a severity heading: its own severity is named when it is another."""
    own = result.severity_of(finding)
    return _finding_line(finding) + ("" if own == heading else f" ({own.label})")


def _detail(result: CheckResult) -> list[str]:
    if result.status == Status.SKIPPED:
        return [f"skipped: {result.skipped_reason}"]
    if result.status == Status.ERROR:
        return [f"error: {result.error}"]
    if result.status == Status.FAIL:
        return [_finding_line(f) for f in result.failures]
    if result.status == Status.PASS:
        return [_finding_line(f) for f in result.findings[:3]] + (
            [f"... and {len(result.findings) - 3} more"] if len(result.findings) > 3 else []
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
                lines += [f"      - {_failure_line(result, f, severity)}" for f in result.failures]
                lines.append(f"      fix: {result.check.fix}")
        lines.append("")
    return lines


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


def to_terminal(report: RunReport, verbose: bool = False) -> str:
    lines = [f"stackprobe {report.title}: {report.stack} on {report.backend}"]
    lines += [report.environment, ""] if report.environment else [""]
    lines += _outcome_lines(report)
    if report.outcome == RunOutcome.NOT_RUN:
        lines += [*report.errors, *(["", *report.notes] if report.notes else []), "", "Result: NOT RUN"]
        return "\n".join(lines) + "\n"
    if report.title == "audit":
        lines += _audit_findings(report) or ["No failing check.", ""]
        lines.append("All checks:")
    for result in sorted(report.results, key=lambda r: (list(Status).index(r.status) != 1, -r.worst_severity())):
        check = result.check
        lines.append(
            f"[{STATUS_MARK[result.status]}] {check.id:<40} {result.severity.label:<8} {check.fidelity.value:<9} "
            f"{check.title}"
        )
        # Every check shows its evidence: a pass says what was seen, so a reader can judge the proof.
        detail = _detail(result)
        lines += [f"         - {line}" for line in (detail if verbose or result.status != Status.PASS else detail[:2])]
        if result.status == Status.FAIL:
            lines.append(f"         fix: {check.fix}")
    if report.limitations:
        lines += ["", "Emulator limitations (not defects of the stack):"]
        lines += [f"  - {item}" for item in report.limitations]
    if report.notes:
        lines += ["", *report.notes]
    if report.errors:
        lines += ["", "Errors:"] + [f"  {error}" for error in report.errors]
    if report.timings:
        lines += ["", "Timings: " + ", ".join(f"{t.name} {t.seconds:.0f}s" for t in report.timings)]
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
                for finding in result.failures:
                    own = result.severity_of(finding)
                    label = "" if own == severity else f" ({own.label})"
                    lines.append(f"  - `{finding.address or finding.resource}`{label}: {_md_escape(finding.evidence)}")
                lines.append(f"  - Why: {check.why}")
                lines.append(f"  - Fix: {check.fix}")
            lines.append("")
    lines += [
        "## All checks",
        "",
        "| Check | Status | Severity | Category | Fidelity | Evidence |",
        "|---|---|---|---|---|---|",
    ]
    for result in report.results:
        check = result.check
        evidence = _md_escape("; ".join(_detail(result))[:400])
        lines.append(
            f"| `{check.id}` | {result.status.value} | {result.severity.label} | {check.category.value} | "
            f"{check.fidelity.value} | {evidence} |"
        )
    if report.limitations:
        lines += ["", "## Emulator limitations", ""] + [f"- {item}" for item in report.limitations]
    if report.errors:
        lines += ["", "## Errors", ""] + [f"```\n{error}\n```" for error in report.errors]
    return "\n".join(lines) + "\n"


def to_json(report: RunReport) -> str:
    def finding(r: CheckResult, f: Finding) -> dict[str, Any]:
        return {
            "resource": f.resource,
            "address": f.address,
            "passed": f.passed,
            "evidence": f.evidence,
            "severity": r.severity_of(f).label,
        }

    body = {
        "title": report.title,
        "stack": report.stack,
        "backend": report.backend,
        "environment": report.environment or None,
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
                "error": r.error or None,
                "findings": [finding(r, f) for f in r.findings],
            }
            for r in report.results
        ],
        "outcome": report.outcome.value,
        "failed_resources": report.failed_resources,
        "limitations": report.limitations,
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
        failures=str(len(report.by_status(Status.FAIL))),
        errors=str(len(report.by_status(Status.ERROR))),
        skipped=str(len(report.by_status(Status.SKIPPED)) + len(report.by_status(Status.NOT_APPLICABLE))),
    )
    for result in report.results:
        case = ET.SubElement(
            suite, "testcase", classname=f"stackprobe.{result.check.category.value}", name=result.check.id
        )
        text = "\n".join(_detail(result))
        if result.status == Status.FAIL:
            node = ET.SubElement(case, "failure", message=f"{result.worst_severity().label}: {result.check.title}")
            node.text = text + f"\nfix: {result.check.fix}"
        elif result.status == Status.ERROR:
            ET.SubElement(case, "error", message=result.error)
        elif result.status in (Status.SKIPPED, Status.NOT_APPLICABLE):
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
