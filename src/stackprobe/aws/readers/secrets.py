"""Secrets Manager: the secrets, and a secret's value (read only to compare it, never to report it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackprobe.aws.readers.base import ServiceReader


class SecretsManagerReader(ServiceReader):
    service = "secretsmanager"

    def secrets(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("secrets", lambda: self.paginate("list_secrets", "SecretList"))

    def secret_string(self, arn: str) -> str | None:
        """The SecretString of the secret `arn` names, asked in the region of the ARN (raises what the
        service answers for a secret it cannot give)."""
        region = arn.split(":")[3] if arn.count(":") >= 3 else ""

        def read() -> str | None:
            text = self.client(region or None).get_secret_value(SecretId=arn).get("SecretString")
            return None if text is None else str(text)

        return self.read(("secret string", arn), read)
