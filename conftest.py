"""Repository-level pytest configuration.

The stackprobe plugin itself is registered through the `pytest11` entry point (see pyproject.toml);
this file only holds what is specific to this repository's own test suite: the order in which
`make test`'s xdist workers take its groups.
"""

from __future__ import annotations

from typing import Any

import pytest

# The suite's long xdist groups and test files, with the seconds each took on one worker of a fresh clone's
# `CI=true bash .ci/run` (2026-12-07, four workers on two cores). Most of that time is waiting on the
# provider's fixed waits (a database, a load balancer) in subprocesses, not CPU, so what matters is that
# no worker takes two of them in a row while another sits idle. A test outside any group is its own unit,
# named by its node id (here, the start of it). Unlisted groups and tests count as short.
EXPECTED_SECONDS: dict[str, int] = {
    "stackprobe-deployed-stack": 677,
    "legacy-audits": 554,
    "corpus": 384,
    "localstack": 366,
    "lookalike-repositories": 353,
    "scenario-plans": 294,
    "datastores-example": 279,
    "live-sessions": 208,
    "legacy-baseline": 178,
    "prerequisites": 169,
    "quickstart-example": 107,
    "host-project": 58,
    "tests/harness/test_external_dependencies.py::test_with_stand_ins_off_an_own_account_certificate": 99,
    "tests/harness/checks/test_partial_audit.py::test_a_stack_whose_https_listener_fails": 76,
}


def expected_seconds(scope: str) -> int:
    """What one xdist work unit (a group, or a test outside any) is expected to take."""
    return next((seconds for name, seconds in EXPECTED_SECONDS.items() if scope.startswith(name)), 0)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`, longest work first, and a worker busy with a long unit prefetches a short one.

    xdist's own order is by the number of tests in a group, and each worker is handed a second unit before
    it starts its first; both put long groups behind each other on one worker (one worker ran 1,582 s while
    the other three finished near 1,030 s). Longest-processing-time-first is the classic greedy bound.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling  # type: ignore[import-untyped]

    class LongestFirst(LoadGroupScheduling):  # type: ignore[misc]
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
