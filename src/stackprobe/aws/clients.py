"""boto3 clients for tests: bound to the emulator, in the region the stack under test lives in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackprobe.backends.base import AwsBackend

# (region, why that region): asked on each client created without an explicit region.
RegionSource = Callable[[], tuple[str, str]]


class AwsClients:
    """boto3 clients bound to the emulator: `aws.s3`, `aws.client("ecs", region_name=...)`.

    Without `region_name`, clients use the region `region_of` gives: for the pytest plugin, where the
    deployed stack's resources are (read from their ARNs), else the region its plan's provider names,
    else the run's. `aws.region` says which, and `repr(aws)` why.
    """

    def __init__(self, backend: AwsBackend, region_of: RegionSource | None = None) -> None:
        self.backend = backend
        self._region_of = region_of or (lambda: (backend.region, "the emulator's default region"))

    @property
    def region(self) -> str:
        return self._region_of()[0]

    def client(self, service: str, region_name: str | None = None) -> Any:
        return self.backend.client(service, region_name=region_name or self.region)

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        return self.client(service.replace("_", "-"))

    def __repr__(self) -> str:
        region, why = self._region_of()
        return f"AwsClients({self.backend.endpoint}, region {region}: {why})"
