"""Plan-level fixtures: every scenario tfvars planned once per session, in parallel.

Each plan is a separate terraform process that mostly waits on the provider; planning the seven
scenarios concurrently (one workspace each, one shared init) costs little more than the slowest one.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from scenario_specs import SCENARIOS, scenario_spec

from stackprobe.session import StackSession
from stackprobe.terraform.plan import Plan
from stackprobe.testing import BACKGROUND_NICENESS

PARALLEL_PLANS = 4


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One xdist worker plans the scenarios; spread over several, each would plan all seven.
    for item in items:
        if "scenario_plans" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("scenario-plans"))


@pytest.fixture(scope="session")
def scenario_plans(stacks: StackSession) -> dict[str, Plan]:
    """Scenario name → its pre-apply plan."""
    specs = {name: scenario_spec(name) for name in SCENARIOS}
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Beside the deployed stack (whose chain of applies is the session's length), this worker's
        # seven plans would take the cores it needs at start-up: they yield instead, and their
        # terraform processes inherit it. The worker only ever runs tests nobody waits on after this.
        os.nice(BACKGROUND_NICENESS)
    # Prepare (copy + init) one after another: the first init fills the shared cache the rest reuse.
    for spec in specs.values():
        stacks.stack(spec).prepare()
    # These tests only read the plans, so a plan another process of the run is computing (the deployed
    # stack's worker plans prod, the parity run localstack-community) is waited for, not recomputed;
    # those go last, so that the wait overlaps this worker's own plans.
    order = sorted(specs, key=lambda name: stacks.plan_in_progress_elsewhere(specs[name]))
    with ThreadPoolExecutor(max_workers=PARALLEL_PLANS) as pool:
        futures = {name: pool.submit(stacks.plan, specs[name], shared=True) for name in order}
        return {name: futures[name].result() for name in SCENARIOS}
