"""How a deployment ended: destroyed and proven gone (a TeardownReport), kept for a live session, or discarded
with the emulator it lived in. Every reader of an ending renders it; none has to ask how it ended."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from stackprobe.aws.inventory import TeardownReport
from stackprobe.settings import StackSpec


@dataclass(frozen=True)
class KeptStack:
    """How a kept stack ended: still deployed, with the commands to attach to it and to stop it."""

    spec: StackSpec
    endpoint: str
    work_dir: Path

    def render(self) -> str:
        return (
            f"Kept running: {self.spec.name} on {self.endpoint} (workspace {self.work_dir}).\n"
            f"  attach:  pytest --stackprobe-reuse   or   stackprobe verify {self.spec.cli_arguments()} --reuse\n"
            f"  status:  stackprobe status {self.spec.tf_dir}\n"
            f"  stop:    stackprobe down {self.spec.cli_arguments()}"
        )


# Why a deployment in an emulator the run discards was not destroyed (DiscardedStack.reason).
TEARDOWN_NOT_ASKED = "the teardown proof, lifecycle.clean-teardown, was not asked for"
PREREQUISITES_GIVEN = (
    "prerequisites: what the stack was given, not what it created; lifecycle.clean-teardown proves the stack's "
    "own teardown, from an inventory taken after they were applied"
)


@dataclass(frozen=True)
class DiscardedStack:
    """How a discarded stack ended: not destroyed, because its emulator ends with the run."""

    spec: StackSpec
    reason: str = TEARDOWN_NOT_ASKED

    def render(self) -> str:
        return f"Not destroyed: {self.spec.name} goes with the emulator this run started and stops ({self.reason})."


Ending = TeardownReport | KeptStack | DiscardedStack


def absorb(report: Ending, prerequisite: Ending) -> Ending:
    """The stack's report with a prerequisites configuration's ending folded in (one report per stack under test):
    a new report, so that asking again (a run's close asks for endings given earlier) folds nothing in twice. A kept
    or discarded stack's ending stays what it is; a stack's report says its prerequisites were discarded."""
    if isinstance(report, TeardownReport) and isinstance(prerequisite, DiscardedStack):
        return replace(report, notes=[*report.notes, prerequisite.render()])
    if not isinstance(report, TeardownReport) or not isinstance(prerequisite, TeardownReport):
        return report
    return replace(
        report,
        destroyed=report.destroyed and prerequisite.destroyed,
        error=report.error or (f"prerequisites: {prerequisite.error}" if prerequisite.error else ""),
        leftovers={
            **report.leftovers,
            **{f"{kind} (prerequisites)": items for kind, items in prerequisite.leftovers.items()},
        },
        seconds=report.seconds + prerequisite.seconds,
        lifted=[*report.lifted, *(f"{lifted} (prerequisites)" for lifted in prerequisite.lifted)],
    )
