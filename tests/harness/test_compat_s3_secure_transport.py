"""S3: a TLS-only bucket policy no longer denies every request on the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.compat.s3_secure_transport_condition import rewrite_statement

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("s3-secure-transport-condition",)

BUCKET = "compat-tls-only"


def _deny(expected: Any, operator: str = "Bool") -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {operator: {"aws:SecureTransport": expected}},
    }


def _bucket_with(backend: AwsBackend, *statements: dict[str, Any]) -> Any:
    s3 = backend.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": backend.region})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return s3


def test_tls_only_policy_lets_requests_through(clean_backend: AwsBackend) -> None:
    s3 = _bucket_with(clean_backend, _deny("false"))
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v")
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"v"


def test_a_deny_that_holds_for_tls_requests_still_denies(clean_backend: AwsBackend) -> None:
    """The patch must not open buckets: a Deny meant for TLS requests keeps denying."""
    s3 = _bucket_with(clean_backend, _deny(["true"], operator="BoolIfExists"))
    with pytest.raises(ClientError, match=r"403|AccessDenied|Forbidden"):
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"v")


def test_rewrite_keeps_other_conditions() -> None:
    statement = _deny("true")
    statement["Condition"]["StringEquals"] = {"aws:SourceVpce": "vpce-1"}
    rewritten = rewrite_statement(statement)
    assert rewritten is not None
    assert rewritten["Condition"] == {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    assert rewrite_statement(_deny("false")) is None
