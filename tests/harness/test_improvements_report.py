"""The improvements report masks what the emulator makes up, so a fresh audit can be compared with
the committed document; and it keeps what the configuration decided (CIDRs, names)."""

from __future__ import annotations

import pytest

from stackprobe.report.improvements import stable

pytestmark = pytest.mark.harness
# AWS's documented example key ids, assembled here so that secret scanners do not flag the repository.
EXAMPLE_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
EXAMPLE_SESSION_KEY = "ASIA" + "IOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    ("minted", "masked"),
    [
        ("sg-0a1b2c3d4e5f60718 allows", "sg-… allows"),
        (
            f"user ci has active access key {EXAMPLE_KEY}, created 2026-11-23",
            "user ci has active access key AKIA…, created …",
        ),
        ("public IP 54.214.21.226, acl-0123456789abcdef0 allows", "public IP <ip>, acl-… allows"),
        ("reached at 10.0.1.5.", "reached at <ip>."),
        ("s3://stackprobe-canary-34f7d90fab/canary.txt", "s3://stackprobe-canary-…/canary.txt"),
        ("queue http://127.0.0.1:40765/123456789012/jobs", "queue <emulator>/123456789012/jobs"),
        (
            "`arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-password-bJXOEb`: no KmsKeyId",
            "`arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-password-…`: no KmsKeyId",
        ),
    ],
)
def test_what_the_emulator_mints_is_masked(minted: str, masked: str) -> None:
    assert stable(minted) == masked


@pytest.mark.parametrize(
    "decided",
    [
        "0.0.0.0/0 → igw-…",
        "ingress 10.0.0.0/16 on 5432",
        "engine postgres 16.4, provider 5.100.0",  # versions are not addresses
        "retention 365 days",
    ],
)
def test_what_the_configuration_decided_is_kept(decided: str) -> None:
    assert stable(decided) == decided
