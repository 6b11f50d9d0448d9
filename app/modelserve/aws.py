"""boto3 client construction shared by the API and the worker.

No endpoint is passed explicitly: botocore honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3 /
AWS_ENDPOINT_URL_SQS) on its own, which is exactly how the live probes point the unchanged
production code at the emulator.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config as BotoConfig

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


def _boto_config(read_timeout: float) -> BotoConfig:
    return BotoConfig(
        connect_timeout=3,
        read_timeout=read_timeout,
        retries={"max_attempts": 3, "mode": "standard"},
    )


_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def _session_for_clients() -> boto3.session.Session:
    """One Session for the process, so botocore parses each service model once, not once per client.

    Callers hold _session_lock: a Session is not thread-safe, while the clients it makes are.
    """
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


def make_s3_client(region: str, read_timeout: float = 10) -> S3Client:
    # SigV4 is mandatory for pre-signed requests against SSE-KMS buckets and in regions opened after
    # 2014; pinning it avoids depending on botocore's per-region default for pre-signing.
    config = _boto_config(read_timeout).merge(BotoConfig(signature_version="s3v4"))
    with _session_lock:
        return _session_for_clients().client("s3", region_name=region, config=config)


def make_sqs_client(region: str, read_timeout: float = 10) -> SQSClient:
    with _session_lock:
        return _session_for_clients().client("sqs", region_name=region, config=_boto_config(read_timeout))


def make_rds_client(region: str) -> RDSClient:
    # Only for generate_db_auth_token: a signature made locally, never a request.
    with _session_lock:
        return _session_for_clients().client("rds", region_name=region, config=_boto_config(10))


def error_code(exc: Exception) -> str:
    """The AWS error code of a ClientError (e.g. NoSuchKey, 404, AccessDenied), or the class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__
