"""(g) the peer: native `terraform test` with bench/native/tests/*.tftest.hcl, on the same emulator, override,
CLI config and environment as (a)."""

from __future__ import annotations

import re
import shlex
import shutil

from .commands import last_match, log_tail, run_timed
from .config import NATIVE
from .context import BenchContext
from .results import PartResult
from .sampling import TreeSampler
from .workspace import bare_environ, copy_stack, create_public_zone, emulator, var_arguments, write_cli_config

TFTEST_SUMMARY = re.compile(r"(Success|Failure)! (\d+) passed, (\d+) failed(?:, (\d+) skipped)?")


def native_test(ctx: BenchContext) -> PartResult:
    result = PartResult("g", "native terraform test (bench/native)")
    root = ctx.work / "native"
    cli_config = ctx.work / "native.tfrc"
    with TreeSampler() as sampler:
        write_cli_config(cli_config)
        with emulator(ctx.logs / "g.serve.log") as (endpoint, serve_seconds):
            result.extra["serve_seconds"] = round(serve_seconds, 2)
            stack = copy_stack(root / "terraform", endpoint, native=True)
            env = bare_environ(endpoint, cli_config)
            for name, arguments in (
                ("init", ["init", "-input=false", "-no-color"]),
                ("test", ["test", "-no-color", *var_arguments(create_public_zone(endpoint))]),
            ):
                if not result.ok:
                    break
                ctx.say(f"(g) terraform {name}")
                timed = run_timed(
                    [ctx.binary, *arguments],
                    cwd=stack,
                    env=env,
                    log=ctx.logs / f"g.{name}.log",
                    timeout=ctx.timeout,
                )
                result.steps[name] = round(timed.seconds, 2)
                result.step_status[name] = timed.returncode
                result.logs.append(timed.log)
                if not timed.ok:
                    result.ok = False
                    result.status = f"terraform {name} exit {timed.returncode} (see {timed.log})"
                    ctx.say(f"(g) terraform {name} failed:\n{log_tail(timed.log, 40)}")
    result.take_sample(sampler.stats)
    result.seconds = round(sum(result.steps.values()), 2)
    result.invocations = len(result.steps)
    result.invocation_breakdown = {name: 1 for name in result.steps}
    runs = sorted(p.name for p in (NATIVE / "tests").glob("*.tftest.hcl"))
    run_blocks = sum(
        len(re.findall(r'^run\s+"', p.read_text(encoding="utf-8"), re.M))
        for p in (NATIVE / "tests").glob("*.tftest.hcl")
    )
    result.extra["test_files"] = runs
    result.extra["run_blocks"] = run_blocks
    summary = last_match(ctx.logs / "g.test.log", TFTEST_SUMMARY)
    if summary:
        result.extra["runs_passed"] = int(summary.group(2))
        result.extra["runs_failed"] = int(summary.group(3))
        result.note = summary.group(0)
    if not ctx.keep:
        shutil.rmtree(root, ignore_errors=True)
    return result


def describe() -> dict[str, list[str]]:
    """What the dry run prints for (g)."""
    tests = ", ".join(p.name for p in sorted((NATIVE / "tests").glob("*.tftest.hcl")))
    return {
        "g": [
            f"stackprobe serve; terraform init; terraform test -no-color {shlex.join(var_arguments())} (tests: {tests})"
        ]
    }
