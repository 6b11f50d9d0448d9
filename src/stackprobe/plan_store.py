"""Pre-apply plans shared between the processes of one run: xdist workers, and the CLI runs they start.

A plan of the reference stack costs about 20 CPU-s (a plan and a `show -json`, each booting the
provider), and on a 2-core machine the full suite is CPU-bound. Several processes of one run plan the
same configuration against an empty emulator of the same kind: the worker that deploys the reference
stack, the worker that checks every scenario's plan, the parity run's moto side. Whoever plans first
publishes the plan's JSON here; a process that needs only the JSON (`StackSession.plan(spec,
shared=True)`) reads it instead of planning again. A process that applies always plans itself, since
a saved plan file names its own workspace and emulator.

The claim is an exclusive `flock` held while planning: a reader that finds a plan in progress waits
for the lock (released when the planner finishes, fails, or dies), then reads what was published, or
plans itself when nothing was.
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

from stackprobe.settings import StackSpec
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.shared_plans")
CONFIGURATION_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json")


def plan_key(spec: StackSpec, backend: str, region: str) -> str:
    """What a pre-apply plan depends on: the configuration's files, its variables, the emulator kind and region.

    The teardown variables are not part of it: they are applied only before destroy.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([str(spec.tf_dir), backend, region, list(spec.variables)]).encode())
    for path in [*sorted(_configuration_files(spec.tf_dir)), *spec.var_files]:
        digest.update(str(path).encode())
        # A missing var file is reported by StackUnderTest.prepare, with its remedy, not here.
        digest.update(path.read_bytes() if path.is_file() else b"\0missing")
    return digest.hexdigest()[:32]


def _configuration_files(directory: Path) -> Iterator[Path]:
    # Local modules live under the root in the stacks this harness sees; one outside it is still
    # caught by the root's own files, which name it.
    for path in directory.rglob("*"):
        if path.name.endswith(CONFIGURATION_SUFFIXES) and ".terraform" not in path.parts and path.is_file():
            yield path


class SharedPlans:
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
