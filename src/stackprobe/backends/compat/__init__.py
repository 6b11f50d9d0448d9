"""moto compatibility layer: every patch, known drift and unpatched gap, in one visible place.

`PATCHES` fix moto so resources finish and read back what was written; `KNOWN_DRIFT` lists second-plan
differences that come from moto's normalisation; `KNOWN_GAPS` lists what cannot be patched and is
reported as an emulator limitation. `docs/backends.md` is generated from these records
(`stackprobe compat --markdown`), and a test keeps the committed file in sync.

Importing the package imports no moto module (each patch imports moto when it installs), so a moto
that changed shape fails `apply_patches()` with `MotoShapeChanged` naming the patch and what is
missing, not every import of the harness. Each patch carries a canary that reproduces its gap on an
unpatched moto (`python -m stackprobe.backends.compat.canaries`), so a gap fixed upstream is noticed.
"""

from __future__ import annotations

import threading

from stackprobe.backends.compat.base import (
    SUPPORTED_MOTO,
    GapKind,
    KnownDrift,
    KnownGap,
    MotoPatch,
    Symptom,
    moto_version,
)
from stackprobe.backends.compat.registry import KNOWN_DRIFT, KNOWN_GAPS, PATCHES

__all__ = [
    "KNOWN_DRIFT",
    "KNOWN_GAPS",
    "PATCHES",
    "SUPPORTED_MOTO",
    "GapKind",
    "KnownDrift",
    "KnownGap",
    "MotoPatch",
    "Symptom",
    "applied_patches",
    "apply_patches",
    "moto_version",
]

_lock = threading.Lock()
_applied: list[MotoPatch] = []


def apply_patches() -> list[MotoPatch]:
    """Apply every patch whose version range covers the installed moto; idempotent, thread-safe.

    Raises `stackprobe.errors.MotoShapeChanged` when a patch in range finds moto changed.
    """
    with _lock:
        if not _applied:
            installed = moto_version()
            in_range = [patch for patch in PATCHES if patch.applies_to(installed)]
            for patch in in_range:
                patch.apply()
            # Recorded only once all installed: after a failure, the next call raises the same error again.
            _applied.extend(in_range)
        return list(_applied)


def applied_patches() -> list[MotoPatch]:
    with _lock:
        return list(_applied)
