"""One stack under test, from its settings to its end: the flow every verb and the pytest plugin share.

`StackRun` opens what the run needs on first use (the emulator, the stack's workspace, its plan, its
deployment) and ends it when closed, whatever happened in between. What the end is depends on the
lifetime, a strategy chosen from the settings:
- `Ephemeral` (the default): an emulator of this run's own; the stack is destroyed and the emulator
  proven to hold nothing it created (or, when nobody asked for that proof and the emulator is this
  process's own, discarded with it);
- `Live` (--keep-stack, --reuse / --stackprobe-reuse, `stackprobe up`): the stack lives in a live session
  on a detached emulator; it is attached to when one runs (an unchanged configuration runs no terraform,
  a changed one an incremental apply) or started, and left running.
Callers ask for what they need (`plan_json`, `deploy`, `drift`) and call `close()` (or use `with`); they
never decide which emulator or which deployment: the strategy does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stackprobe.lifecycle.deployment import DeployedStack, Deployment
from stackprobe.lifecycle.ending import TEARDOWN_NOT_ASKED, Ending
from stackprobe.lifecycle.live import LiveSessionError, LiveSessions, OpenedLive, open_live
from stackprobe.lifecycle.plan_store import PlanStore
from stackprobe.lifecycle.run import Run
from stackprobe.settings import Lifetime, RunSettings, StackSpec
from stackprobe.terraform.drift import DriftReport
from stackprobe.terraform.plan import Plan


@dataclass
class RunContext:
    """What a stack run is given besides its spec and settings."""

    work_root: Path
    on_output: Callable[[str], None] | None = None
    say: Callable[[str], None] = field(default=lambda message: None)
    # False when the workspaces go with the run (the CLI's temporary directory).
    workspaces_outlive_run: bool = True
    # Whether the caller holds the live session already (the pytest controller does, for its workers).
    session_held: bool = False
    # What the run is for, in the live session's lock (`verify --keep`, `pytest`, `up`).
    purpose: str = "verify"
    # Keep the emulator's own stack instead of destroying it, when nobody asked for the teardown proof.
    discard_unproven: bool = False


class Strategy(Protocol):
    """A lifetime: where the stack is deployed, and what its end is."""

    run: Run
    notes: list[str]

    def deployment(self) -> Deployment: ...

    def made(self) -> Deployment | None: ...

    def drift(self, deployment: Deployment) -> DriftReport: ...

    def close(self) -> None: ...


class Ephemeral:
    """The run's own emulator; the stack is destroyed at its end (see the module docstring)."""

    def __init__(self, spec: StackSpec, settings: RunSettings, context: RunContext, run: Run | None = None) -> None:
        self.spec = spec
        plans = PlanStore(settings.plan_store) if settings.plan_store is not None else None
        # A caller's own run (stackprobe parity starts both emulators before either verifies), or one made here.
        self.run = run or Run(
            settings,
            context.work_root,
            context.on_output,
            plans=plans,
            workspaces_outlive_run=context.workspaces_outlive_run,
        )
        self.context = context
        self.notes: list[str] = []
        self._deployment: Deployment | None = None

    def deployment(self) -> Deployment:
        if self._deployment is None:
            placement = self.run.place(self.spec)
            deployment = placement.deployment
            if placement.deferral is not None:
                self.notes.append(placement.deferral.describe())
            if self.context.discard_unproven and (placement.deferral is not None or self.run.discards_emulator):
                # Nobody asked for the teardown proof, and the emulator goes with the run: no destroy needed.
                deployment.discard(TEARDOWN_NOT_ASKED)
            self._deployment = deployment
        return self._deployment

    def made(self) -> Deployment | None:
        return self._deployment

    def drift(self, deployment: Deployment) -> DriftReport:
        return deployment.second_plan()[1]

    def close(self) -> None:
        """Nothing beyond the run's own close: the live strategy's lock has no counterpart here."""


class Live:
    """The stack in a live session on a detached emulator, attached to or started, and left running."""

    def __init__(self, spec: StackSpec, settings: RunSettings, context: RunContext, *, start_only: bool) -> None:
        self.spec = spec
        self.context = context
        self.notes: list[str] = []
        self._hold = contextlib.ExitStack()
        sessions = LiveSessions(settings.cache_dir)
        try:
            if not context.session_held:
                self._hold.enter_context(sessions.hold(spec, context.purpose))
            if start_only and sessions.load(spec) is not None:
                raise LiveSessionError(
                    f"A live session of {spec.name} already runs",
                    f"attach to it (`pytest --stackprobe-reuse`, `stackprobe verify ... --reuse`), see it with "
                    f"`stackprobe status`, or end it with `stackprobe down {spec.cli_arguments()}`.",
                )
            self.opened: OpenedLive = open_live(
                spec, settings, context.work_root, create=True, on_output=context.on_output, say=context.say
            )
        except BaseException:
            self._hold.close()
            raise
        self.run = self.opened.run
        self.notes.append(f"Live session: {self.opened.how}.")

    def deployment(self) -> Deployment:
        return self.opened.deployment

    def made(self) -> Deployment | None:
        return self.opened.deployment

    def drift(self, deployment: Deployment) -> DriftReport:
        return self.opened.drift()

    def close(self) -> None:
        self._hold.close()


def strategy_for(spec: StackSpec, settings: RunSettings, context: RunContext, *, start_only: bool = False) -> Strategy:
    if settings.lifetime == Lifetime.EPHEMERAL and not start_only:
        return Ephemeral(spec, settings, context)
    return Live(spec, settings, context, start_only=start_only)


class StackRun:
    """See the module docstring. `close()` ends the stack as its lifetime says and returns how it ended."""

    def __init__(self, spec: StackSpec, strategy: Strategy) -> None:
        self.spec = spec
        self.strategy = strategy
        self.ending: Ending | None = None

    @classmethod
    def open(cls, spec: StackSpec, settings: RunSettings, context: RunContext, *, start_only: bool = False) -> StackRun:
        return cls(spec, strategy_for(spec, settings, context, start_only=start_only))

    def __enter__(self) -> StackRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def run(self) -> Run:
        return self.strategy.run

    @property
    def notes(self) -> list[str]:
        return self.strategy.notes

    def plan_json(self) -> Plan:
        """The pre-apply plan (a live session's last one, or this run's, from the plan store when it can)."""
        if isinstance(self.strategy, Live):
            return self.strategy.opened.deployed.plan
        return self.run.prepared(self.spec).plan_json()

    def deployment(self) -> Deployment:
        return self.strategy.deployment()

    def current(self) -> Deployment | None:
        """The deployment, if the run got as far as making one (asking never starts anything)."""
        return self.strategy.made()

    def failure_context(self, exc: BaseException, command: str) -> str:
        """The failure with what a user needs to act on it, from as far as the run got."""
        deployment = self.current()
        if deployment is not None:
            return deployment.failure_context(exc, command)
        prepared = self.run.prepared_if_made(self.spec)
        return prepared.failure_context(exc, command) if prepared is not None else str(exc)

    def deploy(self) -> DeployedStack:
        return self.deployment().apply()

    def drift(self) -> DriftReport:
        return self.strategy.drift(self.deployment())

    def end(self) -> Ending:
        """End the stack as its lifetime says, once (a later call returns the same)."""
        if self.ending is None:
            self.ending = self.run.end(self.spec)
        return self.ending

    def close(self) -> list[tuple[StackSpec, Ending]]:
        """End whatever is still deployed, stop what the run started, release the live session."""
        try:
            return self.run.close()
        finally:
            self.strategy.close()
