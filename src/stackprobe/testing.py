"""Assertions for tests written on top of the plugin's fixtures.

`assert_check` runs one catalogue check and fails with everything a reader needs: the status, every
finding with its evidence, the fix, and the fidelity (so nobody mistakes a read-back for a live test).
"""

from __future__ import annotations

from stackprobe.checks import by_id, run_check
from stackprobe.checks.base import Check, CheckContext, CheckResult, Status


def describe(result: CheckResult) -> str:
    check = result.check
    lines = [f"{check.id} [{result.status.value}, {check.fidelity.value}]: {check.title}"]
    if result.skipped_reason:
        lines.append(f"  skipped: {result.skipped_reason}")
    if result.error:
        lines.append(f"  error: {result.error}")
    for finding in result.findings:
        mark = "ok " if finding.passed else "BAD"
        where = f"{finding.address} ({finding.resource})" if finding.address else finding.resource
        lines.append(f"  {mark} {where}: {finding.evidence}")
    if result.status == Status.FAIL:
        lines.append(f"  fix: {check.fix}")
    return "\n".join(lines)


def assert_check(context: CheckContext, check: str | Check, expected: Status = Status.PASS) -> CheckResult:
    """Run `check` against `context` and assert its status; returns the result for further asserts."""
    item = by_id(check) if isinstance(check, str) else check
    result = run_check(item, context)
    assert result.status == expected, f"expected {expected.value}, got:\n{describe(result)}"
    return result
