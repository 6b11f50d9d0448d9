"""The harness parts: one timed command each (pytest or the stackprobe CLI) on a STACKPROBE_CACHE_DIR of its own.

(b) and (b4) `pytest -m integration` in one process and with xdist; (d) `pytest -m unit` cold then warm;
(e) `stackprobe mutate`; (v) `make verify`'s command; (h) the full suite. (c) is counted in each from
$STACKPROBE_COMMAND_LOG and the sampler. The live parts (live.py) run their commands through `harness_part` too.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from .commands import CommandLog, Timed, last_match, log_tail, run_timed
from .config import PREREQUISITE_ARGS, REPO, TEARDOWN_VAR, VENV_BIN
from .context import BenchContext
from .results import PartResult
from .sampling import TreeSampler, TreeStats

FULL_SUITE_FILE = Path("/tmp/stackprobe-full-suite-seconds")
INTEGRATION_ARGS = ["-m", "integration", "-p", "no:cacheprovider", "-q"]
UNIT_ARGS = ["-m", "unit", "-p", "no:cacheprovider", "-q"]
XDIST_ARGS = ["-n", "4", "--dist", "loadgroup"]
FULL_SUITE_ARGS = ["-n", "4", "--dist", "loadgroup", "--durations=15"]
CONTAINER_ARGS = [
    "--app-dir",
    "app",
    "--container",
    "api=python -m modelserve.api --host 127.0.0.1",
    "--container",
    "worker=python -m modelserve.worker",
]
MUTATE_ARGS = [
    "mutate",
    "terraform",
    "--var-file",
    "terraform/environments/prod.tfvars",
    "--teardown-var",
    TEARDOWN_VAR,
    *PREREQUISITE_ARGS,
    *CONTAINER_ARGS,
]
MUTATION_LINE = re.compile(
    r"Mutation score: (\d+)/(\d+) killed \((\d+)%\) with (\d+) applies and (\d+) plans in (\d+) s"
)
PYTEST_SUMMARY = re.compile(r"\b\d+ (passed|failed|error|errors|skipped|deselected)\b.* in [\d.]+s")


def harness_part(
    ctx: BenchContext, part: str, title: str, argv: list[str], cache: Path, also: tuple[int, ...] = ()
) -> PartResult:
    """One timed harness command (pytest or the stackprobe CLI) on the STACKPROBE_CACHE_DIR `cache`."""
    result = PartResult(part, title)
    commands = ctx.logs / f"{part}.commands.jsonl"
    env = ctx.harness_env(commands, cache)
    ctx.say(f"({part}) {shlex.join([Path(argv[0]).name, *argv[1:]])}")
    with TreeSampler(also=also) as sampler:
        timed = run_timed(argv, cwd=REPO, env=env, log=ctx.logs / f"{part}.log", timeout=ctx.timeout)
    finish(ctx, result, timed, sampler.stats, commands)
    summary = last_match(timed.log, PYTEST_SUMMARY)
    result.note = summary.group(0).strip("= ") if summary else ""
    return result


def finish(ctx: BenchContext, result: PartResult, timed: Timed, stats: TreeStats, commands: Path) -> None:
    result.seconds = round(timed.seconds, 1)
    result.ok = timed.ok
    result.logs.append(timed.log)
    if not timed.ok:
        result.status = f"exit {timed.returncode} (see {timed.log})"
        ctx.say(f"({result.part}) exit {timed.returncode}:\n{log_tail(timed.log)}")
    result.take_sample(stats)
    result.take_commands(CommandLog.read(commands))
    # The machine is shared: what else ran shows in the load average at the part's end (1, 5, 15 min).
    result.extra["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    ctx.say(
        f"({result.part}) {result.seconds:.1f} s, exit {timed.returncode}, {result.invocations} terraform "
        f"invocations, {result.provider_boots} provider boots, peak RSS {result.peak_rss_mib:.0f} MiB"
    )


def pytest_session(ctx: BenchContext, part: str, title: str, extra_args: list[str]) -> PartResult:
    """(b), (b4): `pytest -m integration` on a fresh cache (cold terraform init cache, empty plan store)."""
    argv = [str(VENV_BIN / "pytest"), *INTEGRATION_ARGS, *extra_args]
    return harness_part(ctx, part, title, argv, ctx.fresh_cache(part))


def unit_suite(ctx: BenchContext) -> list[PartResult]:
    """(d): `pytest -m unit` cold (a fresh cache: empty plan store), then warm (the same cache again)."""
    cache = ctx.fresh_cache("d")
    argv = [str(VENV_BIN / "pytest"), *UNIT_ARGS]
    cold = harness_part(ctx, "d", "pytest -m unit, cold (empty plan store)", argv, cache)
    ctx.record(cold)
    warm = harness_part(ctx, "d-warm", "pytest -m unit, warm (the plan store of the cold run)", argv, cache)
    return [cold, warm]


def mutants(ctx: BenchContext) -> PartResult:
    argv = [str(VENV_BIN / "stackprobe"), *MUTATE_ARGS]
    result = harness_part(ctx, "e", "stackprobe mutate (whole catalogue)", argv, ctx.fresh_cache("e"))
    match = last_match(result.logs[-1], MUTATION_LINE)
    if match:
        killed, total, _, applies, plans, seconds = (int(g) for g in match.groups())
        result.extra.update(
            {"killed": killed, "mutants": total, "applies": applies, "plans": plans, "mutation_seconds": seconds}
        )
        result.note = match.group(0)
    else:
        result.ok = False
        result.status = result.status or f"no 'Mutation score' line in {result.logs[-1]}"
    return result


def verify_command() -> list[str]:
    """The command `make verify` runs once set up, as the Makefile prints it (`make -n`), so the bench cannot
    measure other arguments than the README's command; the setup step is left out, as (h) leaves out make
    test's (it re-runs pip whenever pyproject.toml is newer than the venv stamp)."""
    printed = subprocess.run(["make", "-n", "verify"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for line in printed.splitlines():
        if line.startswith(".venv/bin/stackprobe verify "):
            return shlex.split(line)
    raise RuntimeError(f"`make -n verify` printed no .venv/bin/stackprobe verify line:\n{printed}")


def reference_verify(ctx: BenchContext) -> PartResult:
    """(v): `make verify`'s command on a fresh cache: init, plan, apply, the checks (the live probes with the
    reference database behind a real PostgreSQL), the second plan, the teardown variables and destroy."""
    return harness_part(ctx, "v", "make verify (its stackprobe verify command)", verify_command(), ctx.fresh_cache("v"))


def full_suite(ctx: BenchContext) -> PartResult:
    if FULL_SUITE_FILE.exists() and not ctx.measure_full_suite:
        result = PartResult("h", "full suite (make test)")
        text = FULL_SUITE_FILE.read_text(encoding="utf-8").strip()
        try:
            result.seconds = round(float(text.split()[0]), 1)
        except (ValueError, IndexError):
            result.ok = False
            result.status = f"{FULL_SUITE_FILE} holds {text!r}, not seconds"
            return result
        result.note = f"the lead's figure, read from {FULL_SUITE_FILE} (not measured in this run)"
        result.extra["source"] = str(FULL_SUITE_FILE)
        return result
    # What `make test` runs once set up. Not `make test` itself: its setup step re-runs pip whenever
    # pyproject.toml is newer than the venv stamp, which is not part of the suite (nor offline-safe).
    argv = [str(VENV_BIN / "pytest"), *FULL_SUITE_ARGS]
    result = harness_part(ctx, "h", "full suite (make test)", argv, ctx.fresh_cache("h"))
    result.note = (result.note + "; " if result.note else "") + "measured in this run"
    return result


def describe(ctx: BenchContext) -> dict[str, list[str]]:
    """What the dry run prints for (b), (b4), (d), (e), (v) and (h)."""
    pytest = str(VENV_BIN / "pytest")
    full = (
        f"read {FULL_SUITE_FILE}"
        if FULL_SUITE_FILE.exists() and not ctx.measure_full_suite
        else ctx.cache_command("h", [pytest, *FULL_SUITE_ARGS])
    )
    return {
        "b": [ctx.cache_command("b", [pytest, *INTEGRATION_ARGS])],
        "b4": [ctx.cache_command("b4", [pytest, *INTEGRATION_ARGS, *XDIST_ARGS])],
        "d": [
            ctx.cache_command("d", [pytest, *UNIT_ARGS]) + "   (cold)",
            ctx.cache_command("d", [pytest, *UNIT_ARGS]) + "   (warm: the same cache again; 0 plans)",
        ],
        "e": [ctx.cache_command("e", [str(VENV_BIN / "stackprobe"), *MUTATE_ARGS])],
        "v": [ctx.cache_command("v", verify_command())],
        "h": [full],
    }
