"""Parity: one configuration on the embedded moto and on LocalStack, the same checks, side by side.

Both runs are the whole `pipeline.verify` (plan, apply, checks, second plan, destroy), each in its own
terraform workspace and run; they run concurrently (moto in this process, LocalStack as its own
process). The comparison is about the emulators, not the stack: when the same check on the same
configuration passes on one and fails (or errors) on the other, one of the two emulators answers
differently from the other, and that row is an EMULATOR DISAGREEMENT with both evidences. A check that
one side could not run (a service LocalStack does not serve, behaviour it cannot exercise) is shown as
skipped there and is not compared; it is not a disagreement.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from stackprobe.checks import CHECKS
from stackprobe.checks.base import Check, CheckResult, Status
from stackprobe.lifecycle.plan_store import PlanStore
from stackprobe.lifecycle.run import Run
from stackprobe.lifecycle.stack_run import Ephemeral, RunContext, StackRun
from stackprobe.report.model import RunReport
from stackprobe.settings import CheckSettings, RunSettings, StackSpec

SIDES = ("moto", "localstack")


class Agreement(StrEnum):
    AGREE = "agree"
    DISAGREE = "EMULATOR DISAGREEMENT"
    NOT_COMPARED = "not compared"  # skipped (or not run) on at least one side
    BOTH_ERROR = "error on both"  # the check broke on both emulators: a harness or check problem


@dataclass(frozen=True)
class ParityRow:
    """One check on both backends (None: the run on that side stopped before its checks)."""

    check: Check
    moto: CheckResult | None
    localstack: CheckResult | None
    agreement: Agreement
    reason: str

    def side(self, name: str) -> CheckResult | None:
        return self.moto if name == "moto" else self.localstack


def status_of(result: CheckResult | None) -> str:
    return "not run" if result is None else result.status.value


def evidence(result: CheckResult | None, limit: int = 3) -> list[str]:
    """What the result rests on, in a few lines: failing findings first, else passing ones, else why not."""
    if result is None:
        return ["the run stopped before the checks (see its errors)"]
    if result.status == Status.SKIPPED:
        return [f"skipped: {result.skipped_reason}"]
    if result.status == Status.ERROR:
        return [f"error: {result.error}"]
    if result.status == Status.NOT_APPLICABLE:
        return ["nothing of this kind was found"]
    chosen = result.failures or result.findings
    lines = [f"{f.address or f.resource}: {f.evidence}" for f in chosen[:limit]]
    if len(chosen) > limit:
        lines.append(f"... and {len(chosen) - limit} more")
    return lines


def compare(moto: CheckResult | None, localstack: CheckResult | None) -> tuple[Agreement, str]:
    """The agreement on one check run on both backends, and why."""
    results = {"moto": moto, "localstack": localstack}
    not_run = [name for name, r in results.items() if r is None]
    if not_run:
        return Agreement.NOT_COMPARED, f"not run on {' and '.join(not_run)}: that run stopped before its checks"
    assert moto is not None and localstack is not None
    skipped = {name: r for name, r in results.items() if r is not None and r.status == Status.SKIPPED}
    if skipped:
        why = "; ".join(f"skipped on {name}: {r.skipped_reason}" for name, r in skipped.items())
        return Agreement.NOT_COMPARED, why
    errored = [name for name, r in results.items() if r is not None and r.status == Status.ERROR]
    if len(errored) == 2:
        return (
            Agreement.BOTH_ERROR,
            "the check errored on both backends: a check or harness problem, not an emulator one",
        )
    if errored:
        other = "localstack" if errored[0] == "moto" else "moto"
        return Agreement.DISAGREE, f"errors on {errored[0]} only ({status_of(results[other])} on {other})"
    if moto.status == localstack.status:
        return Agreement.AGREE, f"{moto.status.value} on both"
    return Agreement.DISAGREE, f"{moto.status.value} on moto, {localstack.status.value} on localstack"


@dataclass
class ParityReport:
    stack: str
    moto: RunReport
    localstack: RunReport
    rows: list[ParityRow] = field(default_factory=list)
    # How LocalStack was obtained and what it is (mode, edition, version), for the reader and for tests.
    localstack_mode: str = ""
    localstack_description: str = ""
    localstack_attempts: list[str] = field(default_factory=list)

    @property
    def disagreements(self) -> list[ParityRow]:
        return [row for row in self.rows if row.agreement == Agreement.DISAGREE]

    @property
    def run_errors(self) -> dict[str, list[str]]:
        return {name: report.errors for name, report in self.reports().items() if report.errors}

    def reports(self) -> dict[str, RunReport]:
        return {"moto": self.moto, "localstack": self.localstack}

    @property
    def ok(self) -> bool:
        """Both runs completed and no check ran differently (the stack's own failures do not count here)."""
        broken = any(row.agreement == Agreement.BOTH_ERROR for row in self.rows)
        return not self.disagreements and not self.run_errors and not broken

    def counts(self) -> dict[str, int]:
        found = {agreement.value: 0 for agreement in Agreement}
        for row in self.rows:
            found[row.agreement.value] += 1
        return found


def compare_reports(moto: RunReport, localstack: RunReport, checks: Iterable[Check] | None = None) -> ParityReport:
    """One row per check, in catalogue order (or `checks` order), with its agreement."""
    by_side = {
        "moto": {r.check.id: r for r in moto.results},
        "localstack": {r.check.id: r for r in localstack.results},
    }
    ordered = list(CHECKS if checks is None else checks)
    known = {c.id for c in ordered}
    # Checks a report holds that the list does not (a caller's own), after the listed ones.
    for result in [*moto.results, *localstack.results]:
        if result.check.id not in known:
            ordered.append(result.check)
            known.add(result.check.id)
    report = ParityReport(stack=moto.stack, moto=moto, localstack=localstack)
    for item in ordered:
        pair = by_side["moto"].get(item.id), by_side["localstack"].get(item.id)
        if pair == (None, None) and not moto.errors and not localstack.errors:
            continue  # not selected on either side
        agreement, reason = compare(*pair)
        report.rows.append(ParityRow(item, pair[0], pair[1], agreement, reason))
    return report


# -- running both ----------------------------------------------------------------------------------


def run_parity(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    *,
    checks: Iterable[Check] | None = None,
    progress: Callable[[str], None] | None = None,
    check_settings: CheckSettings | None = None,
) -> ParityReport:
    """Verify `spec` on the embedded moto and on LocalStack at once, then compare every check."""
    from stackprobe.backends.localstack import LocalStackHandle

    say = progress or (lambda message: None)
    selected = list(CHECKS if checks is None else checks)
    saved_environ = dict(os.environ)
    sides = {
        "localstack": replace(settings, backend="localstack"),
        "moto": replace(settings, backend="moto", endpoint=None),
    }
    try:
        runs = _start_both(sides, work_root, say)
        handle = runs["localstack"].emulator
        reports = _verify_both(spec, sides, runs, work_root, selected, check_settings, say)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
    report = compare_reports(reports["moto"], reports["localstack"], selected)
    if isinstance(handle, LocalStackHandle):
        report.localstack_mode = handle.mode
        report.localstack_description = handle.capabilities.describe()
        report.localstack_attempts = list(handle.attempts)
    return report


def _start_both(sides: dict[str, RunSettings], work_root: Path, say: Callable[[str], None]) -> dict[str, Run]:
    """Both emulators started, LocalStack first: it looks for an external LocalStack at $AWS_ENDPOINT_URL,
    which moto's run is about to pin to itself. Each run pins the process environment when its backend
    starts; every terraform run and boto3 client gets its own backend's environment explicitly, so the two
    coexist, and the caller restores the environment at the end."""
    plans = PlanStore(sides["moto"].plan_store) if sides["moto"].plan_store is not None else None
    # LocalStack must not hand its apply to moto here: that would compare moto with itself.
    runs = {
        name: Run(
            side, work_root / name, plans=plans, defer_unserved=name != "localstack", workspaces_outlive_run=False
        )
        for name, side in sides.items()
    }
    started: list[Run] = []
    try:
        for name in ("localstack", "moto"):
            say(f"==> starting {name}")
            _ = runs[name].backend
            started.append(runs[name])
    except BaseException:
        for run in started:
            run.close()
        raise
    return runs


def _verify_both(
    spec: StackSpec,
    sides: dict[str, RunSettings],
    runs: dict[str, Run],
    work_root: Path,
    selected: list[Check],
    check_settings: CheckSettings | None,
    say: Callable[[str], None],
) -> dict[str, RunReport]:
    """Both verifications at once (LocalStack in a thread), each on its own run; both end their stacks."""
    from stackprobe.lifecycle.verify import verify

    lock = threading.Lock()

    def side(name: str) -> RunReport:
        def emit(message: str) -> None:
            with lock:
                say(f"[{name}] {message}")

        context = RunContext(work_root / name, say=emit, workspaces_outlive_run=False)
        stack_run = StackRun(spec, Ephemeral(spec, sides[name], context, run=runs[name]))
        return verify(
            spec, sides[name], work_root / name, title="parity", checks=selected, progress=emit,
            check_settings=check_settings, stack_run=stack_run,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stackprobe-parity") as pool:
        pending = pool.submit(side, "localstack")
        try:
            moto_report = side("moto")
        except KeyboardInterrupt:
            say("==> interrupted: waiting for the LocalStack run to destroy what it applied")
            raise
        return {"moto": moto_report, "localstack": pending.result()}


# -- rendering -------------------------------------------------------------------------------------

MARK = {
    Agreement.AGREE: "same",
    Agreement.DISAGREE: "DISAGREE",
    Agreement.NOT_COMPARED: "n/c",
    Agreement.BOTH_ERROR: "ERR",
}


def _summary(report: ParityReport) -> str:
    counts = report.counts()
    parts = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    agreement = "BACKENDS AGREE" if report.ok else "PARITY PROBLEMS"
    return f"{agreement} — {parts or 'no checks'}"


def to_text(report: ParityReport) -> str:
    lines = [f"stackprobe parity: {report.stack} on moto and on localstack"]
    if report.localstack_description:
        lines.append(f"LocalStack: {report.localstack_description}, {report.localstack_mode} mode")
    lines += ["", f"{'check':<40} {'moto':<15} {'localstack':<15} agreement"]
    for row in report.rows:
        lines.append(
            f"{row.check.id:<40} {status_of(row.moto):<15} {status_of(row.localstack):<15} {MARK[row.agreement]}"
        )
        if row.agreement == Agreement.NOT_COMPARED and any(
            r is not None and r.status == Status.SKIPPED for r in (row.moto, row.localstack)
        ):
            lines.append(f"    {row.reason}")
    findings = [row for row in report.rows if row.agreement in (Agreement.DISAGREE, Agreement.BOTH_ERROR)]
    if findings:
        lines += ["", "Findings about the emulators (not about the stack):"]
        for row in findings:
            lines.append(f"  {row.agreement.value}: {row.check.id} ({row.reason})")
            for name in SIDES:
                lines += [f"    {name}: {line}" for line in evidence(row.side(name))]
    for name, run in report.reports().items():
        if run.notes or run.errors:
            lines += ["", f"{name} run:"]
            lines += [f"  {note}" for note in run.notes]
            lines += [f"  error: {error}" for error in run.errors]
    timings = {
        name: ", ".join(f"{t.name} {t.seconds:.0f}s" for t in run.timings) for name, run in report.reports().items()
    }
    lines += ["", *(f"Timings on {name}: {text}" for name, text in timings.items() if text)]
    lines += ["", f"Result: {_summary(report)}"]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(report: ParityReport) -> str:
    lines = [f"# stackprobe parity: `{report.stack}`", ""]
    if report.localstack_description:
        lines += [f"LocalStack: {report.localstack_description}, {report.localstack_mode} mode", ""]
    lines += [f"**{_summary(report)}**", ""]
    findings = [row for row in report.rows if row.agreement in (Agreement.DISAGREE, Agreement.BOTH_ERROR)]
    if findings:
        lines += ["## Findings about the emulators (not about the stack)", ""]
        for row in findings:
            lines.append(f"- **{row.agreement.value}**: `{row.check.id}` ({row.reason})")
            for name in SIDES:
                lines += [f"  - {name}: {_md(line)}" for line in evidence(row.side(name))]
        lines.append("")
    lines += ["## Checks side by side", "", "| Check | moto | LocalStack | Agreement | Why |", "|---|---|---|---|---|"]
    for row in report.rows:
        lines.append(
            f"| `{row.check.id}` | {status_of(row.moto)} | {status_of(row.localstack)} | {row.agreement.value} | "
            f"{_md(row.reason)} |"
        )
    for name, run in report.reports().items():
        if run.notes or run.errors:
            lines += ["", f"## The {name} run", ""]
            lines += [f"- {_md(note)}" for note in run.notes]
            lines += [f"```\n{error}\n```" for error in run.errors]
    return "\n".join(lines) + "\n"


def _side_json(result: CheckResult | None) -> dict[str, Any]:
    return {
        "status": status_of(result),
        "skipped_reason": (result.skipped_reason or None) if result else None,
        "error": (result.error or None) if result else None,
        "evidence": evidence(result, limit=20),
    }


def to_json(report: ParityReport) -> str:
    body = {
        "title": "parity",
        "stack": report.stack,
        "ok": report.ok,
        "counts": report.counts(),
        "localstack": {
            "mode": report.localstack_mode,
            "description": report.localstack_description,
            "attempts": report.localstack_attempts,
        },
        "runs": {
            name: {
                "backend": run.backend,
                "passed": run.passed,
                "counts": run.counts(),
                "errors": run.errors,
                "notes": run.notes,
                "timings": {t.name: round(t.seconds, 1) for t in run.timings},
            }
            for name, run in report.reports().items()
        },
        "checks": [
            {
                "id": row.check.id,
                "title": row.check.title,
                "services": list(row.check.services),
                "agreement": row.agreement.value,
                "reason": row.reason,
                "moto": _side_json(row.moto),
                "localstack": _side_json(row.localstack),
            }
            for row in report.rows
        ],
    }
    return json.dumps(body, indent=2) + "\n"


RENDERERS: dict[str, Callable[[ParityReport], str]] = {"text": to_text, "md": to_markdown, "json": to_json}


def render(report: ParityReport, fmt: str) -> str:
    return RENDERERS[fmt](report)
