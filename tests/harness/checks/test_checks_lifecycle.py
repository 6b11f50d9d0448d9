"""lifecycle.idempotent and lifecycle.clean-teardown judge the lifecycle's own records, never AWS."""

from __future__ import annotations

import pytest

from stackprobe.aws.inventory import TeardownReport
from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, Status
from stackprobe.checks.lifecycle import clean_teardown, idempotent
from stackprobe.terraform.drift import DriftEntry, DriftReport
from stackprobe.terraform.plan import AttributeChange

pytestmark = pytest.mark.harness

BACKEND = AwsBackend("moto", "http://127.0.0.1:1", "eu-west-1", "123456789012")  # never asked
CHANGE = (AttributeChange("tags.Owner", "a", "b"),)


def judge(**records: object) -> tuple[Status, list[tuple[bool, str]]]:
    result = run_check(idempotent if "drift" in records else clean_teardown, CheckContext(backend=BACKEND, **records))  # type: ignore[arg-type]
    return result.status, [(f.passed, f.evidence) for f in result.findings]


def test_real_drift_fails_and_names_the_change() -> None:
    status, findings = judge(drift=DriftReport(real=[DriftEntry("aws_s3_bucket.data", ("update",), CHANGE)]))
    assert status is Status.FAIL
    assert findings == [(False, "aws_s3_bucket.data (update)\n    tags.Owner: 'a' → 'b'")]


def test_emulator_drift_alone_passes_with_its_reason() -> None:
    drift = DriftReport(emulator=[DriftEntry("aws_kms_key.k", ("update",), CHANGE, "moto drops the period")])
    assert judge(drift=drift) == (Status.PASS, [(True, "known emulator drift: moto drops the period")])


def test_an_empty_second_plan_passes() -> None:
    assert judge(drift=DriftReport()) == (Status.PASS, [(True, "the second plan is empty")])


def test_a_teardown_that_left_resources_fails_for_each() -> None:
    report = TeardownReport(destroyed=True, leftovers={"s3 bucket": {"logs", "data"}})
    status, findings = judge(teardown=report)
    assert status is Status.FAIL
    assert findings == [(False, "s3 bucket still exists after destroy")] * 2


def test_a_destroy_that_failed_fails_with_its_error() -> None:
    assert judge(teardown=TeardownReport(destroyed=False, error="DependencyViolation")) == (
        Status.FAIL,
        [(False, "DependencyViolation")],
    )


def test_a_clean_teardown_passes_and_no_record_is_not_applicable() -> None:
    assert judge(teardown=TeardownReport(destroyed=True))[0] is Status.PASS
    assert run_check(clean_teardown, CheckContext(backend=BACKEND)).status is Status.NOT_APPLICABLE
    assert run_check(idempotent, CheckContext(backend=BACKEND)).status is Status.NOT_APPLICABLE
