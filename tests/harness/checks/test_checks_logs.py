"""CloudWatch Logs checks against log groups built in the emulator."""

from __future__ import annotations

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, Severity, Status
from stackprobe.checks.logs import kms_encryption, retention
from stackprobe.testing import assert_check

pytestmark = pytest.mark.harness


def test_retention_and_encryption(clean_backend: AwsBackend) -> None:
    logs = clean_backend.client("logs")
    key = clean_backend.client("kms").create_key(Description="logs")["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="/ecs/sp-api", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/ecs/sp-api", retentionInDays=30)
    logs.create_log_group(logGroupName="/aws/lambda/sp-preprocess")

    kept = assert_check(CheckContext(backend=clean_backend), retention, Status.FAIL)
    encrypted = assert_check(CheckContext(backend=clean_backend), kms_encryption, Status.FAIL)

    assert {f.resource: (f.passed, f.evidence) for f in kept.findings} == {
        "/ecs/sp-api": (True, "retentionInDays=30"),
        "/aws/lambda/sp-preprocess": (False, "never expires (no retentionInDays)"),
    }
    assert kept.worst_severity() == Severity.MEDIUM
    assert {f.resource: (f.passed, f.evidence) for f in encrypted.findings} == {
        "/ecs/sp-api": (True, f"kmsKeyId={key}"),
        "/aws/lambda/sp-preprocess": (False, "no kmsKeyId (service-managed encryption only)"),
    }
    assert encrypted.worst_severity() == Severity.LOW


def test_all_good_passes_and_nothing_is_not_applicable(clean_backend: AwsBackend) -> None:
    assert run_check(retention, CheckContext(backend=clean_backend)).status == Status.NOT_APPLICABLE
    assert run_check(kms_encryption, CheckContext(backend=clean_backend)).status == Status.NOT_APPLICABLE
    logs = clean_backend.client("logs")
    logs.create_log_group(logGroupName="/ecs/sp-worker")
    logs.put_retention_policy(logGroupName="/ecs/sp-worker", retentionInDays=14)

    assert run_check(retention, CheckContext(backend=clean_backend)).status == Status.PASS
