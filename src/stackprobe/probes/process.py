"""The processes that stand in for containers: starting one, waiting for it to listen, saying how it ended.

Shared by the local stand-ins (`stackprobe.probes.local`) and the Docker ones (`stackprobe.probes.docker`),
which both import it and neither of which it imports.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackprobe.errors import StackprobeError
from stackprobe.probes.output import last_lines

OUTPUT_LINES = 8


class AppStartError(RuntimeError):
    """The stand-in exited (or never listened) at start-up; `output` holds what it printed, `remedy` what to do."""

    def __init__(self, message: str, output: str = "", returncode: int | None = None, remedy: str = "") -> None:
        super().__init__(message)
        self.output = output
        self.returncode = returncode
        self.remedy = remedy

    def evidence(self, lines: int = OUTPUT_LINES) -> str:
        kept = last_lines(self.output, lines)
        text = f"{self}; last output: {kept}" if kept else f"{self}; it printed nothing"
        return f"{text}; remedy: {self.remedy}" if self.remedy else text


class ContainerCommandError(StackprobeError):
    """A configured COMMAND that cannot be started at all (not found, not executable)."""


class PortTaken(StackprobeError):
    """The loopback port chosen to stand in for a container port is already in use."""


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class ListenWait:
    """How waiting for a stand-in to listen ended: `seconds` until its port accepted connections, or None
    when it never did, `exited` first (the process or container ended) or within the time allowed."""

    seconds: float | None
    exited: bool


def wait_until_listening(port: int, timeout: float, exited: Callable[[], bool], interval: float) -> ListenWait:
    """Poll until 127.0.0.1:`port` accepts connections, `exited()` is true, or `timeout` seconds pass."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if exited():
            return ListenWait(None, exited=True)
        if accepts(port):
            return ListenWait(time.monotonic() - started, exited=False)
        time.sleep(interval)
    return ListenWait(None, exited=False)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`.

    Read from /proc where there is one: a zombie left unreaped (no init reaping in a container) still
    counts for `killpg`, and would make a stopped tree look alive forever.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass(frozen=True)
class StopRecord:
    """How a stand-in still running when it was stopped ended: stopped as ECS stops a container, SIGTERM, then
    SIGKILL once its stop timeout has passed (the container's stopTimeout, else ECS's 30 s)."""

    seconds: float  # from SIGTERM until it exited, or was killed
    stop_timeout: float
    returncode: int | None
    killed: bool  # still running when the stop timeout ran out

    def describe(self) -> str:
        if self.killed:
            return (
                f"stopped as ECS stops it: SIGTERM, still running at the end of its stop timeout "
                f"({self.stop_timeout:g} s), then SIGKILL, which ECS sends too: what it is doing when a deploy or a "
                "scale-in stops it is lost"
            )
        return (
            f"stopped as ECS stops it: SIGTERM, then {describe_exit(self.returncode)} after {self.seconds:.1f} s "
            f"(stop timeout {self.stop_timeout:g} s)"
        )


def crashed(code: int | None) -> str:
    """How a stand-in that ended on its own ended: an exit 0 before it did its job is not a crash."""
    return "exited" if code == 0 else "crashed"
