"""ECR: repositories, each repository's lifecycle policy, and the registry's scanning configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from stackprobe.aws.readers.base import ServiceReader


class EcrReader(ServiceReader):
    service = "ecr"

    def repositories(self) -> tuple[Mapping[str, Any], ...]:
        return self.listing("repositories", lambda: self.paginate("describe_repositories", "repositories"))

    def registry_scanning(self) -> Mapping[str, Any] | None:
        """The registry's scanning configuration; None when the emulator cannot answer for it."""

        def read() -> Mapping[str, Any] | None:
            try:
                answer = self.client().get_registry_scanning_configuration()
            except ClientError:
                return None
            return answer.get("scanningConfiguration", {})  # type: ignore[no-any-return]

        return self.read("registry scanning", read)

    def lifecycle_policy(self, repository: str) -> str | None:
        """The repository's lifecycle policy text; None when it has none."""

        def read() -> str | None:
            try:
                answer = self.client().get_lifecycle_policy(repositoryName=repository)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "LifecyclePolicyNotFoundException":
                    raise
                return None
            return str(answer.get("lifecyclePolicyText", ""))

        return self.read(("lifecycle policy", repository), read)
