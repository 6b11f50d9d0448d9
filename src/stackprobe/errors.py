"""Errors a user can act on.

Every error the harness raises on bad input says three things in one paragraph: what went wrong,
the evidence, and the remedy. The CLI and the pytest plugin print `str(error)` and nothing else, so
the message is the whole user interface for a failure.
"""

from __future__ import annotations


class StackprobeError(Exception):
    """A failure with a remedy. Subclasses name the kind of failure; the text says how to fix it."""

    def __init__(self, problem: str, remedy: str, detail: str = "") -> None:
        self.problem = problem
        self.remedy = remedy
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.problem.rstrip(".") + "."
        if self.detail:
            text += f" {self.detail.strip()}"
        return f"{text} Remedy: {self.remedy}"


class InputError(StackprobeError):
    """The user's own input names what does not exist (a container, a check): the run is NOT RUN (exit 2)
    wherever it is found, after an apply too (which is then destroyed, as always)."""


class NotExercisable(RuntimeError):
    """The emulator cannot exercise what a check would prove; judging now would judge the emulator.

    Raised from inside a check or a probe it runs; the check's result becomes SKIPPED, of kind
    "not exercisable", with this message.
    """


class NotApplicable(RuntimeError):
    """Nothing this check inspects can be judged here, and the reader needs to know why and what would change
    that (e.g. "container api is not configured: --container api=COMMAND"). Raised from inside a check; the
    result is NOT APPLICABLE with this message, never a pass.
    """


class TerraformNotFound(StackprobeError):
    """The terraform (or tofu) binary is missing or unusable."""


class ProviderUnavailable(StackprobeError):
    """Neither a provider mirror nor a reachable registry can supply the providers."""


class TerraformFailed(StackprobeError):
    """A terraform command exited non-zero; `output` keeps the full transcript."""

    def __init__(self, problem: str, remedy: str, detail: str = "", output: str = "") -> None:
        self.output = output
        super().__init__(problem, remedy, detail)


class TerraformTimeout(TerraformFailed):
    """A terraform command ran past its timeout and was stopped."""


class BackendError(StackprobeError):
    """The emulator could not start, or stopped answering."""


class RealAwsRefused(StackprobeError):
    """The run is not pinned to a local emulator, so it must not start."""


class MotoShapeChanged(StackprobeError):
    """The installed moto lacks a module, class, attribute or method a compatibility patch changes."""
