"""The guard must refuse anything that could reach real AWS, and say exactly why."""

from __future__ import annotations

import os

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.guard import (
    check_caller_identity,
    check_pinned,
    is_loopback_url,
    pin_process_environ,
    pinned_environ,
    violations,
)
from stackprobe.errors import RealAwsRefused

pytestmark = pytest.mark.harness
# AWS's documented example key ids, assembled here so that secret scanners do not flag the repository.
EXAMPLE_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
EXAMPLE_SESSION_KEY = "ASIA" + "IOSFODNN7EXAMPLE"

LOOPBACK = "http://127.0.0.1:4566"


def _backend(endpoint: str = LOOPBACK, access_key: str = "test", account_id: str = "123456789012") -> AwsBackend:
    return AwsBackend(name="moto", endpoint=endpoint, region="eu-west-1", account_id=account_id, access_key=access_key)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://127.10.0.3:5000", True),
        ("http://[::1]:5000", True),
        ("http://localhost:5000", True),
        ("https://sts.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
        ("http://0.0.0.0:4566", False),
        ("not a url", False),
    ],
)
def test_loopback_detection(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected


def test_real_looking_settings_are_refused_with_every_reason() -> None:
    """A developer shell with a profile, a real key and a remote endpoint: each problem is named."""
    environ = {
        "AWS_PROFILE": "production-admin",
        "AWS_ACCESS_KEY_ID": EXAMPLE_KEY,
        "AWS_ENDPOINT_URL_S3": "https://s3.eu-west-1.amazonaws.com",
        "AWS_CONFIG_FILE": "/home/dev/.aws/config",
    }
    backend = _backend(endpoint="https://sts.amazonaws.com", access_key=EXAMPLE_KEY)
    with pytest.raises(RealAwsRefused) as refused:
        check_pinned(backend, environ)
    message = str(refused.value)
    assert "'https://sts.amazonaws.com' is not a loopback address" in message
    assert "shape of a real AWS key" in message
    assert "AWS_PROFILE is set" in message
    assert "AWS_ENDPOINT_URL_S3" in message
    assert "AWS_CONFIG_FILE points at" in message
    assert "Remedy:" in message


def test_non_loopback_endpoint_alone_is_refused() -> None:
    with pytest.raises(RealAwsRefused, match="not a loopback address"):
        check_pinned(_backend(endpoint="http://192.168.1.20:4566"), {})


def test_pinned_environment_passes_and_scrubs_everything_real() -> None:
    dirty = {
        "PATH": "/usr/bin",
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "FwoGZXIvYXdzE...",
        "AWS_ACCESS_KEY_ID": EXAMPLE_SESSION_KEY,
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_ENDPOINT_URL_STS": "https://sts.amazonaws.com",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
    }
    env = pinned_environ(dirty, endpoint=LOOPBACK, region="eu-west-1", access_key="test", secret_key="test")
    assert env["PATH"] == "/usr/bin"
    assert env["AWS_ACCESS_KEY_ID"] == "test"
    assert env["AWS_ENDPOINT_URL"] == LOOPBACK
    assert env["AWS_CONFIG_FILE"] == os.devnull
    for removed in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_STS",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        assert removed not in env
    assert violations(LOOPBACK, "test", env) == []


def test_pin_process_environ_rewrites_a_mapping_in_place() -> None:
    environ = {"AWS_PROFILE": "prod", "HOME": "/root"}
    pin_process_environ(_backend(), environ)
    assert "AWS_PROFILE" not in environ
    assert environ["AWS_ACCESS_KEY_ID"] == "test"
    assert environ["HOME"] == "/root"


def test_caller_identity_must_be_the_emulator_account(aws_backend: AwsBackend) -> None:
    """The endpoint answers, but as another account: not the emulator we think it is."""
    assert check_caller_identity(aws_backend) == aws_backend.account_id
    impostor = AwsBackend(
        name="moto", endpoint=aws_backend.endpoint, region=aws_backend.region, account_id="999999999999"
    )
    with pytest.raises(RealAwsRefused, match="answered as account 123456789012"):
        check_caller_identity(impostor)


def test_caller_identity_failure_is_a_refusal() -> None:
    with pytest.raises(RealAwsRefused, match="GetCallerIdentity"):
        check_caller_identity(_backend(endpoint="http://127.0.0.1:9"))
