"""(a) bare terraform on the reference stack, the baseline of most ratios; (a20) the same with -parallelism=20."""

from __future__ import annotations

import shlex
import shutil

from .commands import log_tail, run_timed
from .context import BenchContext
from .results import PartResult
from .sampling import TreeSampler
from .workspace import bare_environ, copy_stack, create_public_zone, emulator, var_arguments, write_cli_config


def bare_terraform(ctx: BenchContext, part: str = "a", parallelism: int | None = None) -> PartResult:
    """(a): bare terraform; (a20): the same with -parallelism=20, a lever that was tried and rejected."""
    flags = [f"-parallelism={parallelism}"] if parallelism else []
    result = PartResult(part, "bare terraform (init, apply, plan, destroy)" + (" ".join(["", *flags])))
    root = ctx.work / f"bare-{part}"
    cli_config = ctx.work / f"{part}.tfrc"
    with TreeSampler() as sampler:
        source = write_cli_config(cli_config)
        with emulator(ctx.logs / f"{part}.serve.log") as (endpoint, serve_seconds):
            result.extra["serve_seconds"] = round(serve_seconds, 2)
            result.extra["provider_source"] = source
            stack = copy_stack(root / "terraform", endpoint, native=False)
            env = bare_environ(endpoint, cli_config)
            variables = var_arguments(create_public_zone(endpoint))
            steps: list[tuple[str, list[str]]] = [
                ("init", ["init", "-input=false", "-no-color"]),
                ("apply", ["apply", "-auto-approve", "-input=false", "-no-color", *flags, *variables]),
                ("plan", ["plan", "-detailed-exitcode", "-input=false", "-no-color", *flags, *variables]),
                ("destroy", ["destroy", "-auto-approve", "-input=false", "-no-color", *flags, *variables]),
            ]
            for name, arguments in steps:
                if name in ("apply", "plan") and not result.ok:
                    continue  # after a failed init or apply, go straight to destroy
                if name == "destroy" and "apply" not in result.steps:
                    continue
                ctx.say(f"({part}) terraform {name}")
                timed = run_timed(
                    [ctx.binary, *arguments],
                    cwd=stack,
                    env=env,
                    log=ctx.logs / f"{part}.{name}.log",
                    timeout=ctx.timeout,
                )
                result.steps[name] = round(timed.seconds, 2)
                result.step_status[name] = timed.returncode
                result.logs.append(timed.log)
                # plan -detailed-exitcode: 2 means "changes present" (emulator drift), not failure.
                if not (timed.ok or (name == "plan" and timed.returncode == 2)):
                    result.ok = False
                    result.status = f"terraform {name} exit {timed.returncode} (see {timed.log})"
                    ctx.say(f"({part}) terraform {name} failed:\n{log_tail(timed.log)}")
    result.take_sample(sampler.stats)
    result.seconds = round(sum(result.steps.values()), 2)
    result.invocations = len(result.steps)
    result.invocation_breakdown = {name: 1 for name in result.steps}
    plan_code = result.step_status.get("plan")
    if plan_code is not None:
        result.extra["plan_exit"] = plan_code
        result.note = "plan after apply: " + ("no changes" if plan_code == 0 else "changes (emulator drift)")
    if not ctx.keep:
        shutil.rmtree(root, ignore_errors=True)
    return result


def describe() -> dict[str, list[str]]:
    """What the dry run prints for (a) and (a20)."""
    return {
        "a": [
            "stackprobe serve; terraform init / apply / plan -detailed-exitcode / destroy "
            + shlex.join(var_arguments())
        ],
        "a20": ["the same as (a), with -parallelism=20 on apply, plan and destroy"],
    }
