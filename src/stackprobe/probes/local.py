"""A COMMAND standing in for a container: a local process group, its captured output, its network guard.

The command runs from the app directory in a process group of its own (`stackprobe.child_process`), with
the environment `stackprobe.probes.app.TaskLaunch` built and, from the moment it starts, the proxy
variables of its network guard (`stackprobe.probes.egress`). Stopping it stops its whole process tree.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from stackprobe.child_process import OWN_PROCESS_GROUP
from stackprobe.probes.egress import EgressProxy
from stackprobe.probes.health import ContainerCheckResult, local_executor, run_container_check
from stackprobe.probes.output import last_lines
from stackprobe.probes.process import (
    OUTPUT_LINES,
    AppStartError,
    ContainerCommandError,
    PortTaken,
    StopRecord,
    accepts,
    crashed,
    describe_exit,
    group_members,
    wait_until_listening,
)


class _Pump:
    """Drains one pipe on a thread (so the child never blocks on a full pipe) and keeps the lines."""

    def __init__(self, stream: IO[str], sink: list[str], lock: threading.Lock) -> None:
        self._thread = threading.Thread(target=self._run, args=(stream, sink, lock), daemon=True)
        self._thread.start()

    @staticmethod
    def _run(stream: IO[str], sink: list[str], lock: threading.Lock) -> None:
        for line in stream:
            with lock:
                sink.append(line.rstrip("\n"))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class LocalProcess:
    """A COMMAND in a process group of its own, with captured output: start, wait until it listens, stop.

    Used as a context manager; leaving the block sends SIGTERM to the whole group (what ECS sends on
    stop), then SIGKILL after `stop_grace` seconds to whatever is left of it, so nothing it spawned
    outlives the probe. With an `egress` guard, the guard runs from spawn to stop and its variables are
    added to `env`. `crash_remedy` is what a crash before listening tells the reader to do (by default:
    check the command with the variables it was given, named).
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        name: str = "app",
        listen_port: int | None = None,
        start_timeout: float = 20.0,
        stop_grace: float = 5.0,
        command: str | None = None,
        egress: EgressProxy | None = None,
        crash_remedy: str = "",
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.name = name
        self.listen_port = listen_port
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.command = command or shlex.join(self.argv)
        self.egress = egress
        self.crash_remedy = crash_remedy or (
            f"run `{self.command}` from {cwd or Path.cwd()} with the variables it was given "
            f"({', '.join(sorted(self.env))}) and read why it stops"
        )
        self.startup_seconds: float | None = None
        self.returncode: int | None = None
        # Set by stop() when the process was still running: how it ended (None: it had ended, or never ran).
        self.stop_record: StopRecord | None = None
        self._process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._pumps: list[_Pump] = []

    def __enter__(self) -> LocalProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def tail(self, lines: int = OUTPUT_LINES) -> str:
        return last_lines(self.output, lines)

    def spawn(self) -> None:
        """Start the process without waiting for anything; a command that cannot start is an error."""
        if not self.argv:
            raise ContainerCommandError(f"Container {self.name} has an empty command", "give it a command to run.")
        if self.egress is not None:
            self.env.update(self.egress.start())
        try:
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                process_group=OWN_PROCESS_GROUP,  # see stackprobe.child_process
            )
        except OSError as exc:
            self._release()
            found = "not found on PATH" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            raise ContainerCommandError(
                f"The command of container {self.name} cannot start: {self.argv[0]}: {found}",
                "give --container (pytest: stackprobe_containers) a program that exists here; a relative path is "
                f"taken from {self.cwd}, and PATH is {self.env.get('PATH', '')}.",
                f"COMMAND: {self.command}.",
            ) from exc
        assert self._process.stdout is not None and self._process.stderr is not None
        self._pumps = [
            _Pump(self._process.stdout, self._lines, self._lock),
            _Pump(self._process.stderr, self._lines, self._lock),
        ]

    def start(self) -> float:
        """Spawn, then wait until the listen port accepts connections; returns the seconds that took.

        Raises AppStartError, with the process's exit code and output, when it exits first or never
        listens (its process tree is stopped first); PortTaken when the port is in use before it starts.
        """
        if self.listen_port is not None and accepts(self.listen_port):
            raise PortTaken(
                f"127.0.0.1:{self.listen_port}, the port container {self.name} was to listen on, is already taken "
                "by another process",
                "run again (stackprobe picks a free port each time); if it recurs, stop whatever keeps taking "
                "ports in that range.",
            )
        self.spawn()
        if self.listen_port is None:
            self.startup_seconds = 0.0
            return 0.0
        waited = wait_until_listening(self.listen_port, self.start_timeout, lambda: self.poll() is not None, 0.05)
        if waited.seconds is not None:
            self.startup_seconds = waited.seconds
            return waited.seconds
        code = self.stop()
        if waited.exited:
            where = f"127.0.0.1:{self.listen_port}"
            raise AppStartError(
                f"{self.name} {crashed(code)} before it listened on {where} ({describe_exit(code)})",
                self.output,
                code,
                self.crash_remedy,
            )
        raise AppStartError(
            f"{self.name} did not listen on 127.0.0.1:{self.listen_port} (PORT) within {self.start_timeout:.0f} s, "
            f"so stackprobe stopped it ({describe_exit(code)}); does COMMAND listen on $PORT or {{port}}?",
            self.output,
            code,
        )

    def poll(self) -> int | None:
        """The exit code once the process has ended, else None."""
        assert self._process is not None
        return self._process.poll()

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit by itself; stops it and raises TimeoutError after `timeout`."""
        assert self._process is not None
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"{self.name} still running after {timeout:.0f} s") from None
        self.returncode = code
        self._stop_group()
        self._drain()
        self._release()
        return code

    def stop(self) -> int | None:
        """SIGTERM to the process group, SIGKILL after the grace period; returns the leader's exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            signalled, killed = time.monotonic(), False
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                killed = True
                self._signal_group(signal.SIGKILL)
                process.wait(timeout=self.stop_grace)
            seconds = time.monotonic() - signalled
            self.stop_record = StopRecord(seconds, self.stop_grace, process.returncode, killed)
        self.returncode = process.returncode
        self._stop_group()
        self._drain()
        self._release()
        return self.returncode

    def group_alive(self) -> bool:
        """True while any process of the group is left (the leader included; zombies are not)."""
        return self._process is not None and bool(group_members(self._process.pid))

    def container_check(
        self, health_check: Mapping[str, Any], to_local: Callable[[int], int], start_period: float = 0.0
    ) -> ContainerCheckResult:
        # The spawned environment, guard included: a check command's own requests are guarded too.
        return run_container_check(
            health_check, to_local, local_executor(self.env, self.cwd), start_period=start_period
        )

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def _stop_group(self) -> None:
        """What the leader left behind in its group (a child it forked) gets SIGTERM, then SIGKILL."""
        if not self.group_alive():
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.group_alive():
            self._signal_group(signal.SIGKILL)
            while self.group_alive() and time.monotonic() < deadline + self.stop_grace:
                time.sleep(0.05)

    def _drain(self) -> None:
        for pump in self._pumps:
            pump.join(timeout=2.0)

    def _release(self) -> None:
        """The guard stops with the process (its record stays readable)."""
        if self.egress is not None:
            self.egress.close()
