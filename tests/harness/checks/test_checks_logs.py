"""CloudWatch Logs checks against log groups built in the emulator."""

from __future__ import annotations

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, Severity, Status
from stackprobe.checks.logs import kms_encryption, retention

pytestmark = pytest.mark.harness


def test_retention_and_encryption(clean_backend: AwsBackend) -> None:
    logs = clean_backend.client("logs")
    key = clean_backend.client("kms").create_key(Description="logs")["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="/ecs/sp-api", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/ecs/sp-api", retentionInDays=30)
    logs.create_log_group(logGroupName="/aws/lambda/sp-preprocess")

    kept = run_check(retention, CheckContext(backend=clean_backend))
    encrypted = run_check(kms_encryption, CheckContext(backend=clean_backend))

    assert {f.resource: (f.passed, f.evidence) for f in kept.findings} == {
        "/ecs/sp-api": (True, "retentionInDays=30"),
        "/aws/lambda/sp-preprocess": (False, "never expires (no retentionInDays)"),
    }
    assert (kept.status, kept.worst_severity()) == (Status.FAIL, Severity.MEDIUM)
    assert {f.resource: (f.passed, f.evidence) for f in encrypted.findings} == {
        "/ecs/sp-api": (True, f"kmsKeyId={key}"),
        "/aws/lambda/sp-preprocess": (False, "no kmsKeyId (service-managed encryption only)"),
    }
    assert (encrypted.status, encrypted.worst_severity()) == (Status.FAIL, Severity.LOW)


def test_all_good_passes_and_nothing_is_not_applicable(clean_backend: AwsBackend) -> None:
    assert run_check(retention, CheckContext(backend=clean_backend)).status == Status.NOT_APPLICABLE
    assert run_check(kms_encryption, CheckContext(backend=clean_backend)).status == Status.NOT_APPLICABLE
    logs = clean_backend.client("logs")
    logs.create_log_group(logGroupName="/ecs/sp-worker")
    logs.put_retention_policy(logGroupName="/ecs/sp-worker", retentionInDays=14)

    assert run_check(retention, CheckContext(backend=clean_backend)).status == Status.PASS
