"""The backends a run can start, by name, with what each can do: the one place a backend's name is compared.

A `BackendKind` is a factory (it starts an emulator from an `EmulatorRequest`) plus capability flags the
rest of the harness asks instead of comparing names: whether it runs in this process (its request log is
readable, it is emptied and stopped with the run), whether stackprobe's moto compatibility records apply
to it (patches, known drift, emulator limitations), whether it can keep a stack between runs (live
sessions), and which kind applies what it does not serve.

Adding a backend is one module with a `start(request) -> Emulator` function and one `BackendKind` line in
`KINDS`; `--backend` / `--stackprobe-backend` then offer it, and docs/backends.md lists it.

Importing this module imports no backend: each factory is named by its module and function, imported when
a run starts one, so the CLI's option list and the plugin cost nothing at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackprobe.errors import StackprobeError

if TYPE_CHECKING:  # at run time only `start` needs them, through the factory it imports
    from stackprobe.backends.base import Emulator, EmulatorRequest


@dataclass(frozen=True)
class BackendKind:
    """One startable backend and what it can do."""

    name: str
    summary: str
    # "module:function", the function taking an EmulatorRequest and returning a started Emulator.
    factory: str
    # Runs inside this process: its request log is readable while terraform runs, and the emulator (with
    # everything in it) ends with the run that started it.
    in_process: bool
    # stackprobe's moto patches, known drift and recorded limitations apply to it.
    moto_compatibility: bool
    # A stack on it can be kept between runs in a live session (a detached server of the same kind).
    live_sessions: bool
    # The kind that applies what this one does not serve (None: it serves everything the harness uses).
    fallback: str | None = None

    def start(self, request: EmulatorRequest) -> Emulator:
        module, function = self.factory.split(":")
        start: Callable[[EmulatorRequest], Emulator] = getattr(importlib.import_module(module), function)
        return start(request)


KINDS: dict[str, BackendKind] = {
    kind.name: kind
    for kind in (
        BackendKind(
            name="moto",
            summary="moto embedded in this process (the default): no Docker, no account, no token",
            factory="stackprobe.backends.moto:start_embedded",
            in_process=True,
            moto_compatibility=True,
            live_sessions=True,
        ),
        BackendKind(
            name="localstack",
            summary="LocalStack: a running one at the endpoint / $AWS_ENDPOINT_URL, a container (testcontainers), or "
            "its open-source runtime started on this host; what it does not serve is applied on moto",
            factory="stackprobe.backends.localstack:start_localstack",
            in_process=False,
            moto_compatibility=False,
            live_sessions=False,
            fallback="moto",
        ),
    )
}
NAMES = tuple(KINDS)


def kind_of(name: str) -> BackendKind:
    """The registered kind called `name`, or an error listing the ones there are."""
    if name not in KINDS:
        raise StackprobeError(
            f"Unknown backend {name!r}",
            f"use one of {', '.join(NAMES)} (--backend / --stackprobe-backend); `moto` is the default.",
        )
    return KINDS[name]
