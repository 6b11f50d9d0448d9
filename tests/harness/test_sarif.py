"""`--format sarif`: a SARIF 2.1.0 log that the official schema accepts, one rule per check, one result per
failing finding, each located at the Terraform block it is about (or, when that cannot be, somewhere with a
note: never dropped).

Reports are built from crafted Check and Finding records against a small configuration written to tmp_path;
no terraform and no emulator run here. tests/integration/test_legacy_audits.py checks the same on the SARIF
that real audits of the legacy stacks write.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema
import pytest

from stackprobe.checks.base import Category, Check, CheckContext, CheckResult, Fidelity, Finding, Severity
from stackprobe.report.model import RunReport
from stackprobe.report.render import render
from stackprobe.report.sarif import ROOT_BASE_ID, main, to_sarif_log, with_absolute_uris

pytestmark = pytest.mark.harness

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
# The digest tests/fixtures/sarif/NOTICE.md records: the vendored schema is the unmodified OASIS file.
SCHEMA_SHA256 = "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"

ROOT_MAIN = """\
resource "aws_db_instance" "main" {
  engine = "postgres"
}

module "network" {
  source = "./modules/network"
}

module "cache" {
  source  = "terraform-aws-modules/elasticache/aws"
  version = "1.0.0"
}
"""
NETWORK_MAIN = """\
# The VPC.
resource "aws_security_group" "db" {
  name = "db"
}
"""


def _no_findings(check: Check, context: CheckContext) -> Iterable[Finding]:
    return ()


def a_check(check_id: str, severity: Severity, category: Category = Category.SECURITY) -> Check:
    return Check(
        id=check_id,
        title=f"title of {check_id}",
        severity=severity,
        category=category,
        fidelity=Fidelity.CONFIG,
        services=("ec2",),
        why=f"why {check_id} matters",
        fix=f"how to fix {check_id}",
        run=_no_findings,
        reference="terraform/modules/x",
    )


def finding(check: Check, passed: bool, address: str | None, evidence: str, **kwargs: Any) -> Finding:
    return Finding(check.id, passed, kwargs.pop("resource", "res-1"), evidence, address=address, **kwargs)


@pytest.fixture
def root_module(tmp_path: Path) -> Path:
    """A root module with a database, a local network module and a registry module call."""
    root = tmp_path / "stack"
    (root / "modules" / "network").mkdir(parents=True)
    (root / "main.tf").write_text(ROOT_MAIN)
    (root / "modules" / "network" / "main.tf").write_text(NETWORK_MAIN)
    return root


CHECKS = {
    "db": a_check("database.not-public", Severity.CRITICAL),
    "sg": a_check("network.no-world-ingress", Severity.HIGH),
    "alarms": a_check("alarms.present", Severity.MEDIUM, Category.OPERATIONS),
    "teardown": a_check("lifecycle.clean-teardown", Severity.LOW, Category.OPERATIONS),
    "crashed": a_check("kms.rotation", Severity.MEDIUM),
    "passing": a_check("s3.encrypted", Severity.HIGH),
}


@pytest.fixture
def run_report(root_module: Path) -> RunReport:
    """An audit with failing findings in the root, in a local module, in a registry module and on a resource
    with no address; a passing check; a check that errored; and a run error."""
    c = CHECKS
    results = [
        CheckResult(
            c["db"],
            [
                finding(c["db"], False, "aws_db_instance.main", "publicly_accessible = true"),
                finding(c["db"], True, "aws_db_instance.other", "private"),
            ],
        ),
        CheckResult(
            c["sg"],
            [
                finding(c["sg"], False, "module.network.aws_security_group.db", "0.0.0.0/0 → sg-0abc:5432"),
                finding(c["sg"], False, "module.cache.aws_security_group.this[0]", "0.0.0.0/0 → sg-0def:6379"),
            ],
        ),
        CheckResult(
            c["alarms"],
            [finding(c["alarms"], False, "aws_db_instance.main", "no CPU alarm", severity=Severity.HIGH)],
        ),
        CheckResult(
            c["teardown"],
            [finding(c["teardown"], False, None, "kms key still exists", resource="arn:aws:kms:…:key/1")],
        ),
        CheckResult(c["crashed"], error="boom: ListKeys returned 500"),
        CheckResult(c["passing"], [finding(c["passing"], True, "aws_db_instance.main", "encrypted")]),
    ]
    return RunReport(
        title="audit",
        stack="stack",
        backend="moto",
        results=results,
        errors=["terraform destroy failed"],
        source_dir=root_module,
    )


def schema_errors(log: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def header_line(root: Path, result: dict[str, Any]) -> tuple[str, int, str]:
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uriBaseId"] == ROOT_BASE_ID
    path = unquote(physical["artifactLocation"]["uri"])
    line = physical["region"]["startLine"]
    return path, line, (root / path).read_text().splitlines()[line - 1]


def test_vendored_schema_is_the_unmodified_oasis_file() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256, (
        f"{SCHEMA_PATH} changed; see tests/fixtures/sarif/NOTICE.md"
    )


def test_log_is_valid_sarif_2_1_0(run_report: RunReport) -> None:
    log = to_sarif_log(run_report)
    assert schema_errors(log) == []
    assert log["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("runs", 0, "results", 0, "message"), {}),
        (("runs", 0, "results", 0, "level"), "critical"),
        (("runs", 0, "results", 0, "locations", 0, "physicalLocation", "region", "startLine"), 0),
        (("runs", 0, "tool", "driver", "rules", 0, "id"), 7),
    ],
)
def test_schema_check_rejects_a_broken_log(run_report: RunReport, path: tuple[Any, ...], value: Any) -> None:
    log = copy.deepcopy(to_sarif_log(run_report))
    node = log
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(log), f"the schema accepted {path} = {value!r}"


def test_render_dispatches_sarif(run_report: RunReport) -> None:
    assert json.loads(render(run_report, "sarif")) == to_sarif_log(run_report)


def test_one_rule_per_check_with_its_record(run_report: RunReport) -> None:
    rules = to_sarif_log(run_report)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.check.id for r in run_report.results]
    db = rules[0]
    check = CHECKS["db"]
    assert db["shortDescription"]["text"] == check.title
    assert db["fullDescription"]["text"] == check.why
    assert check.why in db["help"]["text"] and check.fix in db["help"]["text"]
    assert check.fix in db["help"]["markdown"] and check.reference in db["help"]["markdown"]
    assert db["defaultConfiguration"]["level"] == "error"
    assert db["properties"]["severity"] == "critical"
    assert db["properties"]["security-severity"] == "9.5"
    assert "security" in db["properties"]["tags"]
    assert "security" not in rules[2]["properties"]["tags"]  # an Operations check


def test_one_result_per_failing_finding_with_the_evidence_as_message(run_report: RunReport) -> None:
    results = to_sarif_log(run_report)["runs"][0]["results"]
    failing = [(r.check.id, f) for r in run_report.results for f in r.failures]
    assert [r["ruleId"] for r in results] == [check_id for check_id, _ in failing]
    for result, (_, found) in zip(results, failing, strict=True):
        assert result["message"]["text"].startswith(found.evidence)
        assert result["properties"]["address"] == found.address
    rules = to_sarif_log(run_report)["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_level_follows_the_finding_severity_override(run_report: RunReport) -> None:
    levels = {
        (r["ruleId"], r["properties"]["severity"]): r["level"] for r in to_sarif_log(run_report)["runs"][0]["results"]
    }
    assert levels[("database.not-public", "critical")] == "error"
    assert levels[("alarms.present", "high")] == "error"  # a medium check, overridden to high for this finding
    assert levels[("lifecycle.clean-teardown", "low")] == "note"


def test_results_point_at_the_block_the_finding_is_about(run_report: RunReport, root_module: Path) -> None:
    results = {r["message"]["text"].split(" (location")[0]: r for r in to_sarif_log(run_report)["runs"][0]["results"]}
    path, line, text = header_line(root_module, results["publicly_accessible = true"])
    assert (path, line, text) == ("main.tf", 1, 'resource "aws_db_instance" "main" {')
    path, line, text = header_line(root_module, results["0.0.0.0/0 → sg-0abc:5432"])
    assert (path, line, text) == ("modules/network/main.tf", 2, 'resource "aws_security_group" "db" {')
    assert "message" not in results["0.0.0.0/0 → sg-0abc:5432"]["locations"][0]


def test_resource_in_a_registry_module_points_at_the_call_with_a_note(run_report: RunReport, root_module: Path) -> None:
    (result,) = [r for r in to_sarif_log(run_report)["runs"][0]["results"] if "6379" in r["message"]["text"]]
    path, _, text = header_line(root_module, result)
    assert (path, text) == ("main.tf", 'module "cache" {')
    note = result["locations"][0]["message"]["text"]
    assert "terraform-aws-modules/elasticache/aws" in note and note in result["message"]["text"]
    assert (
        result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "module.cache.aws_security_group.this[0]"
    )


def test_finding_without_an_address_points_at_the_root_module_with_a_note(run_report: RunReport) -> None:
    (result,) = [r for r in to_sarif_log(run_report)["runs"][0]["results"] if r["ruleId"] == "lifecycle.clean-teardown"]
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "main.tf"
    assert location["physicalLocation"]["region"]["startLine"] == 1
    assert "no Terraform address" in location["message"]["text"]
    assert "logicalLocations" not in location


def test_run_errors_and_crashed_checks_are_notifications(run_report: RunReport) -> None:
    invocation = to_sarif_log(run_report)["runs"][0]["invocations"][0]
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any("kms.rotation" in t and "boom" in t for t in texts)
    assert "terraform destroy failed" in texts
    assert invocation["executionSuccessful"] is False


def test_clean_run_is_successful(root_module: Path) -> None:
    check = CHECKS["passing"]
    report = RunReport(
        "verify", "stack", "moto", [CheckResult(check, [finding(check, True, None, "ok")])], source_dir=root_module
    )
    run = to_sarif_log(report)["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is True
    assert schema_errors(to_sarif_log(report)) == []


def test_without_a_source_directory_findings_keep_their_logical_location(run_report: RunReport) -> None:
    run_report.source_dir = None
    log = to_sarif_log(run_report)
    assert schema_errors(log) == []
    results = log["runs"][0]["results"]
    assert len(results) == sum(len(r.failures) for r in run_report.results)
    assert all("physicalLocation" not in loc for r in results for loc in r["locations"])
    assert "originalUriBaseIds" not in log["runs"][0]


def test_fingerprint_is_the_check_and_address_not_the_emulator_ids(root_module: Path) -> None:
    check = CHECKS["sg"]

    def fingerprint(evidence: str, resource: str, address: str | None) -> str:
        report = RunReport(
            "audit", "s", "moto", [CheckResult(check, [finding(check, False, address, evidence, resource=resource)])]
        )
        return str(to_sarif_log(report)["runs"][0]["results"][0]["partialFingerprints"])

    assert fingerprint("a", "sg-0aaaaaaaaaaaaaaaa", None) == fingerprint("b", "sg-0bbbbbbbbbbbbbbbb", None)
    assert fingerprint("a", "x", "aws_security_group.a") != fingerprint("a", "x", "aws_security_group.b")


def test_absolute_uris_resolve_to_the_files(run_report: RunReport, root_module: Path) -> None:
    """What action.yml uploads to code scanning, which reads relative URIs from the repository root."""
    resolved = with_absolute_uris(to_sarif_log(run_report))
    assert schema_errors(resolved) == []
    for result in resolved["runs"][0]["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert "uriBaseId" not in artifact
        uri = urlparse(artifact["uri"])
        assert uri.scheme == "file" and Path(unquote(uri.path)).is_file(), artifact["uri"]
        assert Path(unquote(uri.path)).is_relative_to(root_module)


def test_absolute_command_writes_the_resolved_log(run_report: RunReport, tmp_path: Path) -> None:
    source, target = tmp_path / "in.sarif", tmp_path / "out.sarif"
    source.write_text(render(run_report, "sarif"))
    assert main(["--absolute", str(source), str(target)]) == 0
    assert json.loads(target.read_text()) == with_absolute_uris(to_sarif_log(run_report))


def test_absolute_command_refuses_a_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.sarif"
    source.write_text("not json")
    assert main(["--absolute", str(source), str(tmp_path / "out.sarif")]) == 2
    assert str(source) in capsys.readouterr().err
