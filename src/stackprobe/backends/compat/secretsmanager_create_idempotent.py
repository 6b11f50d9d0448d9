"""Secrets Manager: a CreateSecret retried with its ClientRequestToken answers as the first call did.

The SDKs fill `ClientRequestToken` themselves (it is the operation's idempotency token in the service
model) and keep it when they retry a request that timed out or failed on the wire. AWS's API reference for
CreateSecret, ClientRequestToken: "This value helps ensure idempotency", and "If a version with this value
already exists and the version SecretString and SecretBinary values are the same as those in the request,
then the request is ignored"; with different values "the request fails because you cannot modify an
existing version". A secret created without a value has no version, so that rule does not name its retry;
here it is answered by what the token is for (AWS Well-Architected, REL04-BP04: "An idempotent service API
uses the token to return a response identical to the response that was returned the first time that the
request was completed"): the same token and no value, on the secret that token created, is the same request.

moto 5.2 answers ResourceExistsException to a CreateSecret without a value on a name that exists, whatever
its token, so the provider's retry of `aws_secretsmanager_secret` (created without a value; the value comes
from `aws_secretsmanager_secret_version`) failed and the apply stopped part way, at the secret. With a
value moto already ignores the retry, but answers with the secret's current version, not the one the
request created. The patch answers a retry of the request that created the secret (same token, same
SecretString and SecretBinary, or neither) with that request's answer (ARN, Name, VersionId); any other
CreateSecret on an existing name, another token or another value, still fails as moto makes it fail.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackprobe.backends.compat._canary import error_of
from stackprobe.backends.compat._monkey import ShapeMismatch, replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom

if TYPE_CHECKING:
    from moto.secretsmanager.models import SecretsManagerBackend

# What the patch reads from the keyword arguments moto's response handler passes to create_secret.
_PARAMETERS = ("name", "secret_string", "secret_binary", "client_request_token")
# Where a secret keeps the request that created it (in the secret's own __dict__: a force-deleted secret
# takes it along, and moto's reset drops it with the backend).
_CREATION = "stackprobe_creation"


@dataclass(frozen=True)
class Creation:
    """The CreateSecret request that created a secret, as far as its retry must match, and its answer."""

    token: str
    secret_string: str | None
    secret_binary: str | None
    # The JSON moto answered the request with.
    answer: str


def creation_of(secret: object) -> Creation | None:
    recorded = vars(secret).get(_CREATION)
    return recorded if isinstance(recorded, Creation) else None


def _retry_of_creation(backend: SecretsManagerBackend, kwargs: dict[str, Any]) -> str | None:
    """The first answer, when this request repeats the one that created the secret it names; else None."""
    from moto.secretsmanager.models import FakeSecret

    token = kwargs.get("client_request_token")
    name = kwargs["name"]
    if not token or name not in backend.secrets:
        return None
    secret = backend.secrets[name]
    # A replica, or a secret scheduled for deletion, is left to moto (which refuses the create).
    if not isinstance(secret, FakeSecret) or secret.is_deleted():
        return None
    created = creation_of(secret)
    if created is None or created.token != token:
        return None
    if (created.secret_string, created.secret_binary) != (kwargs.get("secret_string"), kwargs.get("secret_binary")):
        return None
    return created.answer


def _apply() -> None:
    from moto.secretsmanager.models import SecretsManagerBackend

    original = vars(SecretsManagerBackend).get("create_secret")
    if original is None:
        raise ShapeMismatch("moto.secretsmanager.models.SecretsManagerBackend.create_secret no longer exists")
    missing = [name for name in _PARAMETERS if name not in inspect.signature(original).parameters]
    if missing:
        raise ShapeMismatch(f"SecretsManagerBackend.create_secret no longer takes {', '.join(missing)}")

    def create_secret(self: SecretsManagerBackend, **kwargs: Any) -> str:
        replayed = _retry_of_creation(self, kwargs)
        if replayed is not None:
            return replayed
        name = kwargs["name"]
        existed = name in self.secrets
        answer: str = original(self, **kwargs)
        token = kwargs.get("client_request_token")
        if not existed and token and name in self.secrets:
            vars(self.secrets[name])[_CREATION] = Creation(
                token=token,
                secret_string=kwargs.get("secret_string"),
                secret_binary=kwargs.get("secret_binary"),
                answer=answer,
            )
        return answer

    replace(SecretsManagerBackend, "create_secret", create_secret)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """CreateSecret sent twice with one token, as an SDK retries it: without a value, and with one (the
    second after PutSecretValue made another version current)."""
    secretsmanager = moto.client("secretsmanager")
    token = "canary-create-secret-token-00000001"
    first = secretsmanager.create_secret(Name="canary-no-value", ClientRequestToken=token)
    retried = error_of(lambda: secretsmanager.create_secret(Name="canary-no-value", ClientRequestToken=token))

    valued = secretsmanager.create_secret(Name="canary-value", ClientRequestToken=token, SecretString="v1")
    secretsmanager.put_secret_value(
        SecretId="canary-value", SecretString="v2", ClientRequestToken="canary-put-secret-value-token-0002"
    )
    again: dict[str, Any] = {}
    again_error = error_of(
        lambda: again.update(
            secretsmanager.create_secret(Name="canary-value", ClientRequestToken=token, SecretString="v1")
        )
    )
    return [
        Symptom(
            "a CreateSecret without a value, retried with its token, is refused",
            retried is not None,
            retried or f"answered again ({first['ARN']})",
        ),
        Symptom(
            "a CreateSecret with a value, retried with its token, answers another version than it created",
            again_error is None and again.get("VersionId") != valued["VersionId"],
            again_error or f"created VersionId {valued['VersionId']}, the retry answered {again.get('VersionId')}",
        ),
    ]


PATCH = MotoPatch(
    name="secretsmanager-create-idempotent",
    kind=GapKind.NEVER_FINISHES,
    resource_types=("aws_secretsmanager_secret",),
    gap="A CreateSecret without a value that the SDK retries with the same ClientRequestToken is refused "
    "(ResourceExistsException), so the apply stops at the secret; with a value, the retry answers the "
    "secret's current version instead of the one it created.",
    fix="Answers a retry of the request that created the secret (same token, same SecretString and SecretBinary "
    "or neither) with the first answer; another token or another value on an existing name still fails.",
    install=_apply,
    canary=reproduce,
)
