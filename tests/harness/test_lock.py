"""The locks `make setup` and CI install from agree with what pyproject.toml asks for.

pyproject.toml keeps ranges (what users install); requirements/dev.lock pins the exact versions, with
hashes, that this repository's own setup and CI install (`make lock` refreshes it). A dependency added to
pyproject.toml without refreshing the lock would be missing from every fresh clone's venv: these tests
name it and the command, before anything else fails for want of it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from stackprobe.backends.compat import SUPPORTED_MOTO

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]
DEV_LOCK = REPO / "requirements" / "dev.lock"
FLOOR_LOCK = REPO / "requirements" / "moto-floor.lock"
PINNED = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$", re.MULTILINE
)
REFRESH = "refresh it with `make lock` and commit requirements/"


def locked(path: Path) -> dict[str, str]:
    """Package name -> pinned version, for the entries whose markers hold here."""
    found: dict[str, str] = {}
    for match in PINNED.finditer(path.read_text(encoding="utf-8")):
        marker = match.group("marker")
        if marker is None or Requirement(f"x; {marker}").marker.evaluate():  # type: ignore[union-attr]
            found[canonicalize_name(match.group("name"))] = match.group("version")
    return found


def declared() -> list[Requirement]:
    """Every requirement of the package and of the extras the lock is compiled with (dev pulls in localstack)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    lines = [*project["dependencies"], *extras["dev"], *extras["localstack"]]
    return [Requirement(line) for line in lines if not line.startswith("stackprobe")]


def test_every_declared_dependency_is_locked_inside_its_range() -> None:
    pins = locked(DEV_LOCK)
    problems = []
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in the lock")
        elif pins[name] not in requirement.specifier:
            problems.append(f"{requirement} but the lock pins {pins[name]}")
    assert problems == [], f"requirements/dev.lock is stale ({REFRESH}):\n" + "\n".join(problems)


def test_every_locked_entry_carries_its_hashes() -> None:
    """pip's --require-hashes refuses the whole lock for one entry without them; say which, here."""
    entries = re.split(r"\n(?=\S)", DEV_LOCK.read_text(encoding="utf-8"))
    unhashed = [e.split()[0] for e in entries if "==" in e.split("\n")[0] and "--hash=sha256:" not in e]
    assert unhashed == [], f"lock entries without hashes: {unhashed} ({REFRESH})"


def test_the_floor_lock_pins_the_lowest_supported_moto() -> None:
    floor = min(spec.version for spec in SpecifierSet(SUPPORTED_MOTO) if spec.operator == ">=")

    assert locked(FLOOR_LOCK) == {"moto": floor}, (
        f"requirements/moto-floor.lock should pin moto=={floor}, the floor of {SUPPORTED_MOTO} "
        f"(edit requirements/moto-floor.in, then `make lock`)"
    )
