"""KMS: the keys, each key's aliases and rotation, and who manages a key named by id, ARN or alias."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from stackprobe.aws.readers.base import ServiceReader


class KmsReader(ServiceReader):
    service = "kms"

    def listed_keys(self) -> tuple[Mapping[str, Any], ...]:
        """The metadata (DescribeKey) of every key ListKeys lists, AWS-managed and pending deletion ones too."""
        return self.listing("keys", lambda: [self.key(k["KeyId"]) for k in self.paginate("list_keys", "Keys")])

    def key(self, key_id: str) -> Mapping[str, Any]:
        """DescribeKey's metadata for an id, ARN or alias (raises the ClientError KMS answers for others)."""
        return self.read(("key", key_id), lambda: self.client().describe_key(KeyId=key_id)["KeyMetadata"])

    def aliases(self, key_id: str) -> tuple[Mapping[str, Any], ...]:
        return self.read(
            ("aliases", key_id), lambda: tuple(self.client().list_aliases(KeyId=key_id).get("Aliases", []))
        )

    def rotation(self, key_id: str) -> Mapping[str, Any]:
        """GetKeyRotationStatus: KeyRotationEnabled, and RotationPeriodInDays when the emulator reports it."""
        return self.read(("rotation", key_id), lambda: self.client().get_key_rotation_status(KeyId=key_id))

    def manager(self, key_id: str) -> str | None:
        """'CUSTOMER' or 'AWS' for a key (id, ARN or alias), None when KMS does not know it.

        A key behind an `alias/aws/...` alias is AWS-managed whatever KeyManager says: moto creates its
        default keys (alias/aws/rds included) as CUSTOMER keys.
        """
        if key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
            return "AWS"
        try:
            meta = self.key(key_id)
            aliases = self.aliases(meta["KeyId"])
        except ClientError:
            return None
        if any(str(alias.get("AliasName", "")).startswith("alias/aws/") for alias in aliases):
            return "AWS"
        return str(meta.get("KeyManager"))
