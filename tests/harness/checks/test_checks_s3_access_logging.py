"""s3.access-logging: data buckets log their requests; log buckets (targets, ALB and service log
destinations) are exempt, and say why."""

from __future__ import annotations

import json

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext, CheckResult, Status
from stackprobe.checks.s3 import access_logging
from stackprobe.lifecycle.run import Run

pytestmark = pytest.mark.harness


def bucket(backend: AwsBackend, name: str) -> str:
    backend.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": backend.region})
    return name


def allow_put(backend: AwsBackend, name: str, principal: dict[str, str]) -> None:
    statement = {
        "Sid": "LogDelivery",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }
    backend.client("s3").put_bucket_policy(
        Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )


@pytest.fixture(scope="module")
def result(stacks: Run) -> CheckResult:
    backend = stacks.reset_emulator()
    s3 = backend.client("s3")
    bucket(backend, "sp-access-logs")
    allow_put(backend, "sp-access-logs", {"Service": "logging.s3.amazonaws.com"})
    s3.put_bucket_logging(
        Bucket=bucket(backend, "sp-uploads"),
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "sp-access-logs", "TargetPrefix": "s3/uploads/"}},
    )
    bucket(backend, "sp-models")  # a data bucket that logs nothing
    bucket(backend, "sp-alb-logs")
    allow_put(backend, "sp-alb-logs", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"})
    bucket(backend, "sp-flow-logs")
    allow_put(backend, "sp-flow-logs", {"Service": "delivery.logs.amazonaws.com"})
    return run_check(access_logging, CheckContext(backend=backend))


def test_a_data_bucket_that_logs_passes_and_one_that_does_not_fails(result: CheckResult) -> None:
    evidence = {f.resource: (f.passed, f.evidence) for f in result.findings}
    assert evidence["sp-uploads"] == (True, "logs requests to s3://sp-access-logs/s3/uploads/")
    assert evidence["sp-models"] == (False, "server access logging off")
    assert result.status is Status.FAIL


def test_log_buckets_are_exempt_and_say_why(result: CheckResult) -> None:
    evidence = {f.resource: (f.passed, f.evidence) for f in result.findings}
    assert evidence["sp-access-logs"] == (
        True,
        "a log bucket (it receives the server access logs of sp-uploads): exempt",
    )
    assert evidence["sp-alb-logs"] == (
        True,
        "a log bucket (policy statement 'LogDelivery' lets logdelivery.elasticloadbalancing.amazonaws.com put "
        "objects): exempt",
    )
    assert evidence["sp-flow-logs"] == (
        True,
        "a log bucket (policy statement 'LogDelivery' lets delivery.logs.amazonaws.com put objects): exempt",
    )


def test_no_bucket_is_not_applicable(clean_backend: AwsBackend) -> None:
    assert run_check(access_logging, CheckContext(backend=clean_backend)).status is Status.NOT_APPLICABLE
