"""The /proc sampler: peak RSS, processes and provider boots of everything a part starts."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_INTERVAL = 0.25
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


@dataclass
class TreeStats:
    """What the sampler saw in one part."""

    peak_rss_bytes: int = 0
    peak_processes: int = 0
    peak_providers: int = 0
    samples: int = 0
    providers: set[tuple[int, int]] = field(default_factory=set)
    terraforms: set[tuple[int, int]] = field(default_factory=set)

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / MIB


def _read_stat(pid: str) -> tuple[int, int, int] | None:
    """(ppid, starttime, rss pages) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            data = handle.read()
    except OSError:
        return None
    # Field 2 (comm) is in parentheses and may hold spaces: split after the last ')'.
    rest = data[data.rfind(")") + 2 :].split()
    try:
        return int(rest[1]), int(rest[19]), int(rest[21])
    except (IndexError, ValueError):
        return None


def _read_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


class TreeSampler:
    """Every 0.25 s: the summed RSS of this process's descendants, and which of them are new providers.

    A process is identified by (pid, start time), so a recycled PID is not mistaken for an old one.
    A process that lives less than one interval can be missed; provider boots of the AWS provider take
    longer than that (it loads a schema of several MB before it answers). `also` names processes that are
    not descendants but belong to the part: a live session's emulator, which `stackprobe up` started in a
    session of its own and which outlived it.
    """

    def __init__(self, interval: float = SAMPLE_INTERVAL, also: tuple[int, ...] = ()) -> None:
        self.interval = interval
        self.root = os.getpid()
        self.also = also
        self.stats = TreeStats()
        self._seen: set[tuple[int, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        table: dict[int, tuple[int, int, int]] = {}
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    stat = _read_stat(entry.name)
                    if stat is not None:
                        table[int(entry.name)] = stat
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        descendants: list[int] = []
        stack = list(children.get(self.root, [])) + [pid for pid in self.also if pid in table]
        while stack:
            pid = stack.pop()
            descendants.append(pid)
            stack.extend(children.get(pid, []))
        rss = 0
        providers = 0
        for pid in descendants:
            _, started, pages = table[pid]
            rss += pages * PAGE_SIZE
            key = (pid, started)
            if key not in self._seen:
                self._seen.add(key)
                argv = _read_cmdline(pid)
                if any("terraform-provider-aws" in part for part in argv[:1]):
                    self.stats.providers.add(key)
                elif argv and Path(argv[0]).name in ("terraform", "tofu"):
                    self.stats.terraforms.add(key)
            if key in self.stats.providers:
                providers += 1
        self.stats.samples += 1
        self.stats.peak_rss_bytes = max(self.stats.peak_rss_bytes, rss)
        self.stats.peak_processes = max(self.stats.peak_processes, len(descendants))
        self.stats.peak_providers = max(self.stats.peak_providers, providers)
