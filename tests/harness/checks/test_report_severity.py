"""One severity per finding everywhere in a report, and the environment line in its header.

Issue 16: a finding listed under "High" in the Markdown findings read "medium" in the table and in the
verify output, because the table and the terminal showed the check's declared severity while the
findings section grouped by the findings' own. Every renderer now shows the same one.
"""

from __future__ import annotations

import json
import re

import pytest

from stackprobe.checks.base import Category, Check, CheckResult, Finding, Severity, check
from stackprobe.report.model import RunReport
from stackprobe.report.render import to_json, to_markdown, to_terminal

pytestmark = pytest.mark.harness


@check(
    "demo.raised",
    "A check whose findings may be raised above its declared severity",
    severity=Severity.MEDIUM,
    category=Category.SECURITY,
    services=(),
    why="why",
    fix="fix",
)
def raised(check_: Check, ctx: object) -> list[Finding]:
    return []


@pytest.fixture
def report() -> RunReport:
    result = CheckResult(
        check=raised,
        findings=[
            Finding("demo.raised", False, "sg-1", "world on 22", "aws_security_group.web", severity=Severity.HIGH),
            Finding("demo.raised", False, "sg-2", "world on 8080", "aws_security_group.app"),
        ],
    )
    return RunReport(
        title="audit",
        stack="demo",
        backend="moto",
        results=[result],
        environment="environment unknown: production rules applied (set --environment to change)",
    )


def test_markdown_findings_and_table_agree(report: RunReport) -> None:
    text = to_markdown(report)
    high = text.split("### High", 1)[1].split("## All checks", 1)[0]
    assert "`aws_security_group.web`: world on 22" in high
    assert "`aws_security_group.app` (medium): world on 8080" in high
    [row] = [line for line in text.splitlines() if line.startswith("| `demo.raised`")]
    assert row.split(" | ")[2] == "high"
    assert "Environment: environment unknown: production rules applied (set --environment to change)" in text


def test_terminal_shows_the_severity_the_findings_are_listed_under(report: RunReport) -> None:
    text = to_terminal(report)
    assert re.search(r"^\[FAIL\] demo\.raised\s+high\s", text, re.MULTILINE), text
    assert "aws_security_group.app (sg-2): world on 8080 (medium)" in text
    assert text.splitlines()[1] == "environment unknown: production rules applied (set --environment to change)"


def test_json_gives_every_finding_its_one_severity(report: RunReport) -> None:
    body = json.loads(to_json(report))
    [entry] = body["checks"]
    assert (entry["severity"], entry["default_severity"]) == ("high", "medium")
    assert [f["severity"] for f in entry["findings"]] == ["high", "medium"]
    assert body["environment"] == "environment unknown: production rules applied (set --environment to change)"


def test_a_passing_check_shows_its_declared_severity() -> None:
    result = CheckResult(check=raised, findings=[Finding("demo.raised", True, "sg-1", "no world rule")])
    report = RunReport(title="verify", stack="demo", backend="moto", results=[result])
    assert re.search(r"^\[PASS\] demo\.raised\s+medium\s", to_terminal(report), re.MULTILINE)
    assert json.loads(to_json(report))["checks"][0]["severity"] == "medium"
    assert "Environment:" not in to_markdown(report)
