"""When the plugin destroys the stack under test: right after the last test that uses it, in an xdist worker.

A worker runs the deployed-stack group and may then be given tests that reset the emulator; if the stack
lived until the session's end they would be refused ("Cannot reset the emulator: ... is deployed in it").
The hook is driven here with stand-in items, so each case is exact and costs no deploy.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stackprobe import pytest_plugin
from stackprobe.stack import TeardownReport

pytestmark = pytest.mark.harness


class StandInStack:
    def __init__(self, clean: bool = True) -> None:
        self.teardown_report: TeardownReport | None = None
        self.clean = clean
        self.teardowns = 0

    def teardown(self) -> TeardownReport:
        self.teardowns += 1
        self.teardown_report = TeardownReport(destroyed=self.clean, error="" if self.clean else "destroy failed")
        return self.teardown_report

    def failure_context(self) -> str:
        return "reproduce: ..."


def _config(stack: StandInStack, *, worker: bool, keep_stack: bool = False) -> Any:
    session = SimpleNamespace(settings=SimpleNamespace(keep_stack=keep_stack), stack=lambda spec: stack)
    config = SimpleNamespace(stash={pytest_plugin.SESSION_KEY: session})
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


@pytest.fixture(autouse=True)
def any_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_plugin, "_spec", lambda config: "spec")


def test_the_last_user_in_a_worker_destroys_the_stack_before_the_next_test() -> None:
    stack = StandInStack()
    config = _config(stack, worker=True)

    _teardown(_item(config, "deployed_stack"), _item(config, "deployed_stack"))
    assert stack.teardowns == 0, "destroyed while a later test still reads it"
    _teardown(_item(config, "deployed_stack"), _item(config, "stacks"))
    assert stack.teardowns == 1


@pytest.mark.parametrize(
    ("worker", "keep_stack", "next_fixtures"),
    [
        (False, False, ("stacks",)),  # no xdist: the deploying tests run last, the session's end destroys
        (True, True, ("stacks",)),  # --stackprobe-keep-stack
        (True, False, None),  # the worker's last test: the session's end is next anyway
    ],
)
def test_otherwise_the_stack_lives_on(worker: bool, keep_stack: bool, next_fixtures: tuple[str, ...] | None) -> None:
    stack = StandInStack()
    config = _config(stack, worker=worker, keep_stack=keep_stack)
    nextitem = _item(config, *next_fixtures) if next_fixtures is not None else None

    _teardown(_item(config, "deployed_stack"), nextitem)
    assert stack.teardowns == 0


def test_an_unclean_early_teardown_fails_the_test_it_follows() -> None:
    stack = StandInStack(clean=False)
    config = _config(stack, worker=True)

    with pytest.raises(pytest.fail.Exception, match="destroy failed"):
        _teardown(_item(config, "deployed_stack"), _item(config, "stacks"))
