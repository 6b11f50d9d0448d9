"""The records the compatibility layer is made of: patches, known drift, and unpatched gaps.

Each moto gap the harness knows about is one record here, pinned to the moto versions it was written
for. A patch outside its range is not applied (and the table says so), so upgrading moto surfaces
gaps again instead of silently stacking patches on code that changed underneath them.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from packaging.specifiers import SpecifierSet
from packaging.version import Version

# Names of the patches installed in this process: patches change moto's classes, which are process-wide.
_INSTALLED: set[str] = set()
_INSTALL_LOCK = threading.Lock()


class GapKind(StrEnum):
    NEVER_FINISHES = "never finishes"
    DRIFT = "drifts on every plan"
    NOT_STORED = "silently not stored"
    FAKED = "faked"
    SLOW = "repeats costly work"


@dataclass(frozen=True)
class MotoPatch:
    """One named fix to moto's models or responses.

    `install` mutates moto in this process (the embedded server runs in-process); `apply` runs it at
    most once per process, so a patch wraps moto's original method, never its own earlier wrapper.
    `resource_types` are the Terraform types that hang, drift or lie without it.
    """

    name: str
    moto_versions: str
    kind: GapKind
    resource_types: tuple[str, ...]
    gap: str
    fix: str
    install: Callable[[], None] = field(compare=False, repr=False)

    def apply(self) -> None:
        """Install the patch unless this process already has it (idempotent, thread-safe)."""
        with _INSTALL_LOCK:
            if self.name not in _INSTALLED:
                self.install()
                _INSTALLED.add(self.name)

    def applies_to(self, moto_version: str) -> bool:
        return Version(moto_version) in SpecifierSet(self.moto_versions)


@dataclass(frozen=True)
class KnownDrift:
    """Drift in a second plan that comes from the emulator, not the stack.

    `attribute` is an fnmatch pattern over the dotted attribute path in the plan's before/after
    (e.g. `parameter.*` or `redrive_policy`). A change that touches only such attributes is emulator
    drift; anything else in the same resource is still real drift.
    """

    resource_type: str
    attribute: str
    reason: str
    moto_versions: str = ">=5.2,<5.3"

    def matches(self, resource_type: str, attribute: str, moto_version: str) -> bool:
        return (
            resource_type == self.resource_type
            and fnmatch.fnmatchcase(attribute, self.attribute)
            and Version(moto_version) in SpecifierSet(self.moto_versions)
        )


@dataclass(frozen=True)
class KnownGap:
    """A gap with no patch: reported as an emulator limitation, never as a failure of the stack."""

    name: str
    kind: GapKind
    resource_types: tuple[str, ...]
    gap: str
    consequence: str
    moto_versions: str = ">=5.2,<5.3"
