"""The live-session parts: (u) a cold `stackprobe up`, (f) and (f2) `pytest --stackprobe-reuse` on it, then
`stackprobe down` (also after a failure or Ctrl-C) and proof that nothing of the session is left running."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from .commands import run_timed
from .config import COMMAND_LOG_ENV, PREREQUISITE_ARGS, PROD_VARS, REPO, TEARDOWN_VAR, TF_DIR, VENV_BIN
from .context import BenchContext
from .harness import CONTAINER_ARGS, INTEGRATION_ARGS, harness_part
from .results import PartResult
from .workspace import snapshot_stack

# (f2)'s edit. The prod configuration exposes no alarm threshold as a root variable (the alarms' thresholds
# are module defaults), so the edit changes the WAF web ACL's per-IP rate limit: one attribute of one resource.
CHANGED_VARIABLE = "waf_rate_limit"
CHANGED_VARIABLE_STEP = 500
# A live session the bench forgets to end still stops itself after this long idle.
LIVE_IDLE_TTL = 3600


class LiveSession:
    """(u), (f), (f2) and `down`: one live session, on paths of the work directory that only these parts use."""

    def __init__(self, ctx: BenchContext) -> None:
        self.ctx = ctx

    @property
    def stack(self) -> Path:
        """The live parts' snapshot of terraform/: other engineers edit the shared tree, and a change between
        (u) and (f) would turn (f) into an incremental apply (or a failure) of a configuration (u) never saw."""
        return self.ctx.work / "live" / TF_DIR.name

    @property
    def var_file(self) -> Path:
        """The copy of prod.tfvars the live parts use: the session is keyed by its path, and (f2) edits it."""
        return self.ctx.work / "live" / PROD_VARS.name

    def stack_args(self) -> list[str]:
        return [str(self.stack), "--var-file", str(self.var_file), "--teardown-var", TEARDOWN_VAR]

    def up_argv(self) -> list[str]:
        stack = self.stack_args()
        return [
            str(VENV_BIN / "stackprobe"),
            "up",
            *stack,
            *PREREQUISITE_ARGS,
            *CONTAINER_ARGS,
            "--ttl",
            str(LIVE_IDLE_TTL),
        ]

    def reuse_argv(self) -> list[str]:
        reuse = [
            "--stackprobe-reuse",
            f"--stackprobe-tf-dir={self.stack}",
            f"--stackprobe-var-file={self.var_file}",
        ]
        return [str(VENV_BIN / "pytest"), *INTEGRATION_ARGS, *reuse]

    def down_argv(self) -> list[str]:
        return [str(VENV_BIN / "stackprobe"), "down", *self.stack_args()]

    def sessions(self, cache: Path) -> list[dict[str, Any]]:
        """`stackprobe status --json` on `cache`: the live sessions it lists."""
        env = {**os.environ, "STACKPROBE_CACHE_DIR": str(cache)}
        env.pop(COMMAND_LOG_ENV, None)
        done = subprocess.run(
            [str(VENV_BIN / "stackprobe"), "status", "--json"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        try:
            listed = json.loads(done.stdout)
        except ValueError:
            raise SystemExit(
                f"bench: `stackprobe status --json` exit {done.returncode}, no JSON: {done.stderr.strip()[-500:]}"
            ) from None
        return [dict(s) for s in listed]

    def run(self, parts: list[str]) -> None:
        """(u), then (f) and (f2) as asked, then `stackprobe down`, also after a failure or Ctrl-C.

        All on one fresh STACKPROBE_CACHE_DIR, on a snapshot of terraform/ taken now, with a copy of its
        prod.tfvars as the var file (the session is keyed by its path; (f2) edits the copy, never terraform/).
        """
        ctx = self.ctx
        cache = ctx.fresh_cache("live")
        stack = snapshot_stack(self.stack)
        var_file = self.var_file
        shutil.copy2(stack / PROD_VARS.relative_to(TF_DIR), var_file)
        emulators: tuple[int, ...] = ()
        try:
            up = harness_part(ctx, "u", "stackprobe up (cold)", self.up_argv(), cache)
            ctx.record(up)
            sessions = self.sessions(cache)
            emulators = tuple(int(s["emulator_pid"]) for s in sessions)
            describe_session(up, sessions)
            ctx.record(up)
            for part in ("f", "f2"):
                if part not in parts:
                    continue
                if not (up.ok and sessions):
                    ctx.record(PartResult(part, part, ok=False, status="not run: (u) left no live session"))
                    continue
                edit = ""
                title = "pytest -m integration --stackprobe-reuse, configuration unchanged"
                try:
                    if part == "f2":
                        before, after = change_variable(var_file, CHANGED_VARIABLE, CHANGED_VARIABLE_STEP)
                        edit = f"{before} -> {after}"
                        ctx.say(f"(f2) {var_file}: {edit}")
                        title = f"pytest -m integration --stackprobe-reuse, after {edit}"
                    result = harness_part(ctx, part, title, self.reuse_argv(), cache, also=emulators)
                    result.extra["edit"] = edit
                    describe_session(result, self.sessions(cache))
                except (Exception, SystemExit) as exc:  # the other part and the `down` still run
                    ctx.say(f"({part}) crashed: {exc!r}")
                    result = PartResult(part, title, ok=False, status=f"crashed: {exc!r}")
                ctx.record(result)
        finally:
            try:
                down = self.down(cache, emulators)
            except (Exception, SystemExit) as exc:
                ctx.say(f"(down) crashed: {exc!r}")
                down = PartResult("down", "stackprobe down", ok=False, status=f"crashed: {exc!r}")
            ctx.record(down)

    def down(self, cache: Path, emulators: tuple[int, ...]) -> PartResult:
        """`stackprobe down` of the bench's live session, then proof that nothing of it is left running.

        When `down` leaves the session (a failed destroy keeps it, so nothing is lost), the bench stops the
        emulator it started, by its pid, and forgets the session with `down --force`.
        """
        ctx = self.ctx
        result = PartResult("down", "stackprobe down (destroy, prove, stop the emulator)")
        try:
            sessions = self.sessions(cache)
        except SystemExit as exc:
            ctx.say(f"(down) {exc}")
            sessions = [{"emulator_pid": pid} for pid in emulators]
        emulators = tuple(sorted({*emulators, *(int(s["emulator_pid"]) for s in sessions), *emulators_under(cache)}))
        if sessions:
            result = harness_part(ctx, "down", result.title, self.down_argv(), cache, also=emulators)
        else:
            result.note = "no live session was left to end"
        left = self.sessions(cache)
        if left or any(emulator_running(pid) for pid in emulators):
            ctx.say(f"(down) left after `stackprobe down`: {len(left)} session(s); stopping emulators {emulators}")
            result.extra["cleanup"] = "the bench stopped the emulator and ran `down --force`"
            for pid in emulators:
                stop_emulator(pid)
            if left:
                argv = [*self.down_argv(), "--force"]
                run_timed(
                    argv,
                    cwd=REPO,
                    env=ctx.harness_env(ctx.logs / "down-force.commands.jsonl", cache),
                    log=ctx.logs / "down-force.log",
                    timeout=600,
                )
            left = self.sessions(cache)
        running = [pid for pid in emulators if emulator_running(pid)]
        result.extra["sessions_left"] = len(left)
        result.extra["emulators_left"] = running
        if left or running:
            result.ok = False
            result.status = f"left running: {len(left)} live session(s), emulator pid(s) {running}"
        return result

    def describe(self) -> dict[str, list[str]]:
        """What the dry run prints for (u), (f) and (f2)."""
        command = self.ctx.cache_command
        return {
            "u": [
                f"cp -r {TF_DIR} {self.stack}   (a snapshot: the shared tree may change during the run)",
                f"cp {self.stack / PROD_VARS.relative_to(TF_DIR)} {self.var_file}",
                command("live", self.up_argv()),
            ],
            "f": [command("live", self.reuse_argv()) + "   (must run no terraform: $STACKPROBE_COMMAND_LOG)"],
            "f2": [
                f"in {self.var_file}: {planned_change(PROD_VARS)} (one attribute of one resource)",
                command("live", self.reuse_argv()) + "   (an incremental apply)",
            ],
        }

    def describe_down(self) -> list[str]:
        """What the dry run prints for `down`, after the last live part asked for."""
        command = self.ctx.cache_command
        return [
            f"(down) also after a failure: {command('live', self.down_argv())}",
            f"(down) then {command('live', [str(VENV_BIN / 'stackprobe'), 'status', '--json'])}"
            " must list nothing, and the emulator's pid must be gone",
        ]


def describe_session(result: PartResult, sessions: list[dict[str, Any]]) -> None:
    """What the live session says after a part: its last history line (started / attached / updated)."""
    if not sessions:
        result.extra["session"] = "no live session listed"
        return
    session = sessions[0]
    history = session.get("history") or [""]
    result.extra["session"] = str(history[-1])
    result.extra["emulator_pid"] = session.get("emulator_pid")
    result.extra["digest_matches"] = session.get("digest_matches")


def assignment(name: str) -> re.Pattern[str]:
    """A var file's line that sets `name` to a whole number."""
    return re.compile(rf"^(?P<lead>[ \t]*{re.escape(name)}[ \t]*=[ \t]*)(?P<value>\d+)", re.M)


def planned_change(path: Path) -> str:
    """(f2)'s edit as the dry run describes it, read from `path` (nothing is written)."""
    found = assignment(CHANGED_VARIABLE).search(path.read_text(encoding="utf-8"))
    if found is None:
        return f"{CHANGED_VARIABLE} is not set, so (f2) will stop with an error"
    old = int(found.group("value"))
    return f"{CHANGED_VARIABLE} {old} -> {old + CHANGED_VARIABLE_STEP}"


def change_variable(path: Path, name: str, step: int) -> tuple[str, str]:
    """Raise the number `name` is set to in the var file `path` by `step`; returns ("name old", "new").

    The assignment is edited in place: a second line for the same name would be a redefinition, which
    Terraform refuses.
    """
    text = path.read_text(encoding="utf-8")
    match = assignment(name).search(text)
    if match is None:
        raise SystemExit(f"bench: {path} sets no number for {name}; (f2) needs one to change (see CHANGED_VARIABLE)")
    old = int(match.group("value"))
    new = old + step
    path.write_text(text[: match.start("value")] + str(new) + text[match.end("value") :], encoding="utf-8")
    return f"{name} {old}", f"{new}"


def emulators_under(cache: Path) -> list[int]:
    """The `stackprobe serve` processes whose ready file is under `cache`: the live sessions' emulators that
    this bench's `stackprobe up` started, found even when no session record was written (an interrupted up)."""
    found = []
    prefix = str(cache).encode() + b"/"
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and emulator_running(int(entry.name)):
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
                if any(part.startswith(prefix) for part in argv):
                    found.append(int(entry.name))
    return found


def emulator_running(pid: int) -> bool:
    """Whether `pid` is still a running `stackprobe serve` (a recycled pid is not)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return False
    return b"stackprobe" in argv and b"serve" in argv and "\nState:\tZ" not in state


def stop_emulator(pid: int, grace: float = 10.0) -> None:
    """Stop the live session's emulator the bench started (its own process group), by its pid."""
    if not emulator_running(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and emulator_running(pid):
        time.sleep(0.2)
    if emulator_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
