"""Generated documents stay in step with the records they are generated from."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.backends.compat import KNOWN_GAPS, PATCHES
from stackprobe.report.backends_doc import render

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]


def test_backends_doc_is_generated_from_the_records() -> None:
    committed = (REPO / "docs" / "backends.md").read_text()
    assert committed == render(REPO / "terraform"), (
        "docs/backends.md is stale; regenerate it with: .venv/bin/stackprobe compat --markdown > docs/backends.md"
    )


def test_every_patch_and_gap_is_in_the_table() -> None:
    text = (REPO / "docs" / "backends.md").read_text()
    missing = [p.name for p in PATCHES if f"`{p.name}`" not in text] + [
        g.name for g in KNOWN_GAPS if f"`{g.name}`" not in text
    ]
    assert not missing, missing


def test_every_patch_has_its_own_test() -> None:
    """Each patch is listed in the COVERS of a test module that exercises it."""
    tests = "\n".join(p.read_text() for p in (REPO / "tests" / "harness").glob("test_compat_*.py"))
    untested = [p.name for p in PATCHES if f'"{p.name}"' not in tests]
    assert not untested, f"patches without a test naming them or their module: {untested}"
