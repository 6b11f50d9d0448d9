"""moto compatibility layer: every patch, known drift and unpatched gap, in one visible place.

`PATCHES` fix moto so resources finish and read back what was written; `KNOWN_DRIFT` lists second-plan
differences that come from moto's normalisation; `KNOWN_GAPS` lists what cannot be patched and is
reported as an emulator limitation. `docs/backends.md` is generated from these records
(`stackprobe compat --markdown`), and a test keeps the committed file in sync.
"""

from __future__ import annotations

import threading
from importlib.metadata import version

from stackprobe.backends.compat.base import GapKind, KnownDrift, KnownGap, MotoPatch
from stackprobe.backends.compat.registry import KNOWN_DRIFT, KNOWN_GAPS, PATCHES

__all__ = [
    "KNOWN_DRIFT",
    "KNOWN_GAPS",
    "PATCHES",
    "GapKind",
    "KnownDrift",
    "KnownGap",
    "MotoPatch",
    "applied_patches",
    "apply_patches",
    "moto_version",
]

_lock = threading.Lock()
_applied: list[MotoPatch] = []


def moto_version() -> str:
    return version("moto")


def apply_patches() -> list[MotoPatch]:
    """Apply every patch whose version range covers the installed moto; idempotent, thread-safe."""
    with _lock:
        if not _applied:
            installed = moto_version()
            for patch in PATCHES:
                if patch.applies_to(installed):
                    patch.apply()
                    _applied.append(patch)
        return list(_applied)


def applied_patches() -> list[MotoPatch]:
    with _lock:
        return list(_applied)
