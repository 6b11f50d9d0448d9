"""Secrets Manager: CreateSecret retried with its ClientRequestToken answers as the first call did.

What the AWS provider does for `aws_secretsmanager_secret`: CreateSecret without a value (the value comes
later, from `aws_secretsmanager_secret_version`'s PutSecretValue), with a ClientRequestToken its SDK fills
and keeps when it retries a request that timed out. Without the patch moto refuses that retry
(ResourceExistsException), so every test here fails at its first retry; the refusals the patch keeps
(another token, another value) are each checked beside a retry that succeeds, so that a patch accepting
every CreateSecret on an existing name fails them too. Names are unique per test: moto's state is per
process, shared by the xdist worker's tests.

Reproduce: .venv/bin/pytest tests/harness/test_compat_secretsmanager_create.py -q -n 0 -p no:cacheprovider
"""

from __future__ import annotations

from typing import Any

import pytest

from stackprobe.backends.base import AwsBackend

pytestmark = pytest.mark.harness
# The compatibility patches this module tests (tests/harness/test_generated_docs.py checks the list).
COVERS = ("secretsmanager-create-idempotent",)

# ClientRequestToken is 32 to 64 characters; the SDKs send a UUID.
TOKEN = "5f0c1c1e-6d7a-4d8e-9c3b-2a1f0e9d8c7b"
OTHER_TOKEN = "0b9e8d7c-6f5a-4b3c-8d2e-1f0a9b8c7d6e"


@pytest.fixture(scope="module")
def secretsmanager(backend: AwsBackend) -> Any:
    return backend.client("secretsmanager")


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _code(error: pytest.ExceptionInfo[Any]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_retry_of_a_secret_without_a_value_answers_as_the_first_call(secretsmanager: Any) -> None:
    """The provider's create of aws_secretsmanager_secret, retried: then its secret version applies."""
    request = {"Name": "sm-retry-novalue", "Description": "db credentials", "ClientRequestToken": TOKEN}
    first = _answer(secretsmanager.create_secret(**request))

    retried = _answer(secretsmanager.create_secret(**request))

    assert retried == first
    assert set(retried) == {"ARN", "Name"}  # no value, no version: no VersionId, as in the first answer
    described = secretsmanager.describe_secret(SecretId="sm-retry-novalue")
    assert described["ARN"] == first["ARN"]
    assert not described.get("VersionIdsToStages")  # the retry created no version
    # aws_secretsmanager_secret_version comes next, and finds the one secret.
    secretsmanager.put_secret_value(SecretId=first["ARN"], SecretString="s3cr3t")
    assert secretsmanager.get_secret_value(SecretId="sm-retry-novalue")["SecretString"] == "s3cr3t"


@pytest.mark.parametrize(
    "value", [{"SecretString": "s3cr3t"}, {"SecretBinary": b"\x00\x01s3cr3t"}], ids=["string", "binary"]
)
def test_a_retry_with_a_value_answers_the_version_it_created(secretsmanager: Any, value: dict[str, Any]) -> None:
    name = f"sm-retry-{next(iter(value)).lower()}"
    first = _answer(secretsmanager.create_secret(Name=name, ClientRequestToken=TOKEN, **value))
    assert first["VersionId"] == TOKEN
    # moto already ignored an immediate retry; it answered the secret's current version, not the request's.
    secretsmanager.put_secret_value(SecretId=name, SecretString="rotated", ClientRequestToken=OTHER_TOKEN)

    retried = _answer(secretsmanager.create_secret(Name=name, ClientRequestToken=TOKEN, **value))

    assert retried == first
    # The request was ignored: the value stays the one PutSecretValue made current.
    assert secretsmanager.get_secret_value(SecretId=name)["SecretString"] == "rotated"


def test_another_token_on_an_existing_name_is_still_refused(secretsmanager: Any) -> None:
    first = _answer(secretsmanager.create_secret(Name="sm-other-token", ClientRequestToken=TOKEN))
    assert _answer(secretsmanager.create_secret(Name="sm-other-token", ClientRequestToken=TOKEN)) == first

    with pytest.raises(secretsmanager.exceptions.ResourceExistsException):
        secretsmanager.create_secret(Name="sm-other-token", ClientRequestToken=OTHER_TOKEN)
    # boto3 fills a fresh token when none is given: a second create by name alone is refused, as in AWS.
    with pytest.raises(secretsmanager.exceptions.ResourceExistsException):
        secretsmanager.create_secret(Name="sm-other-token")


def test_another_value_with_the_same_token_is_refused(secretsmanager: Any) -> None:
    first = _answer(secretsmanager.create_secret(Name="sm-other-value", ClientRequestToken=TOKEN))
    assert _answer(secretsmanager.create_secret(Name="sm-other-value", ClientRequestToken=TOKEN)) == first
    valued = _answer(secretsmanager.create_secret(Name="sm-value-changed", ClientRequestToken=TOKEN, SecretString="a"))
    secretsmanager.put_secret_value(SecretId="sm-value-changed", SecretString="b", ClientRequestToken=OTHER_TOKEN)
    assert (
        _answer(secretsmanager.create_secret(Name="sm-value-changed", ClientRequestToken=TOKEN, SecretString="a"))
        == valued
    )

    # The secret was created without a value: the same token with one is another request.
    with pytest.raises(secretsmanager.exceptions.ResourceExistsException) as no_value:
        secretsmanager.create_secret(Name="sm-other-value", ClientRequestToken=TOKEN, SecretString="late")
    # A version with the token exists with another value: AWS refuses to modify it.
    with pytest.raises(secretsmanager.exceptions.ResourceExistsException) as changed:
        secretsmanager.create_secret(Name="sm-value-changed", ClientRequestToken=TOKEN, SecretString="changed")
    # ... and a retry without the value is another request too.
    with pytest.raises(secretsmanager.exceptions.ResourceExistsException):
        secretsmanager.create_secret(Name="sm-value-changed", ClientRequestToken=TOKEN)

    assert _code(no_value) == _code(changed) == "ResourceExistsException"
    assert not secretsmanager.describe_secret(SecretId="sm-other-value").get("VersionIdsToStages")
    assert secretsmanager.get_secret_value(SecretId="sm-value-changed", VersionId=TOKEN)["SecretString"] == "a"
