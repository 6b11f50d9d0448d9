"""When the plugin ends the stack under test: right after the last test that uses it, in an xdist worker.

A worker runs the deployed-stack group and may then be given tests that reset the emulator; if the stack
lived until the session's end they would be refused ("Cannot reset the emulator: ... is deployed in it").
Ending is the stack's own business (destroy, or keep for a live session): the hook only says when.
It is driven here with stand-in items and a stand-in stack, so each case is exact and costs no deploy.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe import pytest_plugin
from stackprobe.aws.inventory import TeardownReport
from stackprobe.lifecycle.deployment import StackMode
from stackprobe.lifecycle.ending import Ending, KeptStack
from stackprobe.settings import StackSpec

pytestmark = pytest.mark.harness


class StandInStack:
    """Ends as a StackRun does: once, destroying (ephemeral) or not (kept); its deployment is applied."""

    def __init__(self, mode: StackMode = StackMode.EPHEMERAL, clean: bool = True) -> None:
        self.mode = mode
        self.clean = clean
        self.ending: Ending | None = None
        self.destroys = 0
        self.armed = True

    def current(self) -> StandInStack:
        return self

    def end(self) -> Ending:
        if self.ending is None:
            if self.mode == StackMode.KEPT:
                self.ending = KeptStack(StackSpec(Path("/stack")), "http://127.0.0.1:1", Path("/work"))
            else:
                self.destroys += 1
                self.ending = TeardownReport(destroyed=self.clean, error="" if self.clean else "destroy failed")
        return self.ending

    def failure_context(self) -> str:
        return "reproduce: ..."


def _config(stack: StandInStack, *, worker: bool) -> Any:
    config = SimpleNamespace(stash={pytest_plugin.STATE_KEY: pytest_plugin._State(stack_run=stack)})  # type: ignore[arg-type]
    if worker:
        config.workerinput = {"workerid": "gw0"}
    return config


def _item(config: Any, *fixtures: str) -> Any:
    return SimpleNamespace(config=config, fixturenames=list(fixtures))


def _teardown(item: Any, nextitem: Any) -> None:
    hook = pytest_plugin.pytest_runtest_teardown(item, nextitem)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(None)


def test_the_last_user_in_a_worker_ends_the_stack_before_the_next_test() -> None:
    stack = StandInStack()
    config = _config(stack, worker=True)

    _teardown(_item(config, "deployed_stack"), _item(config, "check_context"))
    assert stack.destroys == 0, "destroyed while a later test still reads it"
    _teardown(_item(config, "check_context"), _item(config, "stacks"))
    assert stack.destroys == 1 and isinstance(stack.ending, TeardownReport)


@pytest.mark.parametrize(
    ("worker", "next_fixtures"),
    [
        (False, ("stacks",)),  # no xdist: the deploying tests run last, the session's end ends the stack
        (True, None),  # the worker's last test: the session's end is next anyway
    ],
)
def test_otherwise_the_stack_lives_on(worker: bool, next_fixtures: tuple[str, ...] | None) -> None:
    stack = StandInStack()
    config = _config(stack, worker=worker)
    nextitem = _item(config, *next_fixtures) if next_fixtures is not None else None

    _teardown(_item(config, "deployed_stack"), nextitem)
    assert stack.ending is None


def test_a_kept_stack_is_ended_as_kept_never_destroyed() -> None:
    """--stackprobe-reuse / --keep-stack: the early end records the live session and leaves it running."""
    stack = StandInStack(mode=StackMode.KEPT)
    config = _config(stack, worker=True)

    _teardown(_item(config, "deployed_stack"), _item(config, "stacks"))
    assert stack.destroys == 0 and isinstance(stack.ending, KeptStack)


def test_an_unclean_early_teardown_fails_the_test_it_follows() -> None:
    stack = StandInStack(clean=False)
    config = _config(stack, worker=True)

    with pytest.raises(pytest.fail.Exception, match="destroy failed"):
        _teardown(_item(config, "deployed_stack"), _item(config, "stacks"))
