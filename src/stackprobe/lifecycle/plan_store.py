"""Pre-apply plans kept by digest, shared between the processes of a run and with later runs.

A plan of the reference stack costs about 20 CPU-s (a plan and a `show -json`, each booting the
provider). Several processes of one run plan the same configuration against an empty emulator of the
same kind (the worker that deploys the reference stack, the worker that checks every scenario's plan,
the parity run's moto side), and a second `pytest -m unit` plans what the first one did. Whoever plans
first publishes the plan's JSON here under its key (`plan_key`: the configuration's and the tools'
digest, the emulator kind and the region, stand-ins and the provider fallback); a caller that needs only
the JSON reads it instead of planning again. A stack that applies always plans itself, since a saved plan
file names its own workspace and emulator (`PreparedStack.own_plan` publishes what it planned). A stack
with prerequisites is keyed by theirs too (see `plan_key`); reading its plan deploys nothing.

The claim is an exclusive `flock` held while planning: a reader that finds a plan in progress waits
for the lock (released when the planner finishes, fails, or dies), then reads what was published, or
plans itself when nothing was. The default store is in the user's cache (`RunSettings.cache_dir`), so
it persists; `--stackprobe-plan-cache off` / `--plan-cache off` turns it off.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from stackprobe.lifecycle.digest import StackDigest
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.lifecycle.plan_store")


def plan_key(
    digest: StackDigest,
    backend: str,
    region: str,
    *,
    stand_ins: bool,
    provider_fallback: bool,
    prerequisites: tuple[StackDigest, tuple[str, ...]] | None = None,
) -> str:
    """What a pre-apply plan depends on: the configuration and tools (`digest`), the emulator kind and region, and
    the settings that decide whether it can be made at all: stand-ins (what its data sources find) and the provider
    fallback (which provider versions init installs). A run without them must not read a plan made with them.

    `prerequisites`: the digest of the configuration applied first and the names of the variables its outputs
    set. Not their values: those are ids the emulator makes afresh for every deployment, so a plan stored by
    one run differs from the next run's only in them, and a reader of the plan reads it without deploying them.
    """
    settings = {"stand_ins": stand_ins, "provider_fallback": provider_fallback}
    parts: list[object] = [digest.value, backend, region, settings]
    if prerequisites is not None:
        parts.append([prerequisites[0].value, list(prerequisites[1])])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


class PlanStore:
    """A directory of published pre-apply plans, one JSON file per `plan_key`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def published(self, key: str) -> Plan | None:
        path = self.directory / f"{key}.json"
        if not path.is_file():
            return None
        return Plan(json.loads(path.read_text(encoding="utf-8")))

    def in_progress(self, key: str) -> bool:
        """Whether another planner holds the claim on `key` right now."""
        with self._claim_file(key) as handle:
            if not _try_lock(handle):
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def planned(self, key: str, compute: Callable[[], Plan]) -> Plan:
        """This process's own plan of `key` (computed by `compute`), published for the others."""
        with self._claim_file(key) as handle:
            claimed = _try_lock(handle)  # unclaimed or not, a process that applies plans itself
            try:
                return self._publish(key, compute())
            finally:
                if claimed:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def plan_json(self, key: str, compute: Callable[[], Plan]) -> Plan:
        """A published plan of `key`; if another process is planning it, wait; else plan (and publish)."""
        found = self.published(key)
        if found is not None:
            return found
        with self._claim_file(key) as handle:
            if not _try_lock(handle):
                LOG.info("waiting for another process's plan %s", key)
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when that planner finishes, fails or dies
            try:
                # Published while this process waited (or between the two looks); if not, the planner
                # failed, and the error is this process's to report.
                found = self.published(key)
                return found if found is not None else self._publish(key, compute())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _publish(self, key: str, plan: Plan) -> Plan:
        staging = self.directory / f"{key}.{os.getpid()}.tmp"
        staging.write_text(json.dumps(plan.raw), encoding="utf-8")
        staging.replace(self.directory / f"{key}.json")  # atomic: a reader never sees half a plan
        return plan

    @contextlib.contextmanager
    def _claim_file(self, key: str) -> Iterator[IO[str]]:
        with (self.directory / f"{key}.claim").open("a") as handle:
            yield handle


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
