"""Fixtures the harness tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.moto import EmbeddedMoto


@pytest.fixture(scope="module")
def backend() -> Iterator[AwsBackend]:
    """An embedded moto of the module's own, patched as the harness runs it (the compatibility tests' emulator).

    moto's state is per process, so the modules of one xdist worker still see each other's resources: names stay
    unique per test."""
    moto = EmbeddedMoto()
    yield moto.start()
    moto.stop()
