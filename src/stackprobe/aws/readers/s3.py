"""S3: the buckets, each bucket's settings (policy, public access block, encryption, versioning, ACL,
logging), and the account-wide public access block.

"Not configured" is an answer, not an error: each setting S3 reports as missing with its own error code
reads as None; any other error is raised to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from stackprobe.aws.readers.base import ServiceReader

T = TypeVar("T")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unless(missing: str, read: Callable[[], T]) -> Callable[[], T | None]:
    """`read`, answering None when S3 says the setting is not there (`missing` is its error code)."""

    def guarded() -> T | None:
        try:
            return read()
        except ClientError as exc:
            if error_code(exc) == missing:
                return None
            raise

    return guarded


class S3Reader(ServiceReader):
    service = "s3"

    def bucket_names(self) -> tuple[str, ...]:
        return self.listing(
            "buckets", lambda: sorted(b["Name"] for b in self.client().list_buckets().get("Buckets", []))
        )

    def policy(self, bucket: str) -> str | None:
        """The bucket policy's text, None when the bucket has none."""
        read = _unless("NoSuchBucketPolicy", lambda: str(self.client().get_bucket_policy(Bucket=bucket)["Policy"]))
        return self.read(("policy", bucket), read)

    def public_access_block(self, bucket: str) -> Mapping[str, Any] | None:
        read = _unless(
            "NoSuchPublicAccessBlockConfiguration",
            lambda: self.client().get_public_access_block(Bucket=bucket).get("PublicAccessBlockConfiguration") or {},
        )
        return self.read(("public access block", bucket), read)

    def account_public_access_block(self) -> Mapping[str, Any] | None:
        """The account-wide block (S3 Control), which protects every bucket whatever the bucket says.

        botocore's S3 Control endpoint rules put the account id in front of the host
        (`<account>.<endpoint>`), which no loopback emulator resolves; the prefix is stripped before
        signing, so the request goes to the emulator endpoint itself.
        """
        backend = self._clients.backend

        def read() -> Mapping[str, Any] | None:
            client = backend.session().client("s3control", endpoint_url=backend.endpoint, region_name=backend.region)
            host_prefix = f"://{backend.account_id}."

            def strip_account_host(request: Any, **_: Any) -> None:
                request.url = request.url.replace(host_prefix, "://", 1)

            client.meta.events.register("before-sign.s3-control.*", strip_account_host)
            answer = client.get_public_access_block(AccountId=backend.account_id)
            return answer.get("PublicAccessBlockConfiguration") or {}  # type: ignore[no-any-return]

        return self.read("account public access block", _unless("NoSuchPublicAccessBlockConfiguration", read))

    def encryption_rules(self, bucket: str) -> tuple[Mapping[str, Any], ...] | None:
        """The default encryption rules, None when S3 answers that the bucket has no configuration."""
        read = _unless(
            "ServerSideEncryptionConfigurationNotFoundError",
            lambda: tuple(
                self.client().get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            ),
        )
        return self.read(("encryption", bucket), read)

    def versioning(self, bucket: str) -> str | None:
        """Enabled, Suspended, or None when versioning was never enabled."""

        def read() -> str | None:
            status = self.client().get_bucket_versioning(Bucket=bucket).get("Status")
            return None if status is None else str(status)

        return self.read(("versioning", bucket), read)

    def acl_grants(self, bucket: str) -> tuple[Mapping[str, Any], ...]:
        return self.read(("acl", bucket), lambda: tuple(self.client().get_bucket_acl(Bucket=bucket).get("Grants", [])))

    def logging(self, bucket: str) -> Mapping[str, Any]:
        """The bucket's LoggingEnabled settings (empty when server access logging is off)."""
        return self.read(
            ("logging", bucket), lambda: self.client().get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {}
        )
