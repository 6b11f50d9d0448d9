"""Parity between moto and LocalStack, and the LocalStack plumbing it stands on, without terraform.

The comparison is tested on synthetic CheckResults: which pairs are agreements, which are findings
about an emulator, and which are not compared at all (a side skipped for want of a service). The
plumbing: capability skips in `assert_check`, backend-specific var files in the plugin, and the
decision to plan on LocalStack but apply on moto, each against stand-ins for LocalStack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.capabilities import from_bodies
from stackprobe.backends.localstack import LocalStackHandle, localstack_backend
from stackprobe.checks import CHECKS, by_id
from stackprobe.checks.base import Check, CheckContext, CheckResult, Finding
from stackprobe.cli import build_parser
from stackprobe.errors import BackendError, NotExercisable
from stackprobe.lifecycle import parity
from stackprobe.lifecycle.parity import Agreement, compare, compare_reports
from stackprobe.lifecycle.run import Run
from stackprobe.report.model import RunReport
from stackprobe.settings import RunSettings, StackSpec, from_namespace
from stackprobe.terraform.plan import Plan
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness

S3_ENCRYPTION = by_id("s3.encryption-kms")
KMS_ROTATION = by_id("kms.rotation")
CIRCUIT_BREAKER = by_id("deployment.circuit-breaker")  # needs ecs, which free LocalStack does not serve
ECS_REASON = (
    "localstack at http://127.0.0.1:4566 does not serve `ecs`: ecs is a paid-tier LocalStack service: set "
    "LOCALSTACK_AUTH_TOKEN and use the Pro image, or use the embedded moto backend"
)


def result(check: Check, *passed: bool, skipped: str = "", error: str = "") -> CheckResult:
    findings = [Finding(check.id, ok, f"arn:aws:thing/{i}", f"evidence {i} {'ok' if ok else 'bad'}") for i, ok in
                enumerate(passed)]  # fmt: skip
    return CheckResult(check, findings, skipped_reason=skipped, error=error)


# -- the comparison ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moto", "localstack", "agreement", "why"),
    [
        ((True,), (True,), Agreement.AGREE, "pass on both"),
        ((False,), (False, True), Agreement.AGREE, "fail on both"),
        ((), (), Agreement.AGREE, "not applicable on both"),
        ((True,), (False,), Agreement.DISAGREE, "pass on moto, fail on localstack"),
        ((False,), (True,), Agreement.DISAGREE, "fail on moto, pass on localstack"),
        ((True,), (), Agreement.DISAGREE, "pass on moto, not applicable on localstack"),
    ],
)
def test_statuses_agree_or_disagree(
    moto: tuple[bool, ...], localstack: tuple[bool, ...], agreement: Agreement, why: str
) -> None:
    assert compare(result(S3_ENCRYPTION, *moto), result(S3_ENCRYPTION, *localstack)) == (agreement, why)


def test_a_check_skipped_for_a_missing_service_is_not_compared() -> None:
    agreement, why = compare(result(CIRCUIT_BREAKER), result(CIRCUIT_BREAKER, skipped=ECS_REASON))
    assert agreement == Agreement.NOT_COMPARED
    assert why == f"skipped on localstack: {ECS_REASON}"
    # ... whatever the other side says, even a failure: it is the stack's, seen on moto only.
    assert compare(result(CIRCUIT_BREAKER, False), result(CIRCUIT_BREAKER, skipped=ECS_REASON))[0] == (
        Agreement.NOT_COMPARED
    )


def test_an_error_on_one_side_is_a_disagreement_and_on_both_a_check_problem() -> None:
    agreement, why = compare(result(KMS_ROTATION, True), result(KMS_ROTATION, error="ClientError: boom"))
    assert (agreement, why) == (Agreement.DISAGREE, "errors on localstack only (pass on moto)")
    agreement, why = compare(result(KMS_ROTATION, error="KeyError: x"), result(KMS_ROTATION, error="KeyError: x"))
    assert agreement == Agreement.BOTH_ERROR and "not an emulator one" in why


def test_a_side_whose_run_stopped_is_not_compared() -> None:
    agreement, why = compare(result(KMS_ROTATION, True), None)
    assert agreement == Agreement.NOT_COMPARED and why.startswith("not run on localstack")


def reports(moto: list[CheckResult], localstack: list[CheckResult], **extra: Any) -> parity.ParityReport:
    return compare_reports(
        RunReport("parity", "terraform[localstack-community]", "moto", results=moto),
        RunReport("parity", "terraform[localstack-community]", "localstack", results=localstack, **extra),
        [S3_ENCRYPTION, KMS_ROTATION, CIRCUIT_BREAKER],
    )


def sample() -> parity.ParityReport:
    return reports(
        [result(S3_ENCRYPTION, True, True), result(KMS_ROTATION, True), result(CIRCUIT_BREAKER)],
        [result(S3_ENCRYPTION, True, False), result(KMS_ROTATION, True), result(CIRCUIT_BREAKER, skipped=ECS_REASON)],
    )


def test_rows_follow_the_given_order_and_count_agreements() -> None:
    report = sample()
    assert [(r.check.id, r.agreement) for r in report.rows] == [
        ("s3.encryption-kms", Agreement.DISAGREE),
        ("kms.rotation", Agreement.AGREE),
        ("deployment.circuit-breaker", Agreement.NOT_COMPARED),
    ]
    assert report.counts() == {"agree": 1, "EMULATOR DISAGREEMENT": 1, "not compared": 1, "error on both": 0}
    assert not report.ok and [r.check.id for r in report.disagreements] == ["s3.encryption-kms"]


def test_agreement_and_missing_service_skips_make_a_clean_parity() -> None:
    report = reports(
        [result(KMS_ROTATION, True), result(CIRCUIT_BREAKER, True)],
        [result(KMS_ROTATION, True), result(CIRCUIT_BREAKER, skipped=ECS_REASON)],
    )
    assert report.ok and not report.disagreements


def test_a_run_error_on_one_side_spoils_parity_without_inventing_disagreements() -> None:
    report = reports([result(KMS_ROTATION, True)], [], errors=["LocalStack does not serve what x needs: ecs"])
    assert not report.ok and not report.disagreements
    assert report.run_errors == {"localstack": ["LocalStack does not serve what x needs: ecs"]}
    assert {r.agreement for r in report.rows} == {Agreement.NOT_COMPARED}


def test_text_table_shows_both_sides_and_the_disagreement_with_both_evidences() -> None:
    text = parity.to_text(sample())
    row = next(line for line in text.splitlines() if line.startswith("s3.encryption-kms"))
    assert row.split() == ["s3.encryption-kms", "pass", "fail", "DISAGREE"]
    assert "Findings about the emulators (not about the stack):" in text
    assert "  EMULATOR DISAGREEMENT: s3.encryption-kms (pass on moto, fail on localstack)" in text
    assert "    moto: arn:aws:thing/0: evidence 0 ok" in text
    assert "    localstack: arn:aws:thing/1: evidence 1 bad" in text  # the failing finding, first
    skipped = next(line for line in text.splitlines() if line.startswith("deployment.circuit-breaker"))
    assert skipped.split()[1:] == ["not", "applicable", "skipped", "n/c"]
    assert f"    skipped on localstack: {ECS_REASON}" in text
    assert text.rstrip().endswith("PARITY PROBLEMS — 1 agree, 1 EMULATOR DISAGREEMENT, 1 not compared")


def test_markdown_and_json_carry_the_same_rows() -> None:
    report = sample()
    markdown = parity.to_markdown(report)
    row = "| `s3.encryption-kms` | pass | fail | EMULATOR DISAGREEMENT | pass on moto, fail on localstack |"
    assert row in markdown
    assert "## Findings about the emulators (not about the stack)" in markdown
    body = json.loads(parity.to_json(report))
    assert body["ok"] is False and body["counts"]["EMULATOR DISAGREEMENT"] == 1
    by_id_ = {c["id"]: c for c in body["checks"]}
    assert by_id_["deployment.circuit-breaker"]["localstack"] == {
        "status": "skipped",
        "skipped_reason": ECS_REASON,
        "error": None,
        "evidence": [f"skipped: {ECS_REASON}"],
    }
    assert by_id_["s3.encryption-kms"]["services"] == ["s3", "kms"]


def test_parity_command_line() -> None:
    args = build_parser().parse_args(
        ["parity", "terraform", "--var-file", "a.tfvars", "--var-file", "b.tfvars", "--format", "md"]
    )
    assert (args.command, args.tf_dir, args.var_files, args.table_format) == (
        "parity",
        Path("terraform"),
        [Path("a.tfvars"), Path("b.tfvars")],
        "md",
    )
    verify = build_parser().parse_args(["verify", "t", "--backend", "localstack", "--endpoint", "http://127.0.0.1:1"])
    assert (verify.backend, verify.endpoint) == ("localstack", "http://127.0.0.1:1")
    assert from_namespace(build_parser().parse_args(["audit", "t"])).run.backend == "moto"


# -- capability skips in tests -------------------------------------------------------------------


def community_backend() -> AwsBackend:
    capabilities = from_bodies(
        "http://127.0.0.1:4566",
        {"services": {"s3": "running", "kms": "available", "sts": "available", "ec2": "available"}},
        {"edition": "community", "version": "2026.3.0", "is_license_activated": False},
    )
    return localstack_backend("http://127.0.0.1:4566", "eu-west-1", capabilities)


def test_assert_check_skips_with_the_service_and_what_would_enable_it() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        assert_check(CheckContext(backend=community_backend()), "deployment.circuit-breaker")
    message = str(skipped.value)
    assert message.startswith("deployment.circuit-breaker: localstack at http://127.0.0.1:4566 does not serve `ecs`")
    assert "LOCALSTACK_AUTH_TOKEN" in message and "embedded moto backend" in message


def test_assert_check_skips_what_the_emulator_cannot_exercise(monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot(check: Check, ctx: CheckContext) -> Any:
        raise NotExercisable("LocalStack runs no containers")

    # reads=(): the check's own function decides, with no account read before it (nothing listens here).
    check = Check(**{**KMS_ROTATION.__dict__, "id": "test.not-exercisable", "run": cannot, "reads": ()})
    with pytest.raises(pytest.skip.Exception, match="not exercisable on this emulator: LocalStack runs no"):
        assert_check(CheckContext(backend=community_backend()), check)


def test_assert_check_skips_what_a_reduced_stack_left_out_and_fails_it_otherwise() -> None:
    nothing = Check(
        **{**KMS_ROTATION.__dict__, "id": "test.nothing-found", "run": lambda check, ctx: iter(()), "reads": ()}
    )
    reduced = CheckContext(backend=community_backend(), reduced_stack="the stack deployed for localstack")
    with pytest.raises(pytest.skip.Exception, match="not applicable: nothing it inspects is in the stack deployed"):
        assert_check(reduced, nothing)
    with pytest.raises(AssertionError, match=re.escape("test.nothing-found [not applicable")):
        assert_check(CheckContext(backend=community_backend()), nothing)


def test_assert_check_still_fails_a_skip_that_is_the_tests_own_fault() -> None:
    plan_level = next(c for c in CHECKS if c.plan_level and not c.services)
    with pytest.raises(AssertionError, match="plan-level check, and no plan was given"):
        assert_check(CheckContext(backend=community_backend()), plan_level)


# -- plan on LocalStack, apply on moto --------------------------------------------------------------


def plan_of(*types: str) -> Plan:
    resources = [{"address": f"{t}.x", "type": t, "name": "x", "mode": "managed", "values": {}} for t in types]
    return Plan({"planned_values": {"root_module": {"resources": resources}}})


@pytest.fixture
def community_run(tmp_path: Path) -> Iterator[Callable[..., tuple[Run, StackSpec]]]:
    """A run whose backend is a (stand-in) free LocalStack and whose plan of `spec` is already made."""
    made: list[Run] = []

    def make(*types: str, defer: bool = True) -> tuple[Run, StackSpec]:
        backend = community_backend()
        runner = SimpleNamespace(endpoint=backend.endpoint)
        capabilities = from_bodies(
            backend.endpoint,
            {"services": {"s3": "running", "kms": "available", "sts": "available", "ec2": "available"}},
            {"edition": "community", "version": "2026.3.0"},
        )
        run = Run(RunSettings(backend="localstack"), tmp_path / f"run{len(made)}", defer_unserved=defer)
        made.append(run)
        handle = LocalStackHandle("host", runner, capabilities, "eu-west-1", [])  # type: ignore[arg-type]
        run.emulation.emulator, run.emulation._backend = handle, handle.backend
        spec = StackSpec(tf_dir=tmp_path)
        run.deployment(spec).own_plan = plan_of(*types)
        return run, spec

    yield make
    for run in made:
        run.emulation.emulator = None  # the stand-in LocalStack has nothing to stop
        run.close()


def test_a_plan_needing_unserved_services_is_applied_on_moto_and_says_why(
    community_run: Callable[..., tuple[Run, StackSpec]],
) -> None:
    run, spec = community_run("aws_s3_bucket", "aws_ecs_service", "aws_ecs_cluster", "aws_db_instance")
    placement = run.place(spec)
    deferred = placement.deferral
    assert deferred is not None and dict(deferred.missing) == {
        "ecs": ["aws_ecs_cluster", "aws_ecs_service"],
        "rds": ["aws_db_instance"],
    }
    assert deferred.describe() == (
        "Plan only on LocalStack community 2026.3.0 (host mode), which does not serve ecs (aws_ecs_cluster, "
        "aws_ecs_service); rds (aws_db_instance). The plan was made there; apply, checks, second plan and "
        "destroy ran on an embedded moto instead."
    )
    # The deployment that applies is the embedded moto's, and the caller holds it from here on.
    assert placement.deployment is not run.deployment(spec) and placement.deployment.backend.name == "moto"
    assert run.deferrals() == [deferred]


def test_a_plan_local_stack_serves_stays_on_local_stack(community_run: Callable[..., tuple[Run, StackSpec]]) -> None:
    run, spec = community_run("aws_s3_bucket", "aws_kms_key", "aws_vpc")
    placement = run.place(spec)
    assert placement.deferral is None and placement.deployment is run.deployment(spec)
    assert run.unserved(placement.plan) == {}


def test_without_deferral_the_apply_is_refused_naming_the_services(
    community_run: Callable[..., tuple[Run, StackSpec]],
) -> None:
    run, spec = community_run("aws_s3_bucket", "aws_lb", defer=False)
    with pytest.raises(BackendError, match=r"does not serve what .* needs: elbv2 \(aws_lb\)"):
        run.place(spec)
    assert run.deferrals() == []
