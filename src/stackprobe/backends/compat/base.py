"""The records the compatibility layer is made of: patches, known drift, and unpatched gaps.

Each moto gap the harness knows about is one record here, pinned to the moto versions it was written
for (`SUPPORTED_MOTO` unless a record says otherwise). A patch outside its range is not applied (and
the table says so), so upgrading moto surfaces gaps again instead of silently stacking patches on code
that changed underneath them.

Importing this module (or any record module of the package) imports no moto module: a patch imports
moto's internals when it installs, so a moto that changed shape fails that patch's install with
`MotoShapeChanged`, naming what is missing, instead of failing every import of the harness.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import version
from types import ModuleType
from typing import Any, Protocol

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from stackprobe.backends.compat._monkey import ShapeMismatch
from stackprobe.errors import MotoShapeChanged

# The moto releases the patches, known drift and gaps were written and checked against; pyproject.toml
# pins moto[server] to the same range (tests/harness/test_compat_framework.py compares the two). A record
# that holds for a narrower range says so itself, with a comment why; a gap moto fixed upstream names the
# release (`fixed_in`), and its patch stays off from that release on.
SUPPORTED_MOTO = ">=5.2.5,<5.3"
# The newest moto the canaries were run against: the one requirements/dev.lock installs for CI (a test
# keeps the two equal). A newer moto inside the supported range gets every patch its record says it
# needs, and `stackprobe compat` says that nobody has run the canaries on it yet.
CHECKED_MOTO = "5.2.6"

# Names of the patches installed in this process: patches change moto's classes, which are process-wide.
_INSTALLED: set[str] = set()
_INSTALL_LOCK = threading.Lock()


def moto_version() -> str:
    """The installed moto's version, read from its distribution metadata (moto itself is not imported)."""
    return version("moto")


class GapKind(StrEnum):
    NEVER_FINISHES = "never finishes"
    DRIFT = "drifts on every plan"
    NOT_STORED = "silently not stored"
    FAKED = "faked"
    SLOW = "repeats costly work"


@dataclass(frozen=True)
class Symptom:
    """One way a gap shows through moto's API, as a canary observed it.

    `present` is whether the gap showed; `observed` is what was seen, quoted in a failing canary test.
    """

    what: str
    present: bool
    observed: str


class MotoEndpoint(Protocol):
    """A running moto server, reached through boto3 (what a canary reproduces its gap against)."""

    @property
    def region(self) -> str: ...

    def client(self, service: str) -> Any: ...


# A canary reproduces its patch's gap against a moto server and reports each symptom. Run on an unpatched
# moto, every symptom must be present (else the patch may be obsolete); with the patch, none may be.
Canary = Callable[[MotoEndpoint], list[Symptom]]


def _missing(error: BaseException) -> str:
    """What an install found missing, named as precisely as the exception allows."""
    if isinstance(error, ModuleNotFoundError):
        return f"module {error.name} does not exist"
    if isinstance(error, AttributeError) and error.name is not None and error.obj is not None:
        owner = error.obj
        where = (
            owner.__name__
            if isinstance(owner, ModuleType)
            else f"{owner.__module__}.{owner.__qualname__}"
            if isinstance(owner, type)
            else type(owner).__qualname__
        )
        return f"{where}.{error.name} does not exist"
    # ImportError's "cannot import name 'X' from 'moto.y' (/path/to/moto/y.py)": the path adds nothing.
    return re.sub(r" \([^()]*\)$", "", str(error))


@dataclass(frozen=True)
class MotoPatch:
    """One named fix to moto's models or responses.

    `install` imports what it changes from moto and mutates it in this process (the embedded server
    runs in-process); `apply` runs it at most once per process, so a patch wraps moto's original
    method, never its own earlier wrapper. `resource_types` are the Terraform types that hang, drift or
    lie without it. `canary` reproduces the gap through the API (see `Canary`), so that a moto release
    that fixes the gap upstream is noticed; that release is then recorded as `fixed_in`, and the patch
    applies only to the versions before it (`mends`).
    """

    name: str
    kind: GapKind
    resource_types: tuple[str, ...]
    gap: str
    fix: str
    install: Callable[[], None] = field(compare=False, repr=False)
    canary: Canary = field(compare=False, repr=False)
    moto_versions: str = SUPPORTED_MOTO
    # The first moto release whose canary no longer shows the gap (None: every version in range has it).
    fixed_in: str | None = None

    @property
    def mends(self) -> SpecifierSet:
        """The moto versions that have the gap, so the patch applies to them and to no other."""
        written_for = SpecifierSet(self.moto_versions)
        if self.fixed_in is None:
            return written_for
        # The fix is the new upper bound: upper bounds at or above it say nothing more.
        fixed = Version(self.fixed_in)
        kept = [
            str(spec) for spec in written_for if not (spec.operator in ("<", "<=") and Version(spec.version) >= fixed)
        ]
        return SpecifierSet(",".join([*kept, f"<{self.fixed_in}"]))

    def apply(self) -> None:
        """Install the patch unless this process already has it (idempotent, thread-safe).

        Raises MotoShapeChanged when moto lacks (or already has) what the patch changes.
        """
        with _INSTALL_LOCK:
            if self.name in _INSTALLED:
                return
            try:
                self.install()
            except (ShapeMismatch, ImportError, AttributeError) as error:
                raise self._shape_changed(_missing(error)) from error
            _INSTALLED.add(self.name)

    def applies_to(self, moto_version: str) -> bool:
        return Version(moto_version) in self.mends

    def status(self, moto_version: str) -> str:
        """Whether the patch is active on `moto_version`, and why (what `stackprobe compat` prints)."""
        installed = Version(moto_version)
        if self.applies_to(moto_version):
            return f"active: moto {moto_version} has the gap (the patch mends {self.mends_text()})"
        if (
            self.fixed_in is not None
            and installed >= Version(self.fixed_in)
            and installed in SpecifierSet(self.moto_versions)
        ):
            return f"inactive: moto fixed the gap upstream in {self.fixed_in} (the patch mends {self.mends_text()})"
        return f"inactive: moto {moto_version} is outside the versions the patch was written for ({self.moto_versions})"

    def mends_text(self) -> str:
        # Lower bounds first, as people write a range (SpecifierSet's own str sorts "<" before ">=").
        ordered = sorted(self.mends, key=lambda spec: (not spec.operator.startswith(">"), str(spec)))
        return ",".join(str(spec) for spec in ordered)

    def _shape_changed(self, missing: str) -> MotoShapeChanged:
        installed = moto_version()
        return MotoShapeChanged(
            f"moto compatibility patch `{self.name}` cannot install on moto {installed}: {missing}",
            f"install moto in the supported range (pip install 'moto[server]{SUPPORTED_MOTO}'), or update "
            f"{self.install.__module__} to moto {installed} and check it with its canary: "
            f"python -m stackprobe.backends.compat.canaries --patch {self.name}",
            f"The patch was written against moto {self.moto_versions}.",
        )


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
    moto_versions: str = SUPPORTED_MOTO

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
    moto_versions: str = SUPPORTED_MOTO
