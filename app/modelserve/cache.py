"""The API's cache (ElastiCache Redis): finished jobs' results, so the clients polling for them do not each read S3.

A job's result never changes once the worker has written it (done or failed), so it is cached for an hour under
`job:<id>:result`; a queued job is never cached (its state is about to change). The cache is an optimisation:
when Redis cannot be reached, a poll reads S3 as it would without a cache, and says so (`X-Cache: unavailable`
on the response, a warning in the log), so a broken cache is visible without failing the API.

Connections: TLS with the certificate verified against the process's trust store (ElastiCache's in-transit
encryption); with `CACHE_USER`, the RBAC user logs in with an IAM token: a SigV4-presigned `connect` request for
the replication group `CACHE_NAME`, made locally from the task role's credentials, valid for 15 minutes and
renewed before that (redis-py asks a credential provider for each new connection).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

import botocore.session
import redis
from botocore.awsrequest import AWSRequest
from botocore.model import ServiceId
from botocore.session import Session as BotocoreSession
from botocore.signers import RequestSigner
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.retry import Retry

from .config import CacheConfig

log = logging.getLogger("modelserve.cache")

RESULT_TTL_SECONDS = 3600
TOKEN_LIFETIME_SECONDS = 900  # what ElastiCache accepts
TOKEN_RENEW_SECONDS = 600  # renewed well before it expires: a connection may be opened at any moment
SOCKET_TIMEOUT_SECONDS = 1.0  # a slow cache must not make a poll slower than reading S3


class ElastiCacheIAMProvider(CredentialProvider):
    """(user, IAM token) for ElastiCache's IAM authentication, the token cached until it is due for renewal."""

    def __init__(self, user: str, cache_name: str, region: str, session: BotocoreSession | None = None) -> None:
        self.user, self.cache_name, self.region = user, cache_name, region
        self._session = session or botocore.session.get_session()
        self._lock = threading.Lock()
        self._token = ""
        self._minted = 0.0

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            if not self._token or time.monotonic() - self._minted > TOKEN_RENEW_SECONDS:
                self._token, self._minted = self.token(), time.monotonic()
            return self.user, self._token

    def token(self) -> str:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise redis.AuthenticationError("no AWS credentials to sign an ElastiCache IAM token with")
        signer = RequestSigner(
            ServiceId("elasticache"),
            self.region,
            "elasticache",
            "v4",
            credentials,
            self._session.get_component("event_emitter"),
        )
        query = urlencode({"Action": "connect", "User": self.user})
        request = AWSRequest(method="GET", url=f"https://{self.cache_name}/?{query}")
        url = signer.generate_presigned_url(
            {"method": request.method, "url": request.url, "body": {}, "headers": {}, "context": {}},
            operation_name="connect",
            expires_in=TOKEN_LIFETIME_SECONDS,
            region_name=self.region,
        )
        return str(url).removeprefix("https://")


class ResultCache:
    def __init__(self, config: CacheConfig, region: str, client: redis.Redis | None = None) -> None:
        self.config = config
        provider = ElastiCacheIAMProvider(config.user, config.name, region) if config.user else None
        self.client = client or redis.Redis(
            host=config.host,
            port=config.port,
            ssl=True,
            ssl_cert_reqs="required",
            credential_provider=provider,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            # One immediate retry (a connection the server closed), not redis-py's default backoff of seconds.
            retry=Retry(NoBackoff(), 1),
        )

    @staticmethod
    def key(job_id: str) -> str:
        return f"job:{job_id}:result"

    def get(self, job_id: str) -> tuple[dict[str, Any] | None, str]:
        """(the cached result or None, "hit" | "miss" | "unavailable")."""
        try:
            raw = self.client.get(self.key(job_id))
        except redis.RedisError as exc:
            log.warning("cache unavailable, reading S3 instead: %s", exc)
            return None, "unavailable"
        if raw is None:
            return None, "miss"
        state = json.loads(raw)
        return (state, "hit") if isinstance(state, dict) else (None, "miss")

    def put(self, state: dict[str, Any]) -> bool:
        """Cache a finished job's result; False when the cache could not take it (logged)."""
        try:
            self.client.set(self.key(state["job_id"]), json.dumps(state, sort_keys=True), ex=RESULT_TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("cache unavailable, result not cached: %s", exc)
            return False
        return True

    def check(self) -> dict[str, Any]:
        """For /ready: PING as the API's user."""
        target = f"{self.config.host}:{self.config.port}"
        try:
            self.client.ping()
        except redis.RedisError as exc:
            return {"ok": False, "target": target, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "target": target, "user": self.config.user or None}
