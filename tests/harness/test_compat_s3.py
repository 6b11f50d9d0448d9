"""S3: PutBucketLogging accepts target buckets whose policy has a `"Principal": "*"` statement."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.compat.s3_logging_policy import policy_allows_log_delivery

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("s3-logging-policy-principal",)

DENY_INSECURE: dict[str, Any] = {
    "Sid": "DenyInsecure",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::compat-logs", "arn:aws:s3:::compat-logs/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALLOW_LOGGING: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"Service": "logging.s3.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::compat-logs/*",
}


def _logging_to(backend: AwsBackend, source: str, target: str, statements: list[dict[str, Any]]) -> Any:
    s3 = backend.client("s3")
    s3.create_bucket(Bucket=target, CreateBucketConfiguration={"LocationConstraint": backend.region})
    s3.create_bucket(Bucket=source, CreateBucketConfiguration={"LocationConstraint": backend.region})
    s3.put_bucket_policy(Bucket=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    s3.put_bucket_logging(
        Bucket=source,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "app/"}},
    )
    return s3.get_bucket_logging(Bucket=source)


def test_logging_with_a_star_principal_statement_in_the_target_policy(backend: AwsBackend) -> None:
    answer = _logging_to(backend, "compat-app", "compat-logs", [DENY_INSECURE, ALLOW_LOGGING])

    assert answer["LoggingEnabled"] == {"TargetBucket": "compat-logs", "TargetPrefix": "app/"}


def test_logging_still_needs_a_grant_to_the_logging_service(backend: AwsBackend) -> None:
    s3 = backend.client("s3")

    with pytest.raises(s3.exceptions.ClientError, match="InvalidTargetBucketForLogging"):
        _logging_to(backend, "compat-app-2", "compat-logs-2", [DENY_INSECURE])


@pytest.mark.parametrize(
    "statement",
    [
        {**ALLOW_LOGGING, "Principal": {"Service": ["logging.s3.amazonaws.com", "other.amazonaws.com"]}},
        {**ALLOW_LOGGING, "Action": ["s3:GetObject", "s3:PutObject"]},
        {**ALLOW_LOGGING, "Action": "s3:*"},
        {**ALLOW_LOGGING, "Resource": ["arn:aws:s3:::compat-logs/app/*"]},
        {**ALLOW_LOGGING, "Principal": "*"},
    ],
)
def test_grant_forms_the_policy_grammar_allows(statement: dict[str, Any]) -> None:
    assert policy_allows_log_delivery({"Statement": statement}, "arn:aws:s3:::compat-logs", "app/")


@pytest.mark.parametrize(
    "statement",
    [
        {**ALLOW_LOGGING, "Effect": "Deny"},
        {**ALLOW_LOGGING, "Principal": {"Service": "other.amazonaws.com"}},
        {**ALLOW_LOGGING, "Action": "s3:GetObject"},
        {**ALLOW_LOGGING, "Resource": "arn:aws:s3:::compat-logs/other/*"},
    ],
)
def test_statements_that_do_not_grant_log_delivery(statement: dict[str, Any]) -> None:
    assert not policy_allows_log_delivery({"Statement": [statement]}, "arn:aws:s3:::compat-logs", "app/")
