"""The inherited stacks: `stackprobe audit` finds every planted defect, at the right severity, and the
reference stack passes the check that caught it.

The four audits run as the user runs them, `stackprobe audit DIR --format json`, in four concurrent
processes (each with its own embedded emulator, forked from one that paid their start-up once:
tests/integration/audit_pool.py), while this process works on the reference stack.
Every defect in a stack's defects.json is one test, named after the defect. Each audit also writes its
SARIF (`--output X.sarif`), which must be valid and locate every finding at its Terraform block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest
from audit_pool import Ended, run_pool

from stackprobe.checks import CHECKS

# Their own xdist group: the audits run in subprocesses with their own emulators, so they need no
# deployed reference stack and proceed in parallel with it.
pytestmark = [pytest.mark.regression, pytest.mark.xdist_group("legacy-audits")]

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "terraform" / "legacy"
IMPROVEMENTS = REPO / "docs" / "improvements"
SARIF_SCHEMA = REPO / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
STACKS = sorted(p.parent.name for p in LEGACY.glob("*/defects.json"))
DEFECTS = [(name, defect) for name in STACKS for defect in json.loads((LEGACY / name / "defects.json").read_text())]
AUDIT_TIMEOUT = 1500
# The checks tests/integration/test_reference_stack.py asserts pass on the deployed reference stack.
# Where "fixed in the reference" is proven: the deployed reference stack asserts these checks, and
# the scenario plans meet each legacy brief's declared requirements (read replicas, cache, CDN).
PROOFS = (
    Path(__file__).parent / "test_reference_stack.py",
    Path(__file__).parents[1] / "unit" / "test_requirements.py",
)
REFERENCE_CHECKS = {check for proof in PROOFS for check in re.findall(r'"([a-z0-9]+\.[a-z0-9-]+)"', proof.read_text())}


@dataclass
class Audit:
    name: str
    returncode: int
    report: dict[str, Any]
    improvements: str
    stderr: str
    sarif: dict[str, Any]

    def failing(self, address: str) -> list[tuple[str, str, str]]:
        """(check id, severity, evidence) of every failing finding on `address` (or one of its instances)."""
        found = []
        for check in self.report["checks"]:
            for finding in check["findings"]:
                where = finding.get("address") or ""
                if not finding["passed"] and (where == address or where.startswith(address + "[")):
                    found.append((check["id"], finding.get("severity") or check["severity"], finding["evidence"]))
        return found


def _command(name: str, out: Path) -> list[str]:
    """What follows `python` on the command line that audits `name`; the improvements report goes to a scratch
    copy for comparison (the report names the command that made it: the committed file's name is put back)."""
    return [
        "-m",
        "stackprobe",
        "audit",
        f"terraform/legacy/{name}",
        "--format",
        "json",
        "--fail-on",
        "high",
        "--quiet",
        "--improvements",
        str(out / f"{name}.md"),
        "--output",
        str(out / f"{name}.sarif"),
    ]


def _audit(name: str, out: Path, end: Ended) -> Audit:
    improvements = out / f"{name}.md"
    sarif = out / f"{name}.sarif"
    try:
        report = json.loads(end.stdout)
    except json.JSONDecodeError:
        reproduce = f"stackprobe audit terraform/legacy/{name} --format json"
        pytest.fail(f"`{reproduce}` printed no JSON report:\n{end.stderr[-3000:]}", pytrace=False)
    text = improvements.read_text() if improvements.exists() else ""
    return Audit(
        name,
        end.returncode,
        report,
        text.replace(str(improvements), f"docs/improvements/{name}.md"),
        end.stderr,
        json.loads(sarif.read_text()) if sarif.exists() else {},
    )


@pytest.fixture(scope="session")
def legacy_audits(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Audit]:
    backend = request.config.getoption("--stackprobe-backend") or "moto"
    if backend != "moto":
        # Every legacy stack runs on ECS or EC2 with ALB and RDS, which free LocalStack does not serve;
        # `stackprobe audit --backend localstack` would plan there and apply on moto anyway.
        pytest.skip(
            "the legacy audits apply ECS/ELBv2/RDS stacks, so they run on the embedded moto; "
            f"this session's backend is {backend} (run: pytest tests/integration/test_legacy_audits.py)"
        )
    out = tmp_path_factory.mktemp("legacy-audits")
    ended = run_pool({name: _command(name, out) for name in STACKS}, out / "pool", AUDIT_TIMEOUT)
    return {name: _audit(name, out, ended[name]) for name in STACKS}


@pytest.mark.parametrize("name", STACKS)
def test_audit_fails_at_high_and_reports_no_crash(legacy_audits: dict[str, Audit], name: str) -> None:
    audit = legacy_audits[name]
    assert audit.returncode == 1, f"exit {audit.returncode}:\n{audit.stderr[-2000:]}"
    assert not audit.report["errors"], audit.report["errors"]
    crashed = [c["id"] for c in audit.report["checks"] if c["status"] == "error"]
    assert not crashed, f"checks errored on {name}: {crashed}"


@pytest.mark.parametrize(("name", "defect"), DEFECTS, ids=[f"{n}/{d['id']}" for n, d in DEFECTS])
def test_legacy_defect_is_caught_and_fixed_in_the_reference(
    legacy_audits: dict[str, Audit], name: str, defect: dict[str, Any]
) -> None:
    """Fails on the legacy stack: the defect's check reports it at its address and severity.

    The other half, that the reference stack passes the same check, is asserted on the deployed
    reference stack by tests/integration/test_reference_stack.py, or, for what a service's brief
    requires beyond prod.tfvars, on its scenario's plan by tests/unit/test_requirements.py.
    """
    check_id = defect["check"]
    assert check_id in {c.id for c in CHECKS}, f"defects.json names an unknown check {check_id}"
    findings = legacy_audits[name].failing(defect["resource"])
    ours = [f for f in findings if f[0] == check_id]
    assert ours, (
        f"{name}/{defect['id']}: {check_id} reported nothing on {defect['resource']} ({defect['title']}); "
        f"failures there: {findings}"
    )
    severities = {f[1] for f in ours}
    assert defect["severity"] in severities, f"{name}/{defect['id']}: expected {defect['severity']}, found {ours}"
    assert check_id in REFERENCE_CHECKS, f"{check_id} is asserted neither on the reference stack nor on a scenario plan"


@pytest.mark.parametrize("name", STACKS)
def test_committed_improvements_report_matches_a_fresh_audit(legacy_audits: dict[str, Audit], name: str) -> None:
    committed = IMPROVEMENTS / f"{name}.md"
    fresh = legacy_audits[name].improvements
    assert committed.exists() and committed.read_text() == fresh, (
        f"docs/improvements/{name}.md is stale; regenerate it with: "
        f".venv/bin/stackprobe audit terraform/legacy/{name} --improvements docs/improvements/{name}.md"
    )


def _block_header(address: str) -> re.Pattern[str]:
    """The header line of the block that declares `address`: its last two names, instance keys removed
    (`var.NAME` and `output.NAME`, which the source checks name, are a variable and an output block)."""
    names = re.sub(r'\[(?:"(?:[^"\\]|\\.)*"|\d+)\]', "", address).split(".")
    if len(names) >= 2 and names[-2] in ("var", "output"):
        kind = "variable" if names[-2] == "var" else "output"
        return re.compile(rf'\s*{kind}\s+"{re.escape(names[-1])}"\s*\{{')
    kind = "data" if len(names) > 2 and names[-3] == "data" else "resource"
    return re.compile(rf'\s*{kind}\s+"{re.escape(names[-2])}"\s+"{re.escape(names[-1])}"\s*\{{')


@pytest.mark.parametrize("name", STACKS)
def test_sarif_is_valid_and_locates_every_finding_at_its_block(legacy_audits: dict[str, Audit], name: str) -> None:
    """`stackprobe audit DIR --output X.sarif`: valid SARIF 2.1.0, one result per failing finding (none dropped),
    each at the file and first line of the block that declares its address, the URI relative to the repository
    root (as code scanning reads it); one with no address at the file and line its evidence names, or at the
    root module's main file with a note."""
    audit = legacy_audits[name]
    reproduce = f"stackprobe audit terraform/legacy/{name} --output {name}.sarif"
    assert audit.sarif, f"`{reproduce}` wrote no SARIF:\n{audit.stderr[-2000:]}"
    validator = jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(audit.sarif)]
    assert errors == [], f"`{reproduce}` wrote invalid SARIF:\n" + "\n".join(errors[:20])
    results = audit.sarif["runs"][0]["results"]
    failing = sorted(
        (c["id"], f["address"] or "", f["evidence"])
        for c in audit.report["checks"]
        for f in c["findings"]
        if not f["passed"]
    )
    located = sorted(
        (r["ruleId"], r["properties"]["address"] or "", r["message"]["text"].split(" (location: ")[0]) for r in results
    )
    assert located == failing, f"`{reproduce}`: SARIF results differ from the report's failing findings"
    for result in results:
        location = result["locations"][0]
        artifact_location = location["physicalLocation"]["artifactLocation"]
        assert artifact_location.get("uriBaseId") == "REPOROOT", artifact_location
        artifact = unquote(artifact_location["uri"])
        line_number = location["physicalLocation"]["region"]["startLine"]
        line = (REPO / artifact).read_text().splitlines()[line_number - 1]
        where = f"{name}: {result['ruleId']} on {result['properties']['address']} -> {artifact}:{line_number} {line!r}"
        if result["properties"]["address"]:
            assert "message" not in location, f"{where}: {location['message']}"
            assert _block_header(result["properties"]["address"]).match(line), where
        elif "message" in location:
            assert (artifact, line_number) == (f"terraform/legacy/{name}/main.tf", 1), where
            assert "no Terraform address" in location["message"]["text"], where
        else:  # the evidence leads with the place it names: `backend.tf:2: ...`
            evidence = result["message"]["text"]
            assert artifact.endswith("/" + evidence.split(":")[0]) and evidence.split(":")[1].startswith(
                str(line_number)
            ), where
