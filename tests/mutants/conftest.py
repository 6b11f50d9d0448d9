"""Mutants change the deployed stack, so they run after every other test that reads it."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after the stackprobe plugin has moved the deploying tests last
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("mutants") is not None)
