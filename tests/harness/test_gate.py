"""The gate on a legacy configuration: a baseline file of accepted findings, and `# stackprobe:skip` comments.

Built from crafted Check and Finding records against small configurations written to tmp_path: no terraform
and no emulator run here (tests/integration/test_legacy_baseline.py runs the whole flow on a deployed stack).
- skip comments: where they may stand, which findings they accept, and each unusable one named by file:line;
- the baseline file: its format, and each way a file can be unusable named with the file;
- the gate applied to a report: new, baselined and suppressed findings; only new ones fail the run;
- every renderer shows accepted findings as such, with their reasons, and the baseline entries to remove;
- the CLI refuses bad input with exit 2 before anything is deployed; assert_check and the plugin gate too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks.base import Category, Check, CheckContext, CheckResult, Fidelity, Finding, Severity, Status
from stackprobe.cli import EXIT_FINDINGS, EXIT_NOT_RUN, EXIT_OK, exit_status, main
from stackprobe.report.baseline import BaselineEntry, BaselineError, load_baseline, read_baseline, write_baseline
from stackprobe.report.gate import Gate, entry_of, inline_skips, read_gate
from stackprobe.report.model import ACCEPTED, AcceptedBy, RunOutcome, RunReport
from stackprobe.report.render import render
from stackprobe.report.sarif import to_sarif_log
from stackprobe.terraform.skips import SkipCommentError
from stackprobe.testing import assert_check, use_baseline

pytestmark = pytest.mark.harness

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
BACKEND = AwsBackend("moto", "http://127.0.0.1:1", "eu-west-1", "123456789012")  # never asked

ROOT_MAIN = """\
# stackprobe:skip=s3.access-logging reason="served through CloudFront logs"
resource "aws_s3_bucket" "site" {
  # stackprobe:skip=s3.versioning,s3.tls-only reason="rebuilt from git on every deploy"
  bucket = "site # stackprobe:skip=not-a-comment"
}

resource "aws_s3_bucket" "assets" { # stackprobe:skip=s3.encryption-kms reason="AES256 is what the CDN reads"
  bucket = "assets"
}

resource "aws_s3_bucket" "logs" {
  bucket = "logs"
}

module "network" {
  # stackprobe:skip=network.flow-logs reason="the network team's VPC, logged by them"
  source = "./modules/network"
}

module "cache" {
  source = "terraform-aws-modules/elasticache/aws"
}
"""
NETWORK_MAIN = """\
// stackprobe:skip=network.no-world-ingress reason="the public web tier"
resource "aws_security_group" "web" {
  name = "web"
}
"""


@pytest.fixture
def root_module(tmp_path: Path) -> Path:
    """A root module with skip comments above, inside and on the first line of blocks, and in a local module."""
    root = tmp_path / "stack"
    (root / "modules" / "network").mkdir(parents=True)
    (root / "main.tf").write_text(ROOT_MAIN)
    (root / "modules" / "network" / "main.tf").write_text(NETWORK_MAIN)
    return root


def _nothing(check: Check, context: CheckContext) -> Iterable[Finding]:
    return ()


def a_check(check_id: str, severity: Severity = Severity.HIGH, run: Any = _nothing) -> Check:
    return Check(check_id, f"title of {check_id}", severity, Category.SECURITY, Fidelity.CONFIG, (), "why", "fix", run)


def failing(check_id: str, address: str | None, evidence: str = "bad", resource: str = "res-1") -> Finding:
    return Finding(check_id, False, resource, evidence, address=address)


# -- skip comments -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check_id", "address", "where"),
    [
        ("s3.access-logging", "aws_s3_bucket.site", "main.tf:1"),  # on the lines right above the block
        ("s3.versioning", 'aws_s3_bucket.site["a"]', "main.tf:3"),  # inside it, whichever instance
        ("s3.tls-only", "aws_s3_bucket.site[0]", "main.tf:3"),  # one comment, two checks
        ("s3.encryption-kms", "aws_s3_bucket.assets", "main.tf:7"),  # trailing the block's first line
        ("network.flow-logs", "module.network.aws_vpc.main", "main.tf:16"),  # on a module call: all it holds
        ("network.no-world-ingress", "module.network.aws_security_group.web", "modules/network/main.tf:1"),
    ],
)
def test_a_skip_accepts_its_checks_findings_on_its_block(
    root_module: Path, check_id: str, address: str, where: str
) -> None:
    skip = inline_skips(root_module).find(check_id, address)
    assert skip is not None and skip.where == where


@pytest.mark.parametrize(
    ("check_id", "address"),
    [
        ("s3.versioning", "aws_s3_bucket.assets"),  # another block
        ("s3.access-logging", "aws_s3_bucket.logs"),  # the block after the skipped one
        ("s3.no-public-access", "aws_s3_bucket.site"),  # another check
        ("network.no-world-ingress", "aws_security_group.web"),  # the same name, but not in the module
        ("network.flow-logs", "module.cache.aws_vpc.main"),  # another module call
        ("s3.access-logging", None),  # no address: no block to be next to
    ],
)
def test_a_skip_accepts_nothing_else(root_module: Path, check_id: str, address: str | None) -> None:
    assert inline_skips(root_module).find(check_id, address) is None


def test_text_in_a_string_is_not_a_skip(root_module: Path) -> None:
    """`not-a-comment` is no check id: read as a comment, it would have been an error."""
    assert {skip.check_id for skip in inline_skips(root_module).skips} == {
        "s3.access-logging",
        "s3.versioning",
        "s3.tls-only",
        "s3.encryption-kms",
        "network.flow-logs",
        "network.no-world-ingress",
    }


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("# stackprobe:skip=s3.versioning", "gives no reason"),
        ('# stackprobe:skip=s3.versioning reason=""', "gives no reason"),
        ('# stackprobe:skip=s3.versionning reason="x"', "names no check stackprobe has: s3.versionning (did"),
        ('# stackprobe:skip reason="x"', "names no check"),
        ('# stackprobe:skip=s3.versioning reason="x" or so', "has 'or so' after its reason"),
        ('# stackprobe:skip=s3.versioning reason="x"\n', "is neither inside a block nor on the lines right above"),
    ],
)
def test_an_unusable_skip_is_an_error_naming_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, comment: str, message: str
) -> None:
    (tmp_path / "main.tf").write_text(
        f'resource "aws_s3_bucket" "a" {{}}\n\n{comment}\nresource "aws_s3_bucket" "b" {{}}\n'
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SkipCommentError) as raised:
        inline_skips(tmp_path)
    assert f"main.tf:3: the stackprobe:skip comment {message}" in str(raised.value)
    assert 'stackprobe:skip=CHECK_ID reason="' in str(raised.value)  # the remedy shows how to write one


def test_every_unusable_skip_is_named_at_once(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_s3_bucket" "a" {\n  # stackprobe:skip=s3.versioning\n  # stackprobe:skip=nope reason="x"\n}\n'
    )
    with pytest.raises(SkipCommentError, match=r"2 stackprobe:skip comments") as raised:
        inline_skips(tmp_path)
    assert "main.tf:2:" in str(raised.value) and "main.tf:3:" in str(raised.value)


# -- the baseline file -----------------------------------------------------------------------------------------


def test_a_baseline_is_sorted_one_finding_per_line_without_evidence(tmp_path: Path) -> None:
    stack = tmp_path / "infra" / "prod"
    stack.mkdir(parents=True)
    entries = [entry_of(failing("s3.versioning", "aws_s3_bucket.b", "evidence that changes: sg-0abc1234"))]
    entries += [entry_of(failing("network.flow-logs", None, resource="vpc-0123456789abcdef0"))]
    entries += [entry_of(failing("s3.access-logging", 'aws_s3_bucket.a["x"]'))]
    write_baseline(tmp_path / "stackprobe-baseline.json", stack, entries)
    text = (tmp_path / "stackprobe-baseline.json").read_text()
    assert text.splitlines() == [
        "{",
        '  "stackprobe_baseline": 1,',
        '  "directory": "infra/prod",',
        '  "findings": [',
        '    {"check": "network.flow-logs", "resource": "vpc-…"},',  # the emulator's id masked
        '    {"check": "s3.access-logging", "address": "aws_s3_bucket.a[\\"x\\"]"},',
        '    {"check": "s3.versioning", "address": "aws_s3_bucket.b"}',
        "  ]",
        "}",
    ]
    assert "evidence" not in text and "sg-0abc" not in text
    assert load_baseline(tmp_path / "stackprobe-baseline.json", stack).entries == frozenset(entries)


def test_a_baseline_works_in_another_checkout(tmp_path: Path) -> None:
    """The directory is recorded relative to the file, so a moved checkout reads it."""
    first = tmp_path / "laptop"
    (first / "infra").mkdir(parents=True)
    write_baseline(first / "baseline.json", first / "infra", [BaselineEntry("s3.versioning", "aws_s3_bucket.b")])
    moved = tmp_path / "runner"
    first.rename(moved)
    assert load_baseline(moved / "baseline.json", moved / "infra").directory == (moved / "infra").resolve()


def test_a_baseline_of_another_directory_is_refused_naming_both(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_baseline(tmp_path / "baseline.json", tmp_path / "a", [])
    with pytest.raises(BaselineError) as raised:
        load_baseline(tmp_path / "baseline.json", tmp_path / "b")
    assert str(tmp_path / "baseline.json") in str(raised.value)
    assert f"written for {tmp_path / 'a'}, not {tmp_path / 'b'}" in str(raised.value)


HEADER = '{"stackprobe_baseline": 1, "directory": ".", "findings": '


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("{not json", "it is not JSON (line 1, column 2"),
        ('{"findings": []}', 'it is not a stackprobe baseline (no "stackprobe_baseline" key)'),
        ('{"stackprobe_baseline": 2, "directory": ".", "findings": []}', "it is format 2"),
        ('{"stackprobe_baseline": 1, "findings": []}', 'it names no "directory"'),
        ('{"stackprobe_baseline": 1, "directory": ".", "findings": {}}', '"findings" is not a list'),
        ('{"stackprobe_baseline": 1, "directory": ".", "findings": [{"address": "a.b"}]}', "finding 1 is not an"),
        (
            HEADER + '[{"check": "c", "address": "a.b", "resource": "r"}]}',
            'finding 1 (c) needs exactly one of "address" or "resource"',
        ),
        (
            HEADER + '[{"check": "c", "address": "a.b", "evidence": "x"}]}',
            "finding 1 (c) has unknown keys evidence",
        ),
    ],
)
def test_a_corrupt_baseline_is_refused_naming_the_file_and_what_is_wrong(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(BaselineError) as raised:
        read_baseline(path)
    assert f"The baseline {path} is not usable: {what}" in str(raised.value)


def test_a_missing_baseline_is_refused_with_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"does not exist.*--write-baseline"):
        read_baseline(tmp_path / "nowhere.json")


# -- the gate on a report ----------------------------------------------------------------------------------------

CHECKS = {
    "logging": a_check("s3.access-logging", Severity.LOW),
    "versioning": a_check("s3.versioning", Severity.MEDIUM),
    "public": a_check("s3.no-public-access", Severity.CRITICAL),
    "flow": a_check("network.flow-logs", Severity.MEDIUM),
    "queue": a_check("queue.dead-letter", Severity.MEDIUM),
    "encryption": a_check("queue.encryption", Severity.HIGH),
}


@pytest.fixture
def report(root_module: Path) -> RunReport:
    """Findings that a skip accepts, that the baseline accepts, and one that is new; checks that pass, were
    skipped, or no longer fail."""
    c = CHECKS
    results = [
        CheckResult(c["logging"], [failing("s3.access-logging", "aws_s3_bucket.site", "no access log")]),
        CheckResult(
            c["versioning"],
            [failing("s3.versioning", "aws_s3_bucket.logs", "versioning off")],  # baselined
        ),
        CheckResult(
            c["public"],
            [
                failing("s3.no-public-access", "aws_s3_bucket.logs", "public read"),  # new
                failing("s3.no-public-access", "aws_s3_bucket.assets", "public read"),  # baselined
            ],
        ),
        CheckResult(c["flow"], [failing("network.flow-logs", None, "no flow log", resource="vpc-0fedcba987654321")]),
        CheckResult(c["queue"], [Finding("queue.dead-letter", True, "q", "redrives", address="aws_sqs_queue.q")]),
        CheckResult(c["encryption"], skipped_reason="the backend does not serve SQS"),
    ]
    return RunReport("audit", "stack", "moto", results=results, source_dir=root_module)


@pytest.fixture
def baseline(root_module: Path) -> Path:
    path = root_module.parent / "stackprobe-baseline.json"
    write_baseline(
        path,
        root_module,
        [
            BaselineEntry("s3.versioning", "aws_s3_bucket.logs"),
            BaselineEntry("s3.no-public-access", "aws_s3_bucket.assets"),
            BaselineEntry("network.flow-logs", resource="vpc-…"),  # another run's VPC id, masked alike
            BaselineEntry("queue.dead-letter", "aws_sqs_queue.q"),  # fixed since: its check passes
            BaselineEntry("queue.encryption", "aws_sqs_queue.q"),  # its check was skipped: not judged
            BaselineEntry("s3.renamed-long-ago", "aws_s3_bucket.logs"),  # no such check any more
        ],
    )
    return path


@pytest.fixture
def gated(report: RunReport, root_module: Path, baseline: Path) -> RunReport:
    read_gate(root_module, baseline).apply(report)
    return report


def dispositions(report: RunReport) -> dict[tuple[str, str], str]:
    return {
        (r.check.id, f.address or f.resource): report.accepted[f].by.value if f in report.accepted else "new"
        for r in report.results
        for f in r.failures
    }


def test_each_failing_finding_is_new_baselined_or_suppressed(gated: RunReport) -> None:
    assert dispositions(gated) == {
        ("s3.access-logging", "aws_s3_bucket.site"): "suppressed",
        ("s3.versioning", "aws_s3_bucket.logs"): "baselined",
        ("s3.no-public-access", "aws_s3_bucket.logs"): "new",
        ("s3.no-public-access", "aws_s3_bucket.assets"): "baselined",
        ("network.flow-logs", "vpc-0fedcba987654321"): "baselined",
    }
    suppression = next(a for a in gated.accepted.values() if a.by is AcceptedBy.INLINE)
    assert (suppression.reason, suppression.where) == ("served through CloudFront logs", "main.tf:1")


def test_only_new_findings_fail_the_run(gated: RunReport) -> None:
    assert [r.check.id for r in gated.failed_at_or_above(Severity.LOW)] == ["s3.no-public-access"]
    assert not gated.passed
    assert exit_status(gated, Severity.HIGH) == EXIT_FINDINGS
    for result in gated.results:  # accept the new one too: nothing fails
        gated.accepted.update({f: next(iter(gated.accepted.values())) for f in result.failures})
    assert gated.passed and exit_status(gated, Severity.INFO) == EXIT_OK and exit_status(gated, None) == EXIT_OK


def test_counts_show_a_check_failing_only_on_accepted_findings_as_accepted(gated: RunReport) -> None:
    counts = gated.counts()
    assert (counts["fail"], counts[ACCEPTED], counts["pass"], counts["skipped"]) == (1, 3, 1, 1)


def test_baseline_entries_that_no_longer_occur_are_listed(gated: RunReport, baseline: Path) -> None:
    """Fixed (its check passed), and of a check that no longer exists; not the one whose check was skipped."""
    assert gated.no_longer_occur == [
        "queue.dead-letter on aws_sqs_queue.q",
        "s3.renamed-long-ago on aws_s3_bucket.logs",
    ]
    assert gated.baseline is not None and Path(gated.baseline).name == baseline.name


def test_a_run_that_stopped_early_lists_nothing_as_fixed(report: RunReport, root_module: Path, baseline: Path) -> None:
    report.outcome = RunOutcome.PARTIAL
    read_gate(root_module, baseline).apply(report)
    assert report.no_longer_occur == [] and report.accepted


def test_a_written_baseline_holds_todays_findings_but_not_the_suppressed_ones(
    report: RunReport, root_module: Path, baseline: Path
) -> None:
    gate = read_gate(root_module, baseline)
    gate.apply(report)
    rewritten = gate.record(report, baseline, root_module)
    assert rewritten.entries == read_baseline(baseline).entries
    assert {e.describe() for e in rewritten.entries} == {
        "s3.versioning on aws_s3_bucket.logs",
        "s3.no-public-access on aws_s3_bucket.logs",
        "s3.no-public-access on aws_s3_bucket.assets",
        "network.flow-logs on vpc-…",
    }
    assert report.passed and report.no_longer_occur == []  # judged by the baseline just written
    assert dispositions(report)[("s3.access-logging", "aws_s3_bucket.site")] == "suppressed"


# -- every renderer ------------------------------------------------------------------------------------------------


def test_text_lists_new_findings_then_accepted_ones_with_their_reasons(gated: RunReport) -> None:
    text = render(gated, "text")
    findings, _, rows = text.partition("All checks:")
    assert "CRITICAL" in findings and "aws_s3_bucket.logs (res-1): public read" in findings
    assert "aws_s3_bucket.assets (res-1): public read\n" not in findings.split("ACCEPTED")[0]
    assert (
        "s3.access-logging: aws_s3_bucket.site (res-1): no access log "
        "[suppressed at main.tf:1: served through CloudFront logs]" in findings
    )
    assert "s3.versioning: aws_s3_bucket.logs (res-1): versioning off [baselined (in " in findings
    assert "2 baseline findings no longer occur: remove them from " in findings
    assert "  - queue.dead-letter on aws_sqs_queue.q" in findings
    assert "[ACPT] s3.versioning" in rows and "[FAIL] s3.no-public-access" in rows
    assert "Result: FAILED — 1 pass, 1 fail, 1 skipped, 3 accepted" in text


def test_markdown_has_an_accepted_section_and_accepted_rows(gated: RunReport) -> None:
    text = render(gated, "md")
    new, _, rest = text.partition("## Accepted findings")
    assert "`aws_s3_bucket.logs`: public read" in new and "aws_s3_bucket.assets" not in new
    assert (
        "| `s3.access-logging` | `aws_s3_bucket.site` | suppressed at main.tf:1: served through CloudFront logs | no"
        in rest
    )
    assert "**2 baseline findings no longer occur: remove them from " in rest
    assert "| `s3.versioning` | accepted | medium |" in rest


def test_json_gives_each_finding_its_disposition(gated: RunReport) -> None:
    body = json.loads(render(gated, "json"))
    findings = {(c["id"], f["address"] or f["resource"]): f for c in body["checks"] for f in c["findings"]}
    assert findings[("s3.no-public-access", "aws_s3_bucket.logs")]["disposition"] == "new"
    assert findings[("s3.no-public-access", "aws_s3_bucket.logs")]["acceptance"] is None
    assert findings[("s3.access-logging", "aws_s3_bucket.site")]["acceptance"] == {
        "reason": "served through CloudFront logs",
        "where": "main.tf:1",
    }
    assert findings[("network.flow-logs", "vpc-0fedcba987654321")]["disposition"] == "baselined"
    assert findings[("queue.dead-letter", "aws_sqs_queue.q")]["disposition"] is None  # passing
    assert body["baseline"]["no_longer_occur"] == gated.no_longer_occur
    assert body["counts"][ACCEPTED] == 3 and body["passed"] is False


def test_junit_fails_only_on_new_findings(gated: RunReport) -> None:
    suite = ET.fromstring(render(gated, "junit"))
    assert suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["s3.no-public-access"].find("failure")
    assert failure is not None and "[baselined (in " in (failure.text or "")
    accepted = cases["s3.access-logging"]
    assert accepted.find("failure") is None
    assert "served through CloudFront logs" in (accepted.findtext("system-out") or "")


def test_sarif_marks_accepted_results_as_suppressed_and_stays_valid(gated: RunReport) -> None:
    log = to_sarif_log(gated)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    assert [e.message for e in validator.iter_errors(log)] == []
    run = log["runs"][0]
    by_address = {(r["ruleId"], r["properties"]["address"] or r["properties"]["resource"]): r for r in run["results"]}
    assert len(by_address) == 5  # accepted findings are results too, never dropped
    assert "suppressions" not in by_address[("s3.no-public-access", "aws_s3_bucket.logs")]
    (inline,) = by_address[("s3.access-logging", "aws_s3_bucket.site")]["suppressions"]
    assert inline["kind"] == "inSource" and inline["justification"] == "served through CloudFront logs"
    location = inline["location"]["physicalLocation"]
    assert (location["artifactLocation"]["uri"], location["region"]["startLine"]) == ("main.tf", 1)
    (external,) = by_address[("s3.versioning", "aws_s3_bucket.logs")]["suppressions"]
    assert external["kind"] == "external" and "baseline" in external["justification"]
    assert run["properties"]["baseline"]["noLongerOccur"] == gated.no_longer_occur


# -- the CLI: bad input is exit 2 before anything is deployed --------------------------------------------------------


def test_cli_refuses_a_corrupt_baseline_before_deploying(
    root_module: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("[]")
    assert main(["audit", str(root_module), "--baseline", str(corrupt), "--quiet"]) == EXIT_NOT_RUN
    assert f"The baseline {corrupt} is not usable: it is not a stackprobe baseline" in capsys.readouterr().err


def test_cli_refuses_a_baseline_of_another_directory(
    root_module: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write_baseline(tmp_path / "other.json", other, [])
    assert main(["verify", str(root_module), "--baseline", str(tmp_path / "other.json"), "--quiet"]) == EXIT_NOT_RUN
    assert f"was written for {other}, not {root_module}" in capsys.readouterr().err


def test_cli_refuses_a_skip_without_a_reason_naming_file_and_line(
    root_module: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (root_module / "extra.tf").write_text('resource "aws_sqs_queue" "q" {\n  # stackprobe:skip=queue.encryption\n}\n')
    monkeypatch.chdir(root_module.parent)
    assert main(["audit", "stack", "--quiet"]) == EXIT_NOT_RUN
    assert "stack/extra.tf:2: the stackprobe:skip comment gives no reason" in capsys.readouterr().err


# -- assert_check and the plugin --------------------------------------------------------------------------------------


@pytest.fixture
def notices() -> Iterator[list[str]]:
    found: list[str] = []
    use_baseline(None, found.append)
    yield found
    use_baseline(None, lambda text: None)


def a_check_failing_on(*findings: tuple[str, str]) -> Check:
    def run(check: Check, context: CheckContext) -> Iterable[Finding]:
        return [failing(check.id, address, evidence) for address, evidence in findings]

    return a_check("s3.access-logging", Severity.LOW, run)


def test_assert_check_passes_a_check_failing_only_on_suppressed_findings(root_module: Path, notices: list[str]) -> None:
    context = CheckContext(backend=BACKEND, source_dir=root_module)
    result = assert_check(context, a_check_failing_on(("aws_s3_bucket.site", "no access log")))
    assert result.status == Status.FAIL  # the check's own verdict is kept
    assert notices == [
        "stackprobe: s3.access-logging failed only on accepted findings, so its test passed: aws_s3_bucket.site "
        "[suppressed at main.tf:1: served through CloudFront logs]"
    ]


def test_assert_check_fails_on_a_new_finding_naming_the_suppressed_one(root_module: Path, notices: list[str]) -> None:
    context = CheckContext(backend=BACKEND, source_dir=root_module)
    check = a_check_failing_on(("aws_s3_bucket.site", "no access log"), ("aws_s3_bucket.logs", "no access log"))
    with pytest.raises(AssertionError) as raised:
        assert_check(context, check)
    message = str(raised.value)
    assert "BAD aws_s3_bucket.logs (res-1): no access log" in message
    assert (
        "acc aws_s3_bucket.site (res-1): no access log [suppressed at main.tf:1: served through CloudFront" in message
    )


def test_assert_check_applies_the_sessions_baseline_to_its_configuration_only(
    root_module: Path, tmp_path: Path, notices: list[str]
) -> None:
    path = tmp_path / "baseline.json"
    entries = [BaselineEntry("s3.access-logging", "aws_s3_bucket.logs"), BaselineEntry("s3.access-logging", "x.y")]
    write_baseline(path, root_module, entries)
    use_baseline(path, notices.append)
    check = a_check_failing_on(("aws_s3_bucket.logs", "no access log"))
    assert_check(CheckContext(backend=BACKEND, source_dir=root_module), check)
    assert any("[baselined (in " in notice for notice in notices)
    assert f"1 baseline findings of s3.access-logging no longer occur: remove them from {path}: x.y" in notices[0]
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(AssertionError, match=r"BAD aws_s3_bucket\.logs"):
        assert_check(CheckContext(backend=BACKEND, source_dir=other), check)


OPTION = ("--stackprobe-baseline", "baseline.json")


def test_the_plugin_refuses_an_unusable_baseline_before_any_test(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    (tmp_path / "baseline.json").write_text('{"stackprobe_baseline": 1}')
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *("--stackprobe-tf-dir", "infra"), *OPTION],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environ,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert f'The baseline {tmp_path / "baseline.json"} is not usable: it names no "directory"' in done.stderr


def test_an_empty_gate_accepts_nothing() -> None:
    result = CheckResult(CHECKS["logging"], [failing("s3.access-logging", "aws_s3_bucket.site")])
    assert Gate().accepted([result]) == {} and Gate().no_longer_occur([result]) == []
