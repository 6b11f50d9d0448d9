"""Assertions for tests written on top of the plugin's fixtures.

`assert_check` runs one catalogue check and fails with everything a reader needs: the status, every
finding with its evidence, the fix, and the fidelity (so nobody mistakes a read-back for a live test).
A check the backend cannot run (a service it does not serve, or behaviour it cannot exercise) is a
pytest skip with the backend's reason, not a failure: it proves nothing about the stack either way.
"""

from __future__ import annotations

import shutil

from stackprobe.checks import by_id, run_check
from stackprobe.checks.base import Check, CheckContext, CheckResult, SkipKind, Status

# The CPU priority of work a test session runs beside its deployed stack (see `in_background`).
BACKGROUND_NICENESS = 10


def in_background(command: list[str]) -> list[str]:
    """`command` run at a lower CPU priority (`nice`), for a subprocess that works beside the deployed stack.

    A session's wall time is the deployed stack's chain of terraform commands. The legacy audits and
    the LocalStack parity run beside it, in subprocesses with their own emulators; on two cores they
    slowed the chain's plans about fourfold. Niced, they get the cores while the chain waits (most of
    an apply is the provider's fixed waits) and the chain runs close to its unloaded speed. Their
    terraform and providers inherit the priority. Where there is no `nice`, the command is unchanged.
    """
    nice = shutil.which("nice")
    return [nice, "-n", str(BACKGROUND_NICENESS), *command] if nice else list(command)


def describe(result: CheckResult) -> str:
    check = result.check
    lines = [f"{check.id} [{result.status.value}, {check.fidelity.value}]: {check.title}"]
    if result.skipped_reason:
        lines.append(f"  skipped: {result.skipped_reason}")
    if result.error:
        lines.append(f"  error: {result.error}")
    if result.not_applicable_reason:
        lines.append(f"  not applicable: {result.not_applicable_reason}")
    for finding in result.findings:
        mark = "ok " if finding.passed else "BAD"
        where = f"{finding.address} ({finding.resource})" if finding.address else finding.resource
        lines.append(f"  {mark} {where}: {finding.evidence}")
    if result.status == Status.FAIL:
        lines.append(f"  fix: {check.fix}")
    return "\n".join(lines)


def backend_cannot_run(context: CheckContext, result: CheckResult) -> bool:
    """True when `result` was skipped because of the backend, not because the test was written wrong."""
    return result.skip_kind in (SkipKind.UNSERVED, SkipKind.NOT_EXERCISABLE)


def assert_check(context: CheckContext, check: str | Check, expected: Status = Status.PASS) -> CheckResult:
    """Run `check` against `context` and assert its status; returns the result for further asserts.

    Skips the calling test (pytest.skip) when the backend cannot run the check, with the backend's
    reason, which names the service and what would make it available; and when a check expected to
    pass finds nothing to inspect in a stack reduced for the backend (the part it guards was left out).
    """
    item = by_id(check) if isinstance(check, str) else check
    result = run_check(item, context)
    reduced = context.reduced_stack
    if expected != Status.SKIPPED and backend_cannot_run(context, result):
        import pytest  # only here: the package is imported by the CLI too, where pytest plays no part

        pytest.skip(f"{item.id}: {result.skipped_reason}")
    if expected == Status.PASS and result.status == Status.NOT_APPLICABLE and reduced:
        import pytest

        pytest.skip(f"{item.id}: not applicable: nothing it inspects is in {reduced}")
    assert result.status == expected, f"expected {expected.value}, got:\n{describe(result)}"
    return result
