"""stackprobe's speed benchmark (issues 8 and 14): every figure from one run, each next to its same-run baseline.

Parts (run in this order; `--only` picks a subset):
  a   bare terraform on the reference stack: init, apply, plan -detailed-exitcode, destroy, against
      `stackprobe serve` (the same patched moto the harness embeds): the baseline of most ratios
  a20 the same with -parallelism=20 (a lever that was tried and rejected; measured here for the record)
  g   the peer: native `terraform test` (bench/native/tests/*.tftest.hcl), same emulator, override, CLI config
  b   `pytest -m integration` (the reference stack only), one process, cold: a fresh STACKPROBE_CACHE_DIR
  u   a cold `stackprobe up` of the reference stack (prod settings, from a copy of prod.tfvars in the work
      directory): the baseline of the live-session ratios
  f   `pytest -m integration --stackprobe-reuse` right after (u), configuration unchanged (no terraform at all)
  f2  the same after one variable is changed in that copy of prod.tfvars (an incremental apply); then
      `stackprobe down`, also after a failure, and `stackprobe status --json` must list nothing
  b4  `pytest -m integration -n 4 --dist loadgroup`, cold (a fresh STACKPROBE_CACHE_DIR of its own)
  d   `pytest -m unit` twice on one fresh STACKPROBE_CACHE_DIR: cold (empty plan store), then warm
  e   `stackprobe mutate terraform ...` over the whole mutant catalogue
  h   the full suite as `make test` runs it, or the lead's figure from /tmp/stackprobe-full-suite-seconds
  c   is not a run of its own: terraform invocations ($STACKPROBE_COMMAND_LOG) and provider boots (distinct
      terraform-provider-aws PIDs seen by a /proc sampler) of every part, reported for (b).
(f) and (f2) need (u), so asking for either runs (u) too.

Every part runs under a sampler that reads /proc every 0.25 s and sums the RSS of this process's
descendants (python + terraform + providers; the benchmark's own process excluded), plus the live
session's detached emulator in (f) and (f2).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import BENCH, REPO
from .context import BenchContext
from .harness import FULL_SUITE_FILE
from .levers import lever_notes
from .parts import ALL_NAMES, parse_parts, plan_text, run_parts
from .report import write_reports
from .table import build_rows
from .workspace import terraform_version

RESULTS_MD = BENCH / "results-latest.md"
DEFAULT_TIMEOUT = 3 * 3600.0


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def wait_for(path: Path, timeout: float, poll: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {path} did not appear within {timeout:.0f} s")
        sys.stderr.write(f"bench: waiting for {path} (polling every {poll:.0f} s)\n")
        time.sleep(poll)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", metavar="PARTS", help=f"comma-separated subset of {','.join(ALL_NAMES)} (default: all)"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS_MD,
        metavar="FILE",
        help=f"where the Markdown table goes (default: {RESULTS_MD.relative_to(REPO)}; give another file for a "
        "subset run, so the record of the last full run stays)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    parser.add_argument("--work-dir", type=Path, help="where workspaces and logs go (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the bare/native workspaces (state, .terraform)")
    parser.add_argument(
        "--measure-full-suite",
        action="store_true",
        help=f"(h): run the full suite even when {FULL_SUITE_FILE} holds the lead's figure",
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per command, seconds")
    parser.add_argument("--wait-for", type=Path, metavar="FILE", help="start only once FILE exists (polled every 60 s)")
    parser.add_argument("--wait-timeout", type=float, default=3 * 3600.0, help="give up waiting after this many s")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parts = parse_parts(args.only)
    ctx = BenchContext(
        args.work_dir,
        timeout=float(args.timeout),
        keep=args.keep,
        measure_full_suite=args.measure_full_suite,
        dry_run=args.dry_run,
    )
    if args.dry_run:
        sys.stdout.write(plan_text(ctx, parts) + "\n")
        if not args.work_dir:
            shutil.rmtree(ctx.work, ignore_errors=True)
        return 0
    if args.wait_for:
        wait_for(args.wait_for, args.wait_timeout)
    started_at = datetime.datetime.now().astimezone()
    started = time.monotonic()
    meta: dict[str, Any] = {
        "command": shlex.join(["bench/run", *(sys.argv[1:] if argv is None else argv)]),
        "started": started_at.isoformat(timespec="seconds"),
        "revision": git_revision(),
        "terraform": terraform_version(ctx.binary),
        "machine": machine(),
        "parts": parts,
        "work_dir": str(ctx.work),
    }
    ctx.say(f"benchmark parts {', '.join(parts)}; logs in {ctx.logs}")
    try:
        run_parts(ctx, parts)
    except KeyboardInterrupt:
        ctx.say("interrupted; reporting the parts that finished")
    meta["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    meta["wall_seconds"] = time.monotonic() - started
    rows, notes = build_rows(ctx.results)
    write_reports(ctx.results, rows, notes, lever_notes(ctx.results), meta, args.results, args.json)
    return 0 if all(r.ok for r in ctx.results.values()) else 1
