"""The corpus: small legacy configurations written in the style of real take-home and inherited stacks
(tests/corpus/), audited as a user would, and scored against what a strict reviewer expects.

Each configuration's `expected.yaml` lists, as data:
- `expected`: every defect a strict reviewer names (`check` id and Terraform `address`, or a list of
  acceptable addresses; a file name for configuration-level findings), including those stackprobe does not
  report yet, marked `known_gap: true` with a `reason` (their `check` is the check that should report them,
  or the id a new check would have);
- `must_not_fail`: check and address pairs that are right and must not be reported as failures (with
  `not_in_evidence`, must not be reported as failures for the reason that text names);
- `mode: plan` (optional): judged on the plan and the files only (tests/corpus/plan_audit.py: init and plan,
  no apply), for a configuration whose defects are all plan- or configuration-level; its expectations may
  only name such checks (known gaps aside);
- `partial: {failed: [ADDRESS, ...]}` (optional): the apply fails part-way on those resources; the audit must
  exit 2 with a partial report naming them, and the checks judge what was deployed before it stopped;
- `expected_error` (instead of all of these): the configuration cannot be deployed, and the audit must end in
  an error report with exit status 2 that names the file and line.

All audits run at once, each in its own process with its own embedded emulator, forked from one process that
paid their start-up once (tests/integration/audit_pool.py), niced so that they take the cores only while the
rest of the suite waits (with STACKPROBE_CORPUS_REPORTS=DIR, each JSON report is kept
in DIR/NAME.json, to read the evidence behind a score). The score is printed: recall over every expectation and
over those not marked as gaps (95% or more), false positives (none allowed), and known gaps that are now
reported (none allowed: remove the mark).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from audit_pool import run_pool

from stackprobe.checks import CHECKS
from stackprobe.checks.base import Fidelity

# Their own xdist group: the audits run in subprocesses with their own emulators, beside everything else.
pytestmark = [pytest.mark.corpus, pytest.mark.xdist_group("corpus")]

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
CONFIGURATIONS = sorted(p.parent.name for p in CORPUS.glob("*/expected.yaml"))
EXPECTATIONS = {name: yaml.safe_load((CORPUS / name / "expected.yaml").read_text()) for name in CONFIGURATIONS}
DEPLOYABLE = [name for name in CONFIGURATIONS if "expected_error" not in EXPECTATIONS[name]]
BROKEN = [name for name in CONFIGURATIONS if "expected_error" in EXPECTATIONS[name]]
PARTIAL = [name for name in DEPLOYABLE if "partial" in EXPECTATIONS[name]]
PLAN_ONLY = [name for name in DEPLOYABLE if EXPECTATIONS[name].get("mode") == "plan"]
MIN_RECALL = 0.95
AUDIT_TIMEOUT = 1500
PLAN_AUDIT = CORPUS / "plan_audit.py"


@dataclass
class Audit:
    name: str
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    report: dict[str, Any] | None = None

    def failures(self) -> list[tuple[str, str, str]]:
        """(check id, where, evidence) of every failing finding; `where` is the address, else the resource."""
        found = []
        for check in (self.report or {}).get("checks", []):
            for finding in check["findings"]:
                if not finding["passed"]:
                    found.append((check["id"], finding.get("address") or finding["resource"], finding["evidence"]))
        return found

    def reproduce(self) -> str:
        return " ".join(self.command[self.command.index(sys.executable) :]).replace(sys.executable, "python")


def _command(name: str) -> list[str]:
    """What follows `python` on the command line that audits `name`."""
    extra = EXPECTATIONS[name].get("audit_args", [])
    if name in PLAN_ONLY:
        return [str(PLAN_AUDIT.relative_to(REPO)), f"tests/corpus/{name}", "--quiet", *extra]
    return [
        "-m",
        "stackprobe",
        "audit",
        f"tests/corpus/{name}",
        "--format",
        "json",
        "--fail-on",
        "high",
        "--quiet",
        # What a reviewer expects is about the stack, not its lifecycle: no second plan and no destroy
        # (each audit's emulator goes with its process), two terraform commands fewer per configuration.
        "--skip-check",
        "lifecycle.idempotent,lifecycle.clean-teardown",
        *extra,
    ]


@pytest.fixture(scope="session")
def corpus_audits(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Audit]:
    backend = request.config.getoption("--stackprobe-backend") or "moto"
    if backend != "moto":
        pytest.skip(
            "the corpus configurations run ECS, ELBv2 and RDS, which free LocalStack does not serve; they are "
            f"audited on the embedded moto (this session's backend is {backend}; run: pytest -m corpus)"
        )
    started = time.monotonic()
    out = tmp_path_factory.mktemp("corpus")
    commands = {name: _command(name) for name in CONFIGURATIONS}
    ended = run_pool(commands, out, AUDIT_TIMEOUT)
    kept = os.environ.get("STACKPROBE_CORPUS_REPORTS")
    audits = {}
    for name, end in ended.items():
        audit = Audit(name, [sys.executable, *commands[name]], end.returncode, end.stdout, end.stderr, end.seconds)
        try:
            audit.report = json.loads(end.stdout)
        except json.JSONDecodeError:
            audit.report = None
        if kept:
            Path(kept).mkdir(parents=True, exist_ok=True)
            (Path(kept) / f"{name}.json").write_text(end.stdout or end.stderr, encoding="utf-8")
        audits[name] = audit
    print(f"\ncorpus: {len(audits)} audits in {time.monotonic() - started:.0f} s of wall time")
    return audits


def _matches(where: str, addresses: str | list[str]) -> bool:
    wanted = [addresses] if isinstance(addresses, str) else addresses
    return any(where == a or where.startswith(f"{a}[") for a in wanted)


@dataclass
class Score:
    expected: int = 0  # every expectation, known gaps included
    gaps: int = 0
    found: int = 0  # expectations not marked as gaps that were reported
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    gaps_now_found: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Over expectations not marked as gaps: what stackprobe claims to check and should have reported."""
        checked = self.expected - self.gaps
        return self.found / checked if checked else 1.0

    @property
    def overall_recall(self) -> float:
        """Over every expectation: how much of what a strict reviewer names the audit reports."""
        return self.found / self.expected if self.expected else 1.0


def score(audits: dict[str, Audit]) -> Score:
    total = Score()
    for name in DEPLOYABLE:
        failures = audits[name].failures()
        listed: set[tuple[str, str]] = set()
        for item in EXPECTATIONS[name].get("expected", []):
            total.expected += 1
            hits = [f for f in failures if f[0] == item["check"] and _matches(f[1], item["address"])]
            listed |= {(f[0], f[1]) for f in hits}
            if item.get("known_gap"):
                total.gaps += 1
                if hits:
                    total.gaps_now_found.append(f"{name}: {item['check']} on {item['address']} ({item['why']})")
            elif hits:
                total.found += 1
            else:
                total.misses.append(f"{name}: {item['check']} on {item['address']} ({item['why']})")
        for item in EXPECTATIONS[name].get("must_not_fail", []):
            hits = [f for f in failures if f[0] == item["check"] and _matches(f[1], item["address"])]
            if "not_in_evidence" in item:
                # Only a failure for that reason is wrong; one for another reason is listed neither way.
                hits = [f for f in hits if item["not_in_evidence"] in f[2]]
            listed |= {(f[0], f[1]) for f in hits}
            total.false_positives += [f"{name}: {f[0]} on {f[1]}: {f[2]} (right because: {item['why']})" for f in hits]
        total.unlisted += sorted({f"{name}: {f[0]} on {f[1]}" for f in failures if (f[0], f[1]) not in listed})
    return total


def test_every_expectation_names_a_known_check() -> None:
    """A known gap may name the check a new one would be (it cannot pass before it exists), with its reason;
    every other expectation names a check, and in a plan-only configuration one judged without a deploy."""
    known = {c.id for c in CHECKS}
    undeployed = {c.id for c in CHECKS if c.plan_level or c.fidelity is Fidelity.SOURCE}
    problems = []
    for name in DEPLOYABLE:
        for key in ("expected", "must_not_fail"):
            for item in EXPECTATIONS[name].get(key, []):
                where = f"{name}: {item['check']} on {item['address']}"
                if item.get("known_gap"):
                    if key != "expected" or not item.get("reason"):
                        problems.append(f"{where}: a known gap is an expected defect, with its reason")
                elif item["check"] not in known:
                    problems.append(f"{where}: no such check")
                elif name in PLAN_ONLY and item["check"] not in undeployed:
                    problems.append(f"{where}: a plan-only configuration cannot judge a check that needs a deploy")
    assert not problems, "expected.yaml entries that cannot be scored:\n" + "\n".join(problems)


def test_the_corpus_can_show_a_gap() -> None:
    """At least 14 configurations, with known gaps among the expectations: a corpus of the classes stackprobe
    already checks measures nothing it does not know."""
    gaps = sum(1 for name in DEPLOYABLE for item in EXPECTATIONS[name].get("expected", []) if item.get("known_gap"))
    assert len(CONFIGURATIONS) >= 14 and gaps, f"{len(CONFIGURATIONS)} configurations, {gaps} known gaps"


@pytest.mark.parametrize("name", [n for n in DEPLOYABLE if n not in PARTIAL])
def test_the_audit_ran_to_the_end(corpus_audits: dict[str, Audit], name: str) -> None:
    audit = corpus_audits[name]
    assert audit.report is not None, f"`{audit.reproduce()}` printed no JSON report:\n{audit.stderr[-3000:]}"
    allowed = (0,) if name in PLAN_ONLY else (0, 1)
    assert audit.returncode in allowed, f"`{audit.reproduce()}` exited {audit.returncode}:\n{audit.stderr[-2000:]}"
    assert not audit.report["errors"], f"`{audit.reproduce()}`: {audit.report['errors']}"
    crashed = {c["id"]: c["error"] for c in audit.report["checks"] if c["status"] == "error"}
    assert not crashed, f"`{audit.reproduce()}`: checks errored: {crashed}"


@pytest.mark.parametrize("name", PARTIAL)
def test_an_apply_that_fails_part_way_is_a_partial_report_naming_what_failed(
    corpus_audits: dict[str, Audit], name: str
) -> None:
    """Exit status 2, outcome partial, every resource that failed named, and the checks judged what was deployed."""
    audit = corpus_audits[name]
    assert audit.report is not None, f"`{audit.reproduce()}` printed no JSON report:\n{audit.stderr[-3000:]}"
    assert audit.returncode == 2, f"`{audit.reproduce()}` exited {audit.returncode}:\n{audit.stderr[-2000:]}"
    assert audit.report["outcome"] == "partial", f"`{audit.reproduce()}`: outcome {audit.report['outcome']}"
    named = "\n".join([*audit.report["failed_resources"], *audit.report["errors"]])
    missing = [address for address in EXPECTATIONS[name]["partial"]["failed"] if address not in named]
    assert not missing, f"`{audit.reproduce()}`: the report does not name {missing}:\n{named}"
    crashed = {c["id"]: c["error"] for c in audit.report["checks"] if c["status"] == "error"}
    assert audit.report["checks"] and not crashed, f"`{audit.reproduce()}`: checks {crashed or 'missing'}"


def test_recall_at_least_95_percent_no_false_positive_and_no_stale_gap(corpus_audits: dict[str, Audit]) -> None:
    result = score(corpus_audits)
    checked = result.expected - result.gaps
    lines = [
        f"corpus: {len(DEPLOYABLE)} configurations audited ({len(PLAN_ONLY)} plan-only, {len(PARTIAL)} failing "
        f"part-way) + {len(BROKEN)} that must not deploy",
        f"recall over every expectation: {result.found}/{result.expected} = {result.overall_recall:.0%} "
        f"({result.gaps} known gaps)",
        f"recall over expectations not marked as gaps: {result.found}/{checked} = {result.recall:.0%} "
        f"(at least {MIN_RECALL:.0%})",
        f"false positives: {len(result.false_positives)} (none allowed)",
        f"known gaps now reported: {len(result.gaps_now_found)} (none allowed: remove their known_gap mark)",
        *(f"  missed: {miss}" for miss in result.misses),
        *(f"  false positive: {fp}" for fp in result.false_positives),
        *(f"  gap now reported: {gap}" for gap in result.gaps_now_found),
        f"failures a reviewer listed neither way: {len(result.unlisted)}",
        *(f"  {item}" for item in result.unlisted),
        "seconds per audit: " + ", ".join(f"{n} {a.seconds:.0f}" for n, a in sorted(corpus_audits.items())),
    ]
    print("\n" + "\n".join(lines))
    assert result.recall >= MIN_RECALL, "\n".join(lines)
    assert not result.false_positives and not result.gaps_now_found, "\n".join(lines)


@pytest.mark.parametrize("name", BROKEN)
def test_a_configuration_that_cannot_deploy_is_an_error_report(corpus_audits: dict[str, Audit], name: str) -> None:
    """Exit status 2, terraform's diagnostic naming the file and line, and no check row (nothing was deployed)."""
    audit = corpus_audits[name]
    expected = EXPECTATIONS[name]["expected_error"]
    assert audit.returncode == expected["exit_status"], (
        f"`{audit.reproduce()}` exited {audit.returncode}, expected {expected['exit_status']}:\n{audit.stderr[-2000:]}"
    )
    assert audit.report is not None, f"`{audit.reproduce()}` printed no JSON report:\n{audit.stderr[-3000:]}"
    errors = "\n".join(audit.report["errors"])
    location = f"{expected['file']} line {expected['line']}"
    assert location in errors, f"`{audit.reproduce()}`: the report does not name {location}:\n{errors}"
    assert audit.report["checks"] == [], f"`{audit.reproduce()}`: check rows for a stack never deployed"
