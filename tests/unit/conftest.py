"""Plan-level fixtures: every scenario tfvars planned once per session, in parallel, or read.

A plan whose configuration, variables and tools are unchanged is read from the plan store (a second
`pytest -m unit` runs no terraform). The others are separate terraform processes that mostly wait on
the provider; planning them concurrently (one workspace each, one shared init) costs little more than
the slowest one.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from scenario_specs import SCENARIOS, scenario_spec

from stackprobe.lifecycle.run import Run
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
def scenario_plans(stacks: Run) -> dict[str, Plan]:
    """Scenario name → its pre-apply plan."""
    # Beside the deployed stack (whose chain of applies is the session's length), these seven plans would
    # take the cores it needs at start-up: under xdist their terraform processes yield instead. Only they
    # do: the worker itself keeps its priority for whatever tests it runs next.
    niceness = BACKGROUND_NICENESS if os.environ.get("PYTEST_XDIST_WORKER") else 0
    scenarios = {name: stacks.prepared(scenario_spec(name), niceness=niceness) for name in SCENARIOS}
    # Prepare (copy + init) one after another: the first init fills the shared cache the rest reuse.
    # A plan the store already holds needs neither.
    for stack in scenarios.values():
        if stack.how.plans is None or stack.how.plans.published(stack.plan_key()) is None:
            stack.runner()
    # These tests only read the plans, so a plan another process of the run is computing (the deployed
    # stack's worker plans prod, the parity run localstack-community) is waited for, not recomputed;
    # those go last, so that the wait overlaps this worker's own plans.
    order = sorted(scenarios, key=lambda name: scenarios[name].plan_in_progress_elsewhere())
    with ThreadPoolExecutor(max_workers=PARALLEL_PLANS) as pool:
        futures = {name: pool.submit(scenarios[name].plan_json) for name in order}
        plans = {name: futures[name].result() for name in SCENARIOS}
    # What the plans read (image-classifier's existing VPC) ends now: left deployed, it would refuse the
    # emulator to the tests this worker runs next that need it empty (in the embedded emulator it is not
    # destroyed: their reset empties it).
    deployed = {deployment.spec for deployment in stacks.deployed()}
    for name in SCENARIOS:
        prerequisites = scenario_spec(name).prerequisites
        if prerequisites in deployed:
            stacks.end(prerequisites)
    return plans
