"""Repository-level pytest configuration.

The stackprobe plugin itself is registered through the `pytest11` entry point (see pyproject.toml);
this file only holds what is specific to this repository's own test suite.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
