"""Each patch is on exactly where moto has its gap: the canaries prove it on the installed moto and on the
oldest one the supported range allows.

The canaries run in one subprocess per moto (`python -m stackprobe.backends.compat.canaries`): it
reproduces every gap on an unpatched moto, then applies the patches that cover that moto and runs them
again. Never in this process: patches are process-wide, and this process (or a stack another test
deployed in it) must keep its patched moto.

On the installed moto (the one requirements/dev.lock pins, in `make test`; the newest the ranges allow, in
`make test-latest`):
- a patch that is on must still be needed (its gap reproduces unpatched) and must mend it;
- a patch that is off because moto fixed the gap upstream (`fixed_in`) must really be unneeded: its gap
  no longer reproduces. A new moto release that fixes a gap fails the first test, naming the patch and
  the release to record; one that breaks a fix again fails the second.
On the supported range's floor (moto installed by `make setup` into `<venv>/moto-floor`), every patch the
installed moto made obsolete must still reproduce its gap and mend it, since users may run that moto.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from stackprobe.backends.compat import PATCHES, SUPPORTED_MOTO, MotoPatch, moto_version

# One group, so that under xdist a single worker runs the subprocesses once for every test here.
pytestmark = [pytest.mark.harness, pytest.mark.xdist_group("compat-canaries")]

LOG = logging.getLogger(__name__)
COMMAND = [sys.executable, "-m", "stackprobe.backends.compat.canaries"]
# Where `make setup` installs the floor's moto (requirements/moto-floor.lock), beside the venv's own.
FLOOR_DIR = Path(sys.prefix) / "moto-floor"
FLOOR = min(spec.version for spec in SpecifierSet(SUPPORTED_MOTO) if spec.operator == ">=")
INSTALLED = moto_version()
ACTIVE = [patch for patch in PATCHES if patch.applies_to(INSTALLED)]
FIXED_UPSTREAM = [patch for patch in PATCHES if not patch.applies_to(INSTALLED)]
# The patches the installed moto made obsolete that the floor still needs.
FLOOR_ONLY = [patch for patch in FIXED_UPSTREAM if patch.applies_to(FLOOR)]


def _reproduce(patch: MotoPatch, floor: bool = False) -> str:
    prefix = f"PYTHONPATH={FLOOR_DIR} " if floor else ""
    return prefix + " ".join([*COMMAND, "--patch", patch.name])


def _canaries(patches: list[MotoPatch], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The runner's JSON: {"moto": version, "seconds": ..., "results": {patch: {phase: outcome}}}."""
    command = [*COMMAND, *(argument for patch in patches for argument in ("--patch", patch.name))]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=environ)
    assert answer.returncode == 0, f"{' '.join(command)} failed:\n{answer.stderr[-4000:]}"
    run: dict[str, Any] = json.loads(answer.stdout)
    LOG.info("canaries of %d patches ran on moto %s in %.1f s", len(run["results"]), run["moto"], run["seconds"])
    return run


@pytest.fixture(scope="module")
def canary_run() -> dict[str, Any]:
    return _canaries(PATCHES)


@pytest.fixture(scope="module")
def floor_canary_run() -> dict[str, Any]:
    """The canaries of FLOOR_ONLY, with the floor's moto first on the path (moto's own dependencies are the
    venv's: the floor directory holds moto alone)."""
    installed = [d.version for d in distributions(path=[str(FLOOR_DIR)]) if d.metadata["Name"] == "moto"]
    assert installed == [FLOOR], (
        f"{FLOOR_DIR} should hold moto {FLOOR} (the supported range's floor), and holds {installed or 'nothing'}: "
        "run `make setup` (it installs requirements/moto-floor.lock there)"
    )
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(FLOOR_DIR), os.environ.get("PYTHONPATH")])),
    }
    run = _canaries(FLOOR_ONLY, environ)
    assert run["moto"] == FLOOR, f"the canaries imported moto {run['moto']}, not the floor's {FLOOR}"
    return run


def _symptoms(run: dict[str, Any], patch: MotoPatch, phase: str, floor: bool = False) -> list[dict[str, Any]]:
    result = run["results"].get(patch.name)
    assert result is not None, f"no canary ran for {patch.name}"
    outcome = result[phase]
    assert "error" not in outcome, (
        f"the canary of {patch.name} failed ({phase}) on moto {run['moto']}; reproduce with: "
        f"{_reproduce(patch, floor)}\n{outcome['error']}"
    )
    symptoms: list[dict[str, Any]] = outcome["symptoms"]
    assert symptoms, f"the canary of {patch.name} observes nothing: give it a symptom of the gap it patches"
    return symptoms


def _shown(symptoms: list[dict[str, Any]], present: bool) -> str:
    return "; ".join(f"{s['what']} (observed: {s['observed']})" for s in symptoms if s["present"] == present)


@pytest.mark.parametrize("patch", ACTIVE, ids=lambda p: p.name)
def test_the_gap_still_reproduces_where_its_patch_is_on(canary_run: dict[str, Any], patch: MotoPatch) -> None:
    symptoms = _symptoms(canary_run, patch, "unpatched")

    gone = _shown(symptoms, present=False)
    assert not gone, (
        f"patch {patch.name} may be obsolete: the gap no longer reproduces on moto {canary_run['moto']}: {gone}. "
        f'Reproduce with: {_reproduce(patch)}. If moto fixed all of it, record fixed_in="{canary_run["moto"]}" on '
        "the patch (it then stays on for older releases); if it fixed only part, split that part into a record of "
        "its own; then regenerate docs/backends.md (stackprobe compat --markdown)."
    )


@pytest.mark.parametrize("patch", ACTIVE, ids=lambda p: p.name)
def test_the_patch_fixes_what_its_canary_sees(canary_run: dict[str, Any], patch: MotoPatch) -> None:
    symptoms = _symptoms(canary_run, patch, "patched")

    left = _shown(symptoms, present=True)
    assert not left, f"with patch {patch.name}, the gap still shows: {left}. Reproduce with: {_reproduce(patch)}"


@pytest.mark.parametrize("patch", FIXED_UPSTREAM, ids=lambda p: p.name)
def test_the_gap_is_gone_where_its_patch_is_off(canary_run: dict[str, Any], patch: MotoPatch) -> None:
    symptoms = _symptoms(canary_run, patch, "unpatched")

    still = _shown(symptoms, present=True)
    assert not still, (
        f"patch {patch.name} is off on moto {canary_run['moto']} ({patch.status(canary_run['moto'])}), but the gap "
        f"still shows: {still}. Reproduce with: {_reproduce(patch)}; move its fixed_in to the release that fixes it."
    )


@pytest.mark.parametrize("patch", FLOOR_ONLY, ids=lambda p: p.name)
def test_a_patch_moto_made_obsolete_still_mends_the_floor(floor_canary_run: dict[str, Any], patch: MotoPatch) -> None:
    unpatched = _symptoms(floor_canary_run, patch, "unpatched", floor=True)
    patched = _symptoms(floor_canary_run, patch, "patched", floor=True)

    assert not _shown(unpatched, present=False), (
        f"on moto {FLOOR}, the gap {patch.name} mends does not reproduce: {_shown(unpatched, present=False)}. "
        f"Reproduce with: {_reproduce(patch, floor=True)}"
    )
    assert not _shown(patched, present=True), (
        f"on moto {FLOOR}, patch {patch.name} no longer mends its gap: {_shown(patched, present=True)}. "
        f"Reproduce with: {_reproduce(patch, floor=True)}"
    )
