"""What checks and probes read about a deployed account: one snapshot, one reader per service, policies, tags.

A neutral package: it imports neither `stackprobe.checks` nor `stackprobe.probes`, so both can use it
without importing each other. `account.Account` is the snapshot a check context reads (each service
once, through `readers`); the teardown inventory lists the emulator through the same readers. Everything
here reaches the emulator through `Clients`, which a `CheckContext` satisfies and so does anything
else holding a backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from stackprobe.backends.base import AwsBackend


class Clients(Protocol):
    """boto3 clients bound to one emulator, and that emulator's backend record."""

    @property
    def backend(self) -> AwsBackend: ...

    def client(self, service: str, region_name: str | None = None) -> Any: ...


class DeployedAccount(Clients, Protocol):
    """An account holding a deployed stack: its clients, the stack's Terraform outputs, and where its app is."""

    @property
    def outputs(self) -> Mapping[str, Any]: ...

    @property
    def app_dir(self) -> Path | None: ...
