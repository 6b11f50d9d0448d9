"""Repository-level pytest configuration.

The stackprobe plugin itself is registered through the `pytest11` entry point (see pyproject.toml);
this file only holds what is specific to this repository's own test suite: the order in which
`make test`'s xdist workers take its groups.
"""

from __future__ import annotations

from typing import Any

import pytest

# The suite's long work units, with the seconds each took on one worker of a fresh clone's `CI=true bash .ci/run`
# (2026-12-07, evening, 332e404, four workers on two cores; scenario-plans from the run before, whose plan store
# was cold): an xdist group by its name, a test module outside any group by its path. Most of that time is
# waiting on the provider's fixed waits (a database, a load balancer) in subprocesses, not CPU, so what matters
# is that no worker takes two of them in a row while another sits idle. Unlisted units count as short.
EXPECTED_SECONDS: dict[str, int] = {
    "stackprobe-deployed-stack": 648,
    "localstack": 509,
    "legacy-audits": 506,
    "datastores-example": 446,
    "lookalike-repositories": 406,
    "corpus": 332,
    "prerequisites": 274,
    "live-sessions": 233,
    "tests/harness/test_failures.py": 180,
    "quickstart-example": 172,
    "legacy-baseline": 158,
    "tests/harness/test_external_dependencies.py": 110,
    "scenario-plans": 83,
    "tests/harness/checks/test_partial_audit.py": 83,
    "host-project": 57,
    "tests/harness/test_stand_ins.py": 55,
    "tests/harness/test_compat_ecs_on_ec2.py": 55,
    "tests/harness/test_provider_fallback.py": 49,
    "tests/harness/checks/test_checks_health.py": 45,
    "tests/harness/checks/test_checks_keepalive.py": 37,
}


def unit_of(nodeid: str) -> str:
    """The work unit a test belongs to: its xdist group, else its module (whose fixtures then run once)."""
    if nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.split("@")[-1]
    return nodeid.split("::")[0]


def expected_seconds(unit: str) -> int:
    return EXPECTED_SECONDS.get(unit, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` with three changes: a test outside any group goes with its module, the longest
    units go first, and a worker busy with a long unit prefetches only a short one.

    xdist's own order is by the number of tests in a unit, and each worker is handed a second unit before it
    starts its first; both put long groups behind each other on one worker (one worker ran 1,582 s while the
    other three finished near 1,030 s). Longest-processing-time-first is the classic greedy bound. And with a
    unit per test, a module's module-scoped fixture ran once on every worker that got one of its tests (the
    keep-alive checks' servers, four times 35 s).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling  # type: ignore[import-untyped]

    class LongestFirst(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not getattr(self, "_ordered", False):
                order = sorted(self.workqueue, key=expected_seconds, reverse=True)
                for scope in reversed(order):
                    self.workqueue.move_to_end(scope, last=False)
                self._ordered = True
            busy = any(
                expected_seconds(scope) and not all(unit.values())
                for scope, unit in self.assigned_work.get(node, {}).items()
            )
            if busy:
                # Only something short waits behind a long unit: the last (shortest) of the queue.
                self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)
