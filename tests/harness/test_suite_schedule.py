"""The order in which `make test`'s xdist workers take this suite's groups (the repository's conftest.py).

The scheduler is driven here with stand-in workers, as xdist's controller drives it: every worker reports
the same collection, then the controller asks for the initial distribution and reports tests as done.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]


def _repository_conftest() -> ModuleType:
    """The repository's conftest.py, by its path: under xdist, `import conftest` may name another directory's."""
    spec = importlib.util.spec_from_file_location("repository_conftest", REPO / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conftest = _repository_conftest()


class _Worker:
    """What the scheduler sees of an xdist worker: the tests it was sent, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent += indexes

    def shutdown(self) -> None:
        self.shutting_down = True


class _Config:
    option = SimpleNamespace(loadscopereorder=True)

    def __init__(self, workers: int) -> None:
        self.values = {"dist": "loadgroup", "tx": [f"{workers}*popen"]}

    def getvalue(self, name: str) -> Any:
        return self.values[name]


def _scheduled(collection: list[str], workers: int) -> tuple[Any, list[_Worker]]:
    scheduler = conftest.pytest_xdist_make_scheduler(_Config(workers), None)
    nodes = [_Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    return scheduler, nodes


def _groups(collection: list[str], node: _Worker) -> list[str]:
    """The work units a worker was sent, in order (a group by its name, a module by its path)."""
    units: list[str] = []
    for index in node.sent:
        unit = conftest.unit_of(collection[index])
        if not units or units[-1] != unit:
            units.append(unit)
    return units


COLLECTION = [
    # xdist's own order puts the group with the most tests first; the long ones here have few.
    *[f"tests/harness/test_many.py::test_{i}@many-short" for i in range(30)],
    "tests/integration/test_legacy_audits.py::test_a@legacy-audits",
    "tests/integration/test_legacy_audits.py::test_b@legacy-audits",
    "tests/integration/test_lookalike_repositories.py::test_a@lookalike-repositories",
    "tests/integration/test_datastores_example.py::test_a@datastores-example",
    *[f"tests/harness/test_lone.py::test_{i}" for i in range(6)],
    *[f"tests/harness/test_other.py::test_{i}[case]" for i in range(2)],
]


def test_the_long_groups_start_first_each_on_a_worker_of_its_own() -> None:
    _, nodes = _scheduled(COLLECTION, 3)
    first = [_groups(COLLECTION, node)[0] for node in nodes]
    assert first == ["legacy-audits", "datastores-example", "lookalike-repositories"]


def test_a_worker_busy_with_a_long_group_is_handed_only_short_work_behind_it() -> None:
    _, nodes = _scheduled(COLLECTION, 3)
    long_groups = {name for name in conftest.EXPECTED_SECONDS}
    for node in nodes:
        units = _groups(COLLECTION, node)
        assert not long_groups & set(units[1:]), f"{node.name} was sent {units}: a long group waits behind another"


def test_without_the_table_the_order_is_xdists() -> None:
    """The comparison the scheduler exists for: with no figures, the many short tests' group goes first."""
    saved = dict(conftest.EXPECTED_SECONDS)
    conftest.EXPECTED_SECONDS.clear()
    try:
        _, nodes = _scheduled(COLLECTION, 3)
    finally:
        conftest.EXPECTED_SECONDS.update(saved)
    assert _groups(COLLECTION, nodes[0])[0] == "many-short"


def test_a_module_outside_any_group_is_one_unit() -> None:
    """Its module-scoped fixtures run once, on one worker, not once on every worker that got one of its tests."""
    _, nodes = _scheduled(COLLECTION, 3)
    holders = [node.name for node in nodes if "tests/harness/test_lone.py" in _groups(COLLECTION, node)]
    assert len(holders) == 1, f"tests/harness/test_lone.py was split over {holders}"


def test_every_name_in_the_table_is_a_group_or_a_module_of_this_suite() -> None:
    """A renamed group or module would silently lose its place at the front."""
    groups = {"stackprobe-deployed-stack"}  # the plugin's own group for tests that use the deployed stack
    modules: set[str] = set()
    for path in (REPO / "tests").rglob("*.py"):
        groups |= set(re.findall(r'xdist_group\(\s*"([^"]+)"', path.read_text(encoding="utf-8")))
        modules.add(path.relative_to(REPO).as_posix())
    unknown = [name for name in conftest.EXPECTED_SECONDS if name not in groups | modules]
    assert unknown == [], f"conftest.EXPECTED_SECONDS names what this suite does not have: {unknown}"
