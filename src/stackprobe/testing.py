"""Assertions for tests written on top of the plugin's fixtures.

`assert_check` runs one catalogue check and fails with everything a reader needs: the status, every
finding with its evidence, the fix, and the fidelity (so nobody mistakes a read-back for a live test).
A check the backend cannot run (a service it does not serve, or behaviour it cannot exercise) is a
pytest skip with the backend's reason, not a failure: it proves nothing about the stack either way.

The gate (stackprobe.report.gate) applies as on the command line: a check expected to pass whose every
failing finding is accepted, by a `# stackprobe:skip=CHECK reason="..."` comment beside its block or by the
session's baseline (`--stackprobe-baseline`, for contexts of the configuration it was written for), does not
fail the test; the session's summary names each accepted finding and why. When the test fails on a new
finding, the message names the accepted ones too, with their reasons. Baseline entries of the check that no
longer occur are listed in the summary for removal.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from stackprobe.checks import by_id, run_check
from stackprobe.checks.base import Check, CheckContext, CheckResult, Finding, SkipKind, Status
from stackprobe.report.baseline import Baseline, read_baseline
from stackprobe.report.gate import Gate, inline_skips
from stackprobe.report.model import Acceptance
from stackprobe.terraform.skips import InlineSkips

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


@dataclass
class _Session:
    """The session's baseline and where notices go. The plugin sets them once per session (`use_baseline`):
    assert_check is given a context only, and a pytest process runs one session. Without the plugin, notices
    are logged."""

    baseline: Baseline | None = None
    notify: Callable[[str], None] = logging.getLogger("stackprobe.testing").warning


_SESSION = _Session()


def use_baseline(path: Path | None, notify: Callable[[str], None]) -> None:
    """The session's baseline file (None: none), and where notices about accepted findings go."""
    _SESSION.baseline = read_baseline(path) if path is not None else None
    _SESSION.notify = notify


@lru_cache(maxsize=16)
def _skips(source_dir: Path) -> InlineSkips:
    # Read once per configuration and session: its files do not change while its tests run.
    return inline_skips(source_dir)


def gate_for(context: CheckContext) -> Gate:
    """The skip comments of the context's configuration, and the session's baseline if written for it."""
    if context.source_dir is None:
        return Gate()
    source_dir = context.source_dir.resolve()
    baseline = _SESSION.baseline
    return Gate(_skips(source_dir), baseline if baseline is not None and baseline.directory == source_dir else None)


def _tell_accepted(item: Check, result: CheckResult, accepted: Mapping[Finding, Acceptance]) -> None:
    """A notice for the session's summary: the test passed although the check failed, and why."""
    named = "; ".join(f"{f.address or f.resource} [{accepted[f].describe()}]" for f in result.failures)
    _SESSION.notify(f"stackprobe: {item.id} failed only on accepted findings, so its test passed: {named}")


def _tell_fixed(item: Check, result: CheckResult, gate: Gate) -> None:
    """A notice for the session's summary: the baseline entries of this check that no longer occur."""
    gone = [entry for entry in gate.no_longer_occur([result]) if entry.check == item.id]
    if gone and gate.baseline is not None:
        entries = ", ".join(entry.address or entry.resource or "" for entry in gone)
        _SESSION.notify(
            f"stackprobe: {len(gone)} baseline findings of {item.id} no longer occur: remove them from "
            f"{gate.baseline.path}: {entries}"
        )


def describe(result: CheckResult, accepted: Mapping[Finding, Acceptance] | None = None) -> str:
    check = result.check
    lines = [f"{check.id} [{result.status.value}, {check.fidelity.value}]: {check.title}"]
    if result.skipped_reason:
        lines.append(f"  skipped: {result.skipped_reason}")
    if result.error:
        lines.append(f"  error: {result.error}")
    if result.not_applicable_reason:
        lines.append(f"  not applicable: {result.not_applicable_reason}")
    for finding in result.findings:
        acceptance = (accepted or {}).get(finding)
        mark = "ok " if finding.passed else "BAD" if acceptance is None else "acc"
        where = f"{finding.address} ({finding.resource})" if finding.address else finding.resource
        suffix = f" [{acceptance.describe()}]" if acceptance is not None else ""
        lines.append(f"  {mark} {where}: {finding.evidence}{suffix}")
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
    A check expected to pass whose failing findings are all accepted (see the module docstring) passes.
    """
    __tracebackhide__ = True  # a failure points at the caller's line, not at this helper's source
    item = by_id(check) if isinstance(check, str) else check
    result = run_check(item, context)
    reduced = context.reduced_stack
    if expected != Status.SKIPPED and backend_cannot_run(context, result):
        import pytest  # only here: the package is imported by the CLI too, where pytest plays no part

        pytest.skip(f"{item.id}: {result.skipped_reason}")
    if expected == Status.PASS and result.status == Status.NOT_APPLICABLE and reduced:
        import pytest

        pytest.skip(f"{item.id}: not applicable: nothing it inspects is in {reduced}")
    gate = gate_for(context)
    accepted = gate.accepted([result])
    _tell_fixed(item, result, gate)
    if expected == Status.PASS and result.status == Status.FAIL and all(f in accepted for f in result.failures):
        _tell_accepted(item, result, accepted)
        return result
    assert result.status == expected, f"expected {expected.value}, got:\n{describe(result, accepted)}"
    return result
