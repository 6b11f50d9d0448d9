"""What every part of one benchmark run shares: its work directory and logs, the options that apply to every
part, terraform, a fresh STACKPROBE_CACHE_DIR per part, and the results recorded so far."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from .config import COMMAND_LOG_ENV, VENV_BIN
from .results import PartResult
from .workspace import terraform_binary

# What the bench links into each fresh STACKPROBE_CACHE_DIR from the user's cache: installs, not caches of
# work (the init cache, the plan store and the live sessions stay out, so the user's are never touched).
LINKED_INSTALLS = ("localstack-venv-", "checkov-venv-")


class BenchContext:
    """One benchmark run's shared state: every part takes it, records its result in it."""

    def __init__(
        self, work_dir: Path | None, *, timeout: float, keep: bool, measure_full_suite: bool, dry_run: bool
    ) -> None:
        self.work = Path(work_dir or tempfile.mkdtemp(prefix="stackprobe-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.logs = self.work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.results: dict[str, PartResult] = {}
        self.timeout = timeout
        # Whether the bare and native parts keep their workspaces (state, .terraform) for a look afterwards.
        self.keep = keep
        self.measure_full_suite = measure_full_suite
        # A dry run only prints commands, so a missing terraform is no reason to stop it.
        self.binary = terraform_binary() if not dry_run else (shutil.which("terraform") or "terraform")

    def say(self, message: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        sys.stderr.write(f"[{stamp}] {message}\n")
        sys.stderr.flush()

    def cache_dir(self, name: str) -> Path:
        """Where part `name`'s STACKPROBE_CACHE_DIR goes (see `fresh_cache`)."""
        return self.work / f"cache-{name}"

    def cache_command(self, name: str, argv: list[str]) -> str:
        """A harness command as the dry run prints it: on part `name`'s STACKPROBE_CACHE_DIR."""
        return f"STACKPROBE_CACHE_DIR={self.cache_dir(name)} {shlex.join(argv)}"

    def fresh_cache(self, name: str) -> Path:
        """A new, empty STACKPROBE_CACHE_DIR for one part: no init cache, no plan store, no live session.

        Each harness part starts cold and does not depend on the order of the parts. Only installs from the
        user's cache (the LocalStack and checkov venvs, not work of this run) are linked in, so no part
        reinstalls them and nothing of the user's own init cache, plan store or live sessions is seen or
        touched. A leftover live session (a bench killed before its `down`) is refused, never deleted over.
        """
        cache = self.cache_dir(name)
        live = cache / "live"
        if live.is_dir() and any(live.iterdir()):
            raise SystemExit(
                f"bench: {live} holds a live session of an earlier bench run; end it first: "
                f"STACKPROBE_CACHE_DIR={cache} {VENV_BIN / 'stackprobe'} down --force (or without --force if its "
                "emulator still runs)"
            )
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        from stackprobe.settings import default_cache_dir

        user_cache = default_cache_dir()
        if user_cache.is_dir() and user_cache.resolve() != cache.resolve():
            for entry in user_cache.iterdir():
                if entry.name.startswith(LINKED_INSTALLS):
                    (cache / entry.name).symlink_to(entry)
        return cache

    def harness_env(self, command_log: Path, cache: Path) -> dict[str, str]:
        env = dict(os.environ)
        env[COMMAND_LOG_ENV] = str(command_log)
        env["STACKPROBE_CACHE_DIR"] = str(cache)
        command_log.unlink(missing_ok=True)
        return env

    def record(self, result: PartResult) -> None:
        self.results[result.part] = result
        self.save_progress()

    def save_progress(self) -> None:
        """Every result so far, as JSON in the work directory, so a killed run still leaves its figures."""
        path = self.work / "results.partial.json"
        path.write_text(json.dumps({k: asdict(v) for k, v in self.results.items()}, indent=2), encoding="utf-8")
