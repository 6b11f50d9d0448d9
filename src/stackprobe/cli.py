"""`stackprobe`: verify a Terraform configuration on an emulated AWS, and print what it proved.

Subcommands:
  verify DIR   plan, apply, run every check, second plan, destroy; exit 1 if any check fails
  audit DIR    the same, for any configuration; findings grouped by severity, exit 1 at --fail-on
  up DIR       apply DIR to a detached emulator and leave both running (a live session)
  status [DIR] the live sessions: stack, endpoint, age, whether the configuration changed since
  down [DIR]   destroy a live session's stack, prove the emulator holds nothing it made, stop it
  parity DIR   the same checks on embedded moto and on LocalStack, side by side; exit 1 if they disagree
  mutate DIR   plant every catalogued defect; each must be killed by a check
  compat       the moto compatibility table (patches, known drift, gaps)
  serve        run the patched moto until interrupted (what a live session's emulator is)

Exit statuses: 0 nothing at or above the threshold failed; 1 findings (or a teardown that left
something behind); 2 the configuration or the harness could not run (bad input included); 130
interrupted, after destroying what was applied.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from stackprobe.checks.base import Severity
from stackprobe.errors import StackprobeError
from stackprobe.lifecycle.run import sigterm_as_interrupt
from stackprobe.report.model import RunOutcome, RunReport
from stackprobe.report.render import render
from stackprobe.settings import Settings, StackSpec, add_arguments, from_namespace

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_NOT_RUN = 2
EXIT_INTERRUPTED = 130
OUTPUT_SUFFIXES = {".md": "md", ".json": "json", ".xml": "junit", ".sarif": "sarif"}
PROGRESS_MARKERS = (
    "Creating...",
    "Creation complete",
    "Still creating",
    "Destroying...",
    "Destruction complete",
    "Still destroying",
    "Modifying...",
    "Error:",
)


# -- arguments -------------------------------------------------------------------------------------
VERB_HELP = {
    "verify": "verify a configuration end to end",
    "audit": "audit any configuration",
    "up": "apply a configuration to a detached emulator and leave both running",
    "status": "list the live sessions",
    "down": "destroy a live session's stack and stop its emulator",
    "mutate": "plant every catalogued defect; each must be killed by a check",
    "parity": "the same checks on embedded moto and on LocalStack; disagreements are emulator findings",
    "compat": "print the moto compatibility table",
    "serve": "run the patched moto until interrupted",
}


def build_parser() -> argparse.ArgumentParser:
    """Every verb's options, generated from the one settings table (stackprobe.settings.SETTINGS)."""
    parser = argparse.ArgumentParser(
        prog="stackprobe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for verb, text in VERB_HELP.items():
        add_arguments(sub.add_parser(verb, help=text), verb, optional_dir=verb in ("down", "status"))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return from_namespace(args)


def _spec(settings: Settings) -> StackSpec:
    assert settings.stack is not None, "every verb that runs a stack takes its directory"
    return settings.stack


def _progress(quiet: bool) -> Callable[[str], None]:
    """Where progress goes: stderr with the seconds since start (terraform's own lines included)."""
    started = time.monotonic()

    def say(message: str) -> None:
        if not quiet:
            sys.stderr.write(f"[{time.monotonic() - started:5.0f}s] {message}\n")

    if not quiet:

        class ProgressHandler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                message = record.getMessage()
                if any(marker in message for marker in PROGRESS_MARKERS):
                    sys.stderr.write(f"  [{time.monotonic() - started:5.0f}s] {message}\n")

        logger = logging.getLogger("stackprobe.terraform")
        logger.addHandler(ProgressHandler())
        logger.setLevel(logging.INFO)
    return say


def _say_ignored(say: Callable[[str], None]) -> None:
    import os

    from stackprobe.backends.guard import ignored_from_environment

    ignored = ignored_from_environment(os.environ)
    if ignored:
        say(f"ignored from the environment (the emulator's replace them): {', '.join(ignored)}")


# -- commands --------------------------------------------------------------------------------------
def _write_outputs(report: RunReport, outputs: list[Path]) -> None:
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(report, OUTPUT_SUFFIXES.get(path.suffix, "text")), encoding="utf-8")


def exit_status(report: RunReport, threshold: Severity | None) -> int:
    """0, 1 or 2 as the module docstring says (`threshold` None: any failing check counts)."""
    if report.outcome != RunOutcome.COMPLETE:
        return EXIT_NOT_RUN
    if threshold is None:
        return EXIT_OK if report.passed else EXIT_FINDINGS
    return EXIT_FINDINGS if report.errors or report.failed_at_or_above(threshold) else EXIT_OK


def _run_stack(args: argparse.Namespace) -> int:
    from stackprobe.checks import select
    from stackprobe.lifecycle.verify import verify
    from stackprobe.report.gate import read_gate

    settings = _settings(args)
    spec = _spec(settings)
    threshold = Severity.parse(settings.report.fail_on) if args.command == "audit" else None
    say = _progress(settings.report.quiet)
    _say_ignored(say)
    selected = select(list(settings.only_checks), list(settings.skip_checks))
    # Read before anything is deployed: an unusable skip comment or baseline is bad input, reported in seconds.
    gate = read_gate(spec.tf_dir, settings.report.baseline)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        report = verify(
            spec,
            settings.run,
            Path(work_root),
            title=args.command,
            checks=selected,
            progress=say,
            check_settings=settings.checks,
        )
    gate.apply(report)
    written = settings.report.write_baseline
    if written is not None and (report.outcome != RunOutcome.COMPLETE or report.interrupted):
        sys.stderr.write(f"stackprobe: no baseline written to {written}: the run did not judge the whole stack.\n")
    elif written is not None:
        say(f"baseline of {len(gate.record(report, written, spec.tf_dir).entries)} findings written to {written}")
    sys.stdout.write(render(report, settings.report.format))
    _write_outputs(report, list(settings.report.outputs))
    improvements = settings.report.improvements
    if args.command == "audit" and improvements is not None:
        from stackprobe.report.improvements import render_improvements

        improvements.parent.mkdir(parents=True, exist_ok=True)
        command = f"stackprobe audit {args.tf_dir} --improvements {args.improvements}"
        directory = (str(spec.tf_dir), str(args.tf_dir))
        improvements.write_text(render_improvements(report, spec.tf_dir.name, command, directory), encoding="utf-8")
    if report.interrupted:
        raise KeyboardInterrupt("the run was interrupted; every report asked for was written")
    return exit_status(report, threshold)


def _up(args: argparse.Namespace) -> int:
    from stackprobe.lifecycle.stack_run import RunContext, StackRun

    settings = _settings(args)
    spec = _spec(settings)
    say = _progress(settings.report.quiet)
    _say_ignored(say)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        context = RunContext(Path(work_root), say=say, purpose="up")
        with StackRun.open(spec, settings.run, context, start_only=True) as stack_run:
            endpoint = stack_run.run.backend.endpoint
            ending = stack_run.end()
    sys.stdout.write(
        f"{ending.render()}\n  boto3:   AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n"
    )
    return EXIT_OK


def _sessions_for(settings: Settings) -> list[StackSpec]:
    """The live sessions `down` may mean: its exact spec, else the only session of that directory."""
    from stackprobe.lifecycle.live import LiveSessionError, LiveSessions

    sessions = LiveSessions(settings.run.cache_dir)
    if settings.stack is not None:
        spec = settings.stack
        if sessions.load(spec) is not None:
            return [spec]
        candidates = [s for s in sessions.all() if s.spec.tf_dir == spec.tf_dir]
    else:
        candidates = sessions.all()
    if len(candidates) == 1:
        found = candidates[0].spec
        teardown = settings.stack.teardown_variables if settings.stack is not None else ()
        return [replace(found, teardown_variables=teardown or found.teardown_variables)]
    if not candidates:
        raise LiveSessionError("No live session matches", "`stackprobe status` lists the live sessions.")
    listed = "; ".join(f"stackprobe down {s.spec.cli_arguments()}" for s in candidates)
    raise LiveSessionError(
        f"{len(candidates)} live sessions match", f"name the one to end with its var files and variables: {listed}."
    )


def _down(args: argparse.Namespace) -> int:
    from stackprobe.lifecycle.live import end_live

    settings = _settings(args)
    say = _progress(settings.report.quiet)
    (spec,) = _sessions_for(settings)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        report = end_live(spec, settings.run, Path(work_root), force=args.force, say=say)
    if report is None:
        sys.stdout.write(f"Forgot the live session of {spec.name}: its emulator was gone.\n")
        return EXIT_OK
    sys.stdout.write(report.render() + "\n")
    if not report.clean:
        sys.stdout.write(
            f"The session is kept so nothing is lost: fix the cause, then `stackprobe down {spec.cli_arguments()}` "
            "again (or --force to forget it).\n"
        )
    return EXIT_OK if report.clean else EXIT_FINDINGS


def _status(args: argparse.Namespace) -> int:
    from stackprobe.lifecycle.live import LiveSessions, session_status

    settings = _settings(args).run
    wanted = args.tf_dir.resolve() if args.tf_dir is not None else None
    found = [s for s in LiveSessions(settings.cache_dir).all() if wanted is None or s.spec.tf_dir == wanted]
    statuses = [session_status(session, settings) for session in found]
    if args.json:
        sys.stdout.write(json.dumps([s.to_json() for s in statuses], indent=2) + "\n")
    elif not statuses:
        sys.stdout.write("No live sessions.\n")
    else:
        now = time.time()
        sys.stdout.write("".join(s.line(now) + "\n" for s in statuses))
    return EXIT_OK


def _parity(args: argparse.Namespace) -> int:
    from stackprobe.lifecycle.parity import render as render_parity
    from stackprobe.lifecycle.parity import run_parity

    settings = _settings(args)
    say = _progress(settings.report.quiet)
    with tempfile.TemporaryDirectory(prefix="stackprobe-parity-") as work_root, sigterm_as_interrupt():
        report = run_parity(
            _spec(settings), settings.run, Path(work_root), progress=say, check_settings=settings.checks
        )
    sys.stdout.write(render_parity(report, args.table_format))
    for path in settings.report.outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_parity(report, {".md": "md", ".json": "json"}.get(path.suffix, "text")), "utf-8")
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _mutate(args: argparse.Namespace) -> int:
    from stackprobe.aws.inventory import TeardownReport
    from stackprobe.lifecycle.context import build_context
    from stackprobe.lifecycle.stack_run import RunContext, StackRun
    from stackprobe.mutants.catalogue import load_catalogue
    from stackprobe.mutants.runner import MutationRun

    settings = _settings(args)
    spec = _spec(settings)
    catalogue = load_catalogue(args.catalogue or spec.tf_dir / "mutants.yaml")
    only = [name.strip() for item in args.only_mutants for name in item.split(",") if name.strip()]
    mutants = [m for m in catalogue.mutants if not only or m.id in only]
    say = _progress(settings.report.quiet)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        context = RunContext(Path(work_root), say=say, workspaces_outlive_run=False, purpose="mutate")
        with StackRun.open(spec, settings.run, context) as stack_run:
            say(f"==> deploying {spec.name}, then {len(mutants)} mutants")
            deployed = stack_run.deploy()
            report = MutationRun(stack_run.deployment(), lambda: build_context(deployed, settings.checks)).run(
                mutants, isolated=args.isolated
            )
            say("==> destroy, then inventory the emulator")
            ending = stack_run.end()
    sys.stdout.write(report.render() + "\n" + ending.render() + "\n")
    clean = not isinstance(ending, TeardownReport) or ending.clean
    return EXIT_OK if report.score == 1.0 and clean else EXIT_FINDINGS


def _compat(args: argparse.Namespace) -> int:
    from stackprobe.backends.compat.table import text_table
    from stackprobe.report.backends_doc import render as render_backends

    sys.stdout.write(render_backends(Path(args.terraform_dir)) if args.markdown else text_table())
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from stackprobe.backends.moto import serve

    return serve(args.port, args.host, args.region, args.ready_file, args.serve_idle_ttl)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "verify": _run_stack,
    "audit": _run_stack,
    "up": _up,
    "status": _status,
    "down": _down,
    "parity": _parity,
    "mutate": _mutate,
    "compat": _compat,
    "serve": _serve,
}


# The cyclic collector's first threshold, in allocations (CPython's default is 700). A run decodes botocore's and
# moto's service models, millions of long-lived objects, and with the default the collector ran about 1,450
# times and traversed all of them ten times in one audit of a small stack: 2.2-2.4 of its 8.8-9.9 CPU-s of
# Python. At 50,000: about 20 collections, 1.2 CPU-s, the audit 7.7-8.0 CPU-s. Memory is freed by reference
# counting as before; only cycles wait longer.
GC_FIRST_THRESHOLD = 50_000


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(GC_FIRST_THRESHOLD, 20, 10)
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except StackprobeError as exc:
        sys.stderr.write(f"stackprobe: {exc}\n")
        return EXIT_NOT_RUN
    except ValueError as exc:  # e.g. an unknown --fail-on severity
        sys.stderr.write(f"stackprobe: {exc}\n")
        return EXIT_NOT_RUN
    except KeyboardInterrupt:
        sys.stderr.write("stackprobe: interrupted; what was applied has been destroyed.\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
