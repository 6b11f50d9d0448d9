"""Running one command, timed, in a process group of its own; and reading back what it did.

`CommandLog` reads the terraform invocations stackprobe's runner appends to $STACKPROBE_COMMAND_LOG.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Timed:
    """One timed command."""

    argv: list[str]
    seconds: float
    returncode: int
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def stop_group(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGINT the command's process group (terraform then stops cleanly), SIGKILL after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_timed(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float) -> Timed:
    """Run `argv` with output to `log`, in its own process group, and time it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as handle:
        handle.write(f"$ cd {shlex.quote(str(cwd))} && {shlex.join(argv)}\n")
        handle.flush()
        started = time.monotonic()
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(process, 120)
            returncode = -1
        except KeyboardInterrupt:
            stop_group(process, 120)
            raise
        seconds = time.monotonic() - started
    return Timed(argv, seconds, returncode, str(log))


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def last_match(path: str | Path, pattern: re.Pattern[str]) -> re.Match[str] | None:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = None
    for line in text.splitlines():
        match = pattern.search(line)
        if match:
            found = match
    return found


@dataclass
class CommandLog:
    """Terraform invocations of one part, from $STACKPROBE_COMMAND_LOG."""

    total: int = 0
    by_command: dict[str, int] = field(default_factory=dict)
    seconds_by_command: dict[str, float] = field(default_factory=dict)
    failed: int = 0
    refresh_false_applies: int = 0
    # CPU of terraform and its providers (wait4 rusage, recorded by the runner); 0 in logs from before.
    cpu_seconds: float = 0.0
    # Which test file asked for each invocation (the runner records $PYTEST_CURRENT_TEST; a nested pytest
    # session that inherits the log names its own files).
    by_test_file: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> CommandLog:
        log = cls()
        if not path.exists():
            return log
        counts: Counter[str] = Counter()
        files: Counter[str] = Counter()
        seconds: dict[str, float] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            args = [str(a) for a in entry.get("args", [])]
            command = args[0] if args else "?"
            counts[command] += 1
            files[str(entry.get("test") or "outside a test").split("::")[0]] += 1
            seconds[command] = seconds.get(command, 0.0) + float(entry.get("seconds") or 0.0)
            log.cpu_seconds += float(entry.get("cpu_seconds") or 0.0)
            if entry.get("returncode") not in (0, 2):
                log.failed += 1
            if command == "apply" and "-refresh=false" in args:
                log.refresh_false_applies += 1
        log.total = sum(counts.values())
        log.by_command = dict(counts.most_common())
        log.by_test_file = dict(files.most_common())
        log.seconds_by_command = {k: round(v, 1) for k, v in seconds.items()}
        return log
