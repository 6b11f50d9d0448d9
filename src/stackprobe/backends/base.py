"""What every backend hands to the rest of the harness: where it is, who it is, what it serves."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

from stackprobe.backends.guard import pinned_environ

_CLIENTS: dict[tuple[str, str, str], Any] = {}
_CLIENT_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str, str, str], boto3.session.Session] = {}
_LOADER_LOCK = threading.Lock()
_LOADERS: list[Loader] = []

DUMMY_ACCESS_KEY = "test"
DUMMY_SECRET_KEY = "test"


def boto3_session(access_key: str, secret_key: str, region: str) -> boto3.session.Session:
    """An explicit session, never the default one (which would read ~/.aws and AWS_PROFILE), whose botocore
    data loader is the one every session of this process shares.

    A loader caches each JSON file it decodes (service models, endpoints), but each botocore session makes a
    loader of its own: every identity and region a run reads with decoded the same models again (the endpoint
    data alone is about 0.9 CPU-s per session). botocore's component registry is how a session is given one.
    """
    core = botocore.session.get_session()
    with _LOADER_LOCK:
        if not _LOADERS:
            _LOADERS.append(core.get_component("data_loader"))
        loader = _LOADERS[0]
        core.register_component("data_loader", loader)
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region, botocore_session=core
        )
        # boto3 appends its own data directory to the loader of every session it wraps: once is enough.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


class RequestTail(Protocol):
    def render_tail(self, count: int = 20) -> str: ...

    def render_exceptions(self) -> str: ...


@dataclass(frozen=True)
class EmulatorRequest:
    """What starting an emulator needs, whichever kind (see stackprobe.backends.registry)."""

    region: str
    # Where a run keeps its files; a LocalStack started on this host keeps its data there.
    work_dir: Path
    # The user cache (host-mode LocalStack builds its venv there once).
    cache_dir: Path
    # A port to listen on (0: a free one), for an emulator this run starts.
    port: int = 0
    # An emulator already running on loopback, to use instead of starting one (LocalStack).
    endpoint: str | None = None


class Emulator(Protocol):
    """What the harness needs from a running emulator, whichever one it is (moto, LocalStack)."""

    @property
    def request_log(self) -> RequestTail: ...

    @property
    def endpoint(self) -> str: ...

    def alive(self, timeout: float = 5.0) -> bool: ...

    def reset(self) -> None: ...

    def restart(self) -> AwsBackend: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class AwsBackend:
    """An emulated AWS endpoint, its dummy identity, and the services it can really serve.

    `services` is None when the backend claims every service (moto); LocalStack reports a subset, and
    checks that need a missing service are skipped with `unavailable_reason`.
    """

    name: str
    endpoint: str
    region: str
    account_id: str
    access_key: str = DUMMY_ACCESS_KEY
    secret_key: str = DUMMY_SECRET_KEY
    services: frozenset[str] | None = None
    unavailable_hints: Mapping[str, str] = field(default_factory=dict)
    # Resource types this emulator deletes only with their parent (type -> why): destroy drops them from
    # the state first, and the teardown inventory still proves the parent, and so they, are gone.
    destroyed_with_parent: Mapping[str, str] = field(default_factory=dict)

    def serves(self, service: str) -> bool:
        return self.services is None or service in self.services

    def unavailable_reason(self, service: str) -> str | None:
        """Why `service` cannot be used here, naming what would enable it; None when it can."""
        if self.serves(service):
            return None
        hint = self.unavailable_hints.get(service, "use the embedded moto backend")
        return f"{self.name} at {self.endpoint} does not serve `{service}`: {hint}"

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with every real-AWS credential and endpoint removed and this backend's put in."""
        return pinned_environ(
            base,
            endpoint=self.endpoint,
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )

    def session(self) -> boto3.session.Session:
        return boto3_session(self.access_key, self.secret_key, self.region)

    def client(self, service: str, region_name: str | None = None) -> Any:
        """A cached boto3 client for `service` bound to this endpoint (clients are thread-safe).

        Clients come from one session per identity, created under a lock (a session is not safe to use
        from two threads at once): a fresh session would parse botocore's endpoint and service JSON
        again, about 0.1 s per client, which an inventory over forty services and each new emulator
        endpoint paid every time.
        """
        key = (service, region_name or self.region)
        cache_key = (self.endpoint, *key)
        cached = _CLIENTS.get(cache_key)
        if cached is not None:
            return cached
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"})
        with _CLIENT_LOCK:
            cached = _CLIENTS.get(cache_key)
            if cached is None:
                identity = (self.access_key, self.secret_key, self.region)
                session = _SESSIONS.get(identity)
                if session is None:
                    session = _SESSIONS[identity] = self.session()
                cached = _CLIENTS[cache_key] = session.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, config=config, region_name=key[1]
                )
        return cached
