"""The corpus: small legacy configurations written in the style of real take-home and inherited stacks
(tests/corpus/), audited as a user would, and scored against what a strict reviewer expects.

Each configuration's `expected.yaml` lists, as data:
- `expected`: the findings a reviewer expects (`check` id and Terraform `address`, or a list of acceptable
  addresses; a file name for configuration-level findings);
- `must_not_fail`: check and address pairs that are right and must not be reported as failures (with
  `not_in_evidence`, must not be reported as failures for the reason that text names);
- `expected_error` (instead of both): the configuration cannot be deployed, and the audit must end in an
  error report with exit status 2 that names the file and line.

All audits run at once, each `stackprobe audit DIR --format json` in its own subprocess with its own
embedded emulator, niced so that they take the cores only while the rest of the suite waits. The score is
printed: recall (expected findings reported, at 90% or more) and false positives (none allowed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackprobe.checks import CHECKS
from stackprobe.testing import in_background

# Their own xdist group: the audits run in subprocesses with their own emulators, beside everything else.
pytestmark = [pytest.mark.corpus, pytest.mark.xdist_group("corpus")]

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
CONFIGURATIONS = sorted(p.parent.name for p in CORPUS.glob("*/expected.yaml"))
EXPECTATIONS = {name: yaml.safe_load((CORPUS / name / "expected.yaml").read_text()) for name in CONFIGURATIONS}
DEPLOYABLE = [name for name in CONFIGURATIONS if "expected_error" not in EXPECTATIONS[name]]
BROKEN = [name for name in CONFIGURATIONS if "expected_error" in EXPECTATIONS[name]]
MIN_RECALL = 0.9
AUDIT_TIMEOUT = 1500


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


def _audit(name: str) -> Audit:
    command = in_background(
        [
            sys.executable,
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
            *EXPECTATIONS[name].get("audit_args", []),
        ]
    )
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=AUDIT_TIMEOUT, check=False)
    audit = Audit(name, command, completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)
    try:
        audit.report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        audit.report = None
    return audit


@pytest.fixture(scope="session")
def corpus_audits(request: pytest.FixtureRequest) -> dict[str, Audit]:
    backend = request.config.getoption("--stackprobe-backend") or "moto"
    if backend != "moto":
        pytest.skip(
            "the corpus configurations run ECS, ELBv2 and RDS, which free LocalStack does not serve; they are "
            f"audited on the embedded moto (this session's backend is {backend}; run: pytest -m corpus)"
        )
    with ThreadPoolExecutor(max_workers=len(CONFIGURATIONS)) as pool:
        futures = {name: pool.submit(_audit, name) for name in CONFIGURATIONS}
        return {name: future.result() for name, future in futures.items()}


def _matches(where: str, addresses: str | list[str]) -> bool:
    wanted = [addresses] if isinstance(addresses, str) else addresses
    return any(where == a or where.startswith(f"{a}[") for a in wanted)


@dataclass
class Score:
    expected: int = 0
    found: int = 0
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
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
            if hits:
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
    known = {c.id for c in CHECKS}
    unknown = [
        f"{name}: {item['check']}"
        for name in DEPLOYABLE
        for key in ("expected", "must_not_fail")
        for item in EXPECTATIONS[name].get(key, [])
        if item["check"] not in known
    ]
    assert not unknown, f"expected.yaml names checks that do not exist: {unknown}"


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_the_audit_ran_to_the_end(corpus_audits: dict[str, Audit], name: str) -> None:
    audit = corpus_audits[name]
    assert audit.report is not None, f"`{audit.reproduce()}` printed no JSON report:\n{audit.stderr[-3000:]}"
    assert audit.returncode in (0, 1), f"`{audit.reproduce()}` exited {audit.returncode}:\n{audit.stderr[-2000:]}"
    assert not audit.report["errors"], f"`{audit.reproduce()}`: {audit.report['errors']}"
    crashed = {c["id"]: c["error"] for c in audit.report["checks"] if c["status"] == "error"}
    assert not crashed, f"`{audit.reproduce()}`: checks errored: {crashed}"


def test_recall_at_least_90_percent_and_no_false_positive(corpus_audits: dict[str, Audit]) -> None:
    result = score(corpus_audits)
    lines = [
        f"corpus: {len(DEPLOYABLE)} configurations audited (+ {len(BROKEN)} that must not deploy)",
        f"recall: {result.found}/{result.expected} = {result.recall:.0%} (at least {MIN_RECALL:.0%})",
        f"false positives: {len(result.false_positives)} (none allowed)",
        *(f"  missed: {miss}" for miss in result.misses),
        *(f"  false positive: {fp}" for fp in result.false_positives),
        f"failures a reviewer listed neither way: {len(result.unlisted)}",
        *(f"  {item}" for item in result.unlisted),
        "seconds per audit: " + ", ".join(f"{n} {a.seconds:.0f}" for n, a in sorted(corpus_audits.items())),
    ]
    print("\n" + "\n".join(lines))
    assert result.recall >= MIN_RECALL and not result.false_positives, "\n".join(lines)


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
