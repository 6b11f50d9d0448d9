"""Each patch's gap still reproduces on an unpatched moto, and the patches fix what the canaries see.

The canaries run in one subprocess per session (`python -m stackprobe.backends.compat.canaries`): it
reproduces every gap on an unpatched moto, then applies the patches and runs them again. Never in this
process: patches are process-wide, and this process (or a stack another test deployed in it) must keep
its patched moto. When moto fixes a gap upstream, that patch's unpatched test fails and says the patch
may be obsolete; when a patch stops fixing what its canary sees, its patched test fails.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest

from stackprobe.backends.compat import PATCHES, MotoPatch

# One group, so that under xdist a single worker runs the subprocess once for every test here.
pytestmark = [pytest.mark.harness, pytest.mark.xdist_group("compat-canaries")]

LOG = logging.getLogger(__name__)
COMMAND = [sys.executable, "-m", "stackprobe.backends.compat.canaries"]


def _reproduce(patch: MotoPatch) -> str:
    return " ".join([*COMMAND, "--patch", patch.name])


@pytest.fixture(scope="module")
def canary_run() -> dict[str, Any]:
    """The runner's JSON: {"moto": version, "seconds": ..., "results": {patch: {phase: outcome}}}."""
    answer = subprocess.run(COMMAND, capture_output=True, text=True, timeout=600, check=False)
    assert answer.returncode == 0, f"{' '.join(COMMAND)} failed:\n{answer.stderr[-4000:]}"
    run: dict[str, Any] = json.loads(answer.stdout)
    LOG.info("canaries of %d patches ran on moto %s in %.1f s", len(run["results"]), run["moto"], run["seconds"])
    return run


def _outcome(run: dict[str, Any], patch: MotoPatch, phase: str) -> list[dict[str, Any]]:
    result = run["results"].get(patch.name)
    assert result is not None, f"no canary ran for {patch.name}"
    outcome = result[phase]
    assert "error" not in outcome, (
        f"the canary of {patch.name} failed ({phase}); reproduce with: {_reproduce(patch)}\n{outcome['error']}"
    )
    symptoms: list[dict[str, Any]] = outcome["symptoms"]
    return symptoms


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_the_gap_still_reproduces_without_its_patch(canary_run: dict[str, Any], patch: MotoPatch) -> None:
    symptoms = _outcome(canary_run, patch, "unpatched")

    assert symptoms, f"the canary of {patch.name} observes nothing: give it a symptom of the gap it patches"
    gone = [f"{s['what']} (observed: {s['observed']})" for s in symptoms if not s["present"]]
    assert not gone, (
        f"patch {patch.name} may be obsolete: the gap no longer reproduces on moto {canary_run['moto']}: "
        + "; ".join(gone)
        + f". Reproduce with: {_reproduce(patch)}; if moto fixed it, remove the patch, or narrow its moto_versions."
    )


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_the_patch_fixes_what_its_canary_sees(canary_run: dict[str, Any], patch: MotoPatch) -> None:
    if not patch.applies_to(canary_run["moto"]):
        pytest.skip(f"{patch.name} does not apply to moto {canary_run['moto']} (it covers {patch.moto_versions})")
    symptoms = _outcome(canary_run, patch, "patched")

    left = [f"{s['what']} (observed: {s['observed']})" for s in symptoms if s["present"]]
    assert not left, (
        f"with patch {patch.name}, the gap still shows: " + "; ".join(left) + f". Reproduce with: {_reproduce(patch)}"
    )
