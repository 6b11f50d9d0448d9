"""The guard that keeps every run away from real AWS.

A run may only start when all of these hold, and the guard checks each one separately so the refusal
names exactly what was wrong:
- every endpoint terraform or boto3 could use is a loopback address;
- the credentials are the emulator's dummy ones, and nothing that could select real credentials
  (profiles, shared files, web identity, container credentials, SSO) survives in the environment;
- STS GetCallerIdentity, asked through that endpoint, answers with the emulator's account.
The environment handed to terraform and to boto3 is built by `pinned_environ`, never inherited as is.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol
from urllib.parse import urlparse

from stackprobe.errors import RealAwsRefused


class GuardedBackend(Protocol):
    """What the guard reads of a backend: stackprobe.backends.base.AwsBackend, which imports the guard."""

    @property
    def endpoint(self) -> str: ...

    @property
    def access_key(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    def environ(self, base: Mapping[str, str]) -> dict[str, str]: ...

    def client(self, service: str, region_name: str | None = None) -> Any: ...


# Variables that can make an AWS SDK (boto3, or the Go SDK inside the provider) pick real credentials
# or a real endpoint. They are removed, whatever their value, before anything runs.
CREDENTIAL_SELECTORS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
)
ENDPOINT_PREFIX = "AWS_ENDPOINT_URL"
# Shapes of real AWS access key ids (user, temporary, role, ...): refused even if someone sets them
# as the "dummy" credentials.
REAL_KEY_PATTERN = re.compile(r"^(AKIA|ASIA|AROA|AIDA|AGPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{12,}$")
# Keys the emulators document as their dummy credentials: moto accepts anything, LocalStack maps a
# 12-digit key to an account id.
DUMMY_KEY_PATTERN = re.compile(r"^(test|testing|mock|\d{12})$")


def is_loopback_url(url: str) -> bool:
    """True when `url` names a loopback host (127.0.0.0/8, ::1, or a name resolving only to those)."""
    host = urlparse(url).hostname
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


def pinned_environ(
    base: Mapping[str, str], *, endpoint: str, region: str, access_key: str, secret_key: str
) -> dict[str, str]:
    """A copy of `base` where the only AWS identity and endpoint left are the emulator's."""
    env = {
        key: value
        for key, value in base.items()
        if key not in CREDENTIAL_SELECTORS and not key.startswith(ENDPOINT_PREFIX)
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            # /dev/null rather than unset: unset means "~/.aws/config", which may hold real profiles.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def ignored_from_environment(environ: Mapping[str, str]) -> list[str]:
    """What in `environ` a run replaces with the emulator's own, named for the one line that says so.

    Real-looking keys are named, never shown; an endpoint is shown (it is where the user meant to go).
    """
    found = []
    for key in sorted(environ):
        value = environ[key]
        if key.startswith(ENDPOINT_PREFIX):
            found.append(f"{key}={value}")
        elif key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if REAL_KEY_PATTERN.match(value):
                found.append(f"{key} (the shape of a real key)")
            elif key == "AWS_ACCESS_KEY_ID" and not DUMMY_KEY_PATTERN.match(value):
                found.append(key)
        elif key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            found.append(f"{key}={value}")
        elif key in CREDENTIAL_SELECTORS and key not in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            found.append(key)
        elif key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE") and value != os.devnull:
            found.append(f"{key}={value}")
    return found


def drop_credential_selectors(environ: MutableMapping[str, str]) -> None:
    """Remove from `environ` everything that could select real credentials (endpoints are left)."""
    for key in [k for k in environ if k in CREDENTIAL_SELECTORS]:
        del environ[key]


def pin_process_environ(backend: GuardedBackend, environ: MutableMapping[str, str] | None = None) -> None:
    """Pin this process's own environment, so boto3 clients created by tests cannot escape either."""
    target = os.environ if environ is None else environ
    pinned = backend.environ(dict(target))
    for key in list(target):
        if key not in pinned:
            del target[key]
    target.update(pinned)


def violations(endpoint: str, access_key: str, environ: Mapping[str, str]) -> list[str]:
    """Every reason this endpoint, key and environment could reach real AWS (empty when pinned)."""
    found: list[str] = []
    if not is_loopback_url(endpoint):
        found.append(f"the endpoint {endpoint!r} is not a loopback address")
    for key, value in environ.items():
        if key.startswith(ENDPOINT_PREFIX) and not is_loopback_url(value):
            found.append(f"{key}={value!r} is not a loopback address")
    if REAL_KEY_PATTERN.match(access_key):
        found.append(f"the access key {access_key[:4]}… has the shape of a real AWS key")
    elif not DUMMY_KEY_PATTERN.match(access_key):
        found.append(f"the access key {access_key!r} is not one of the emulator's dummy keys")
    env_key = environ.get("AWS_ACCESS_KEY_ID")
    if env_key is not None and env_key != access_key:
        found.append("AWS_ACCESS_KEY_ID in the environment differs from the emulator's dummy key")
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        if environ.get(name):
            found.append(f"{name} is set and could select real credentials")
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        if environ.get(name, os.devnull) != os.devnull:
            found.append(f"{name} points at {environ[name]!r}, which may hold real profiles")
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        found.append("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would make SDKs ignore the emulator endpoint")
    return found


def check_pinned(backend: GuardedBackend, environ: Mapping[str, str]) -> None:
    """Refuse (raise RealAwsRefused) unless `environ` and `backend` are pinned to a local emulator."""
    found = violations(backend.endpoint, backend.access_key, environ)
    if found:
        raise RealAwsRefused(
            "Refusing to run: this run is not pinned to a local AWS emulator",
            "let stackprobe start its embedded moto (the default), or point --stackprobe-endpoint at an "
            "emulator on 127.0.0.1, and leave credentials to the harness (it sets dummy ones).",
            detail="; ".join(found) + ".",
        )


def check_caller_identity(backend: GuardedBackend) -> str:
    """Ask STS, through the emulator endpoint, who we are; refuse unless it is the emulator's account."""
    try:
        identity = backend.client("sts").get_caller_identity()
    except Exception as exc:  # any failure here means we cannot prove where we are
        raise RealAwsRefused(
            f"Refusing to run: STS GetCallerIdentity at {backend.endpoint} failed",
            "check that the emulator is running and answers on that endpoint.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    account = str(identity.get("Account"))
    if account != backend.account_id:
        raise RealAwsRefused(
            f"Refusing to run: the endpoint {backend.endpoint} answered as account {account}, not the "
            f"emulator account {backend.account_id}",
            "make sure the endpoint is the emulator stackprobe started, not a proxy to AWS.",
        )
    return account
