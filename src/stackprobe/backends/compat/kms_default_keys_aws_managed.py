"""KMS: the keys AWS makes for a service's default alias (`alias/aws/secretsmanager`, ...) are AWS managed.

When a service encrypts with its default key (a Secrets Manager secret without `kms_key_id`, such as the one RDS
makes for `manage_master_user_password`), AWS uses the AWS managed key behind `alias/aws/<service>`:
`KeyManager = AWS`, not the account's to delete, never a resource of the stack. moto 5.2 creates that key on first
use with `KeyManager = CUSTOMER`, so the teardown proof, which counts the customer managed keys left behind,
reported it as a resource the stack leaked. The patch marks the keys made for reserved aliases as AWS managed.
"""

from __future__ import annotations

from typing import Any

from stackprobe.backends.compat._monkey import replace
from stackprobe.backends.compat.base import GapKind, MotoEndpoint, MotoPatch, Symptom


def _apply() -> None:
    from moto.kms.models import KmsBackend

    original = KmsBackend._generate_default_keys

    def _generate_default_keys(self: Any, alias_name: str) -> str | None:
        key_id = original(self, alias_name)
        if key_id is not None:
            self.keys[key_id].key_manager = "AWS"
        return key_id  # type: ignore[no-any-return]

    replace(KmsBackend, "_generate_default_keys", _generate_default_keys)


def reproduce(moto: MotoEndpoint) -> list[Symptom]:
    """The key behind alias/aws/secretsmanager, made by describing it."""
    kms = moto.client("kms")
    metadata = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    return [
        Symptom(
            "the key behind a service's default alias is customer managed",
            metadata.get("KeyManager") != "AWS",
            f"alias/aws/secretsmanager's key has KeyManager {metadata.get('KeyManager')!r}",
        )
    ]


PATCH = MotoPatch(
    name="kms-default-keys-aws-managed",
    kind=GapKind.FAKED,
    resource_types=("aws_secretsmanager_secret", "aws_db_instance", "aws_rds_cluster"),
    gap="The key moto makes behind a service's default alias (alias/aws/secretsmanager, used by a secret without "
    "kms_key_id such as RDS's managed master secret) is customer managed, so the teardown proof counts it as leaked.",
    fix="Marks the keys made for reserved aliases AWS managed (KeyManager AWS), as AWS's are.",
    install=_apply,
    canary=reproduce,
)
