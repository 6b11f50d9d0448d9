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
from stackprobe.report.model import RunOutcome, RunReport
from stackprobe.report.render import render
from stackprobe.run import sigterm_as_interrupt
from stackprobe.settings import CheckSettings, Lifetime, RunSettings, StackSpec, default_cache_dir

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_NOT_RUN = 2
EXIT_INTERRUPTED = 130
REPORT_FORMATS = ("text", "md", "json", "junit", "sarif")
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
def _add_stack_arguments(parser: argparse.ArgumentParser, *, optional_dir: bool = False) -> None:
    if optional_dir:
        parser.add_argument("tf_dir", type=Path, nargs="?", default=None, help="Terraform root module directory")
    else:
        parser.add_argument("tf_dir", type=Path, help="Terraform root module directory")
    parser.add_argument(
        "--var-file", action="append", default=[], type=Path, metavar="FILE", help="a .tfvars file (repeatable)"
    )
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a -var (repeatable)")
    parser.add_argument(
        "--teardown-var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a -var applied only just before destroy, e.g. a test-only switch that lifts "
        "deletion protection (repeatable)",
    )
    parser.add_argument(
        "--prerequisites",
        type=Path,
        default=None,
        metavar="DIR",
        help="a configuration applied first, on the same emulator, holding what DIR expects to exist already "
        "(a VPC, a certificate, a zone); its outputs become DIR's variables of the same name",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--terraform", default=None, metavar="BINARY", help="terraform or tofu binary")
    parser.add_argument("--provider-mirror", default=None, metavar="DIR", help="provider filesystem mirror")
    parser.add_argument("--moto-port", type=int, default=0, help="moto port (default: a free port)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="apply/destroy timeout in seconds")
    parser.add_argument(
        "--plan-cache",
        choices=("on", "off"),
        default="on",
        help="keep pre-apply plans by digest in the user cache, shared with other processes and later runs, "
        "and read one from there when only its JSON is needed (default: on)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=REPORT_FORMATS, default="text", help="report format on stdout")
    parser.add_argument(
        "--output",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also write the report to FILE; the format follows the suffix (.md, .json, .xml, .sarif); repeatable",
    )


def _add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID",
        help="run only these checks (ids or patterns such as 's3.*'; repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--skip-check",
        action="append",
        default=[],
        metavar="ID",
        help="do not run these checks (ids or patterns; repeatable, or comma-separated). Skipping "
        "lifecycle.idempotent skips the second plan; skipping lifecycle.clean-teardown skips the destroy when "
        "the emulator is the run's own embedded moto (it is discarded with everything in it)",
    )


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--container",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="how to run the task definitions' container NAME locally for the live probes: a command (run from "
        "--app-dir, with the container's environment and PORT set to a free port; {port} is replaced by it), or "
        "docker:IMAGE (needs a Docker engine); repeatable",
    )
    parser.add_argument(
        "--app-dir", type=Path, default=None, metavar="DIR", help="where --container commands run (default: DIR)"
    )
    parser.add_argument(
        "--environment",
        choices=("production", "staging", "development", "auto"),
        default="auto",
        help="judge the stack as this environment (default auto: from environment tags, then variables and var "
        "files; production rules when nothing says)",
    )


def _add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=("moto", "localstack"),
        default="moto",
        help="moto (embedded, the default) or localstack (a running one at --endpoint / $AWS_ENDPOINT_URL, a "
        "container, or the open-source runtime started here); on LocalStack, a plan that needs services it "
        "does not serve is kept as its result and applied on the embedded moto, as the report says",
    )
    parser.add_argument("--endpoint", default=None, metavar="URL", help="a running LocalStack on loopback")


def _add_ttl_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a live session's emulator stops itself after this long without a request (default: 8 hours; 0: never)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackprobe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("verify", "verify a configuration end to end"), ("audit", "audit any configuration")):
        command = sub.add_parser(name, help=text)
        _add_stack_arguments(command)
        _add_report_arguments(command)
        _add_check_arguments(command)
        _add_selection_arguments(command)
        _add_backend_arguments(command)
        _add_run_arguments(command)
        lifetime = command.add_mutually_exclusive_group()
        lifetime.add_argument(
            "--keep-stack",
            action="store_true",
            help="leave the stack running at the end, in a new live session (see `status` and `down`)",
        )
        lifetime.add_argument(
            "--reuse",
            action="store_true",
            help="attach to the stack's live session (or start one) and leave it running; an unchanged "
            "configuration runs no terraform, a changed one an incremental apply",
        )
        _add_ttl_argument(command)
    audit = sub.choices["audit"]
    audit.add_argument("--fail-on", default="high", help="lowest severity that fails the run (default: high)")
    audit.add_argument(
        "--improvements",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write an IMPROVEMENTS report (Markdown) generated from the findings",
    )
    up = sub.add_parser("up", help="apply a configuration to a detached emulator and leave both running")
    _add_stack_arguments(up)
    _add_check_arguments(up)
    _add_backend_arguments(up)
    _add_run_arguments(up)
    _add_ttl_argument(up)
    status = sub.add_parser("status", help="list the live sessions")
    status.add_argument("tf_dir", type=Path, nargs="?", default=None, help="only the sessions of this directory")
    status.add_argument("--json", action="store_true", help="as JSON")
    down = sub.add_parser("down", help="destroy a live session's stack and stop its emulator")
    _add_stack_arguments(down, optional_dir=True)
    _add_run_arguments(down)
    down.add_argument(
        "--force", action="store_true", help="forget a session whose emulator is gone (stops it if it still runs)"
    )
    mutate = sub.add_parser("mutate", help="plant every catalogued defect; each must be killed by a check")
    _add_stack_arguments(mutate)
    _add_check_arguments(mutate)
    _add_run_arguments(mutate)
    mutate.add_argument("--catalogue", type=Path, default=None, help="mutant catalogue (default: DIR/mutants.yaml)")
    mutate.add_argument("--only", action="append", default=[], metavar="ID", help="run only these mutants")
    mutate.add_argument(
        "--isolated",
        action="store_true",
        help="one apply per mutant instead of batches (slow; proves batching changes nothing)",
    )
    parity = sub.add_parser(
        "parity", help="the same checks on embedded moto and on LocalStack; disagreements are emulator findings"
    )
    _add_stack_arguments(parity)
    _add_check_arguments(parity)
    _add_run_arguments(parity)
    parity.add_argument("--endpoint", default=None, metavar="URL", help="a running LocalStack on loopback")
    parity.add_argument("--format", choices=("text", "md", "json"), default="text", help="table format on stdout")
    parity.add_argument(
        "--output",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also write the table to FILE; the format follows the suffix (.md, .json); repeatable",
    )
    compat = sub.add_parser("compat", help="print the moto compatibility table")
    compat.add_argument("--markdown", action="store_true", help="as the Markdown committed in docs/backends.md")
    compat.add_argument("--terraform-dir", default="terraform", help="configurations whose services to list")
    serve = sub.add_parser("serve", help="run the patched moto until interrupted")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    serve.add_argument("--region", default="eu-west-1")
    serve.add_argument("--ready-file", type=Path, default=None, help="write the endpoint and token here when ready")
    serve.add_argument("--idle-ttl", type=float, default=0.0, help="exit after this many idle seconds (0: never)")
    return parser


# -- resolving arguments ---------------------------------------------------------------------------
def _pairs(items: list[str], option: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise StackprobeError(f"{option} expects NAME=VALUE, got {item!r}", f"write it as {option} NAME=VALUE.")
        pairs.append((name.strip(), value))
    return tuple(pairs)


def _names(values: list[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _spec(args: argparse.Namespace) -> StackSpec:
    prerequisites = getattr(args, "prerequisites", None)
    return StackSpec(
        tf_dir=args.tf_dir.resolve(),
        var_files=tuple(p.resolve() for p in args.var_file),
        variables=_pairs(args.var, "--var"),
        teardown_variables=_pairs(args.teardown_var, "--teardown-var"),
        prerequisites=StackSpec(tf_dir=prerequisites.resolve()) if prerequisites is not None else None,
    )


def _check_settings(args: argparse.Namespace) -> CheckSettings:
    app_dir = getattr(args, "app_dir", None)
    environment = getattr(args, "environment", "auto")
    return CheckSettings(
        app_dir=app_dir.resolve() if app_dir is not None else None,
        container_commands=_pairs(getattr(args, "container", []), "--container"),
        environment=None if environment == "auto" else environment,
    )


def _settings(args: argparse.Namespace) -> RunSettings:
    cache = default_cache_dir()
    lifetime = Lifetime.EPHEMERAL
    if getattr(args, "keep_stack", False):
        lifetime = Lifetime.KEEP
    elif getattr(args, "reuse", False) or args.command == "up":
        lifetime = Lifetime.REUSE
    settings = RunSettings(
        backend=getattr(args, "backend", "moto"),
        endpoint=getattr(args, "endpoint", None),
        terraform_binary=args.terraform,
        provider_mirror=args.provider_mirror,
        moto_port=getattr(args, "moto_port", 0),
        apply_timeout=args.timeout,
        lifetime=lifetime,
        cache_dir=cache,
        plan_store=cache / "plans" if args.plan_cache == "on" else None,
    )
    ttl = getattr(args, "ttl", None)
    return replace(settings, idle_ttl=ttl) if ttl is not None else settings


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
    from stackprobe.pipeline import verify

    spec = _spec(args)
    settings = _settings(args)
    threshold = Severity.parse(args.fail_on) if args.command == "audit" else None
    say = _progress(args.quiet)
    _say_ignored(say)
    selected = select(_names(args.check), _names(args.skip_check))
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        report = verify(
            spec,
            settings,
            Path(work_root),
            title=args.command,
            checks=selected,
            progress=say,
            check_settings=_check_settings(args),
        )
    sys.stdout.write(render(report, args.format))
    _write_outputs(report, args.output)
    if args.command == "audit" and args.improvements is not None:
        from stackprobe.report.improvements import render_improvements

        args.improvements.parent.mkdir(parents=True, exist_ok=True)
        name = args.tf_dir.resolve().name
        command = f"stackprobe audit {args.tf_dir} --improvements {args.improvements}"
        args.improvements.write_text(render_improvements(report, name, command), encoding="utf-8")
    return exit_status(report, threshold)


def _up(args: argparse.Namespace) -> int:
    from stackprobe.live import LiveSessionError, LiveSessions, open_live

    spec = _spec(args)
    settings = _settings(args)
    say = _progress(args.quiet)
    _say_ignored(say)
    sessions = LiveSessions(settings.cache_dir)
    with sessions.hold(spec, "up"), sigterm_as_interrupt():
        if sessions.load(spec) is not None:
            raise LiveSessionError(
                f"A live session of {spec.name} already runs",
                f"attach to it (`pytest --stackprobe-reuse`, `stackprobe verify ... --reuse`), see it with "
                f"`stackprobe status`, or end it with `stackprobe down {spec.cli_arguments()}`.",
            )
        with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root:
            opened = open_live(spec, settings, Path(work_root), create=True, say=say)
            try:
                ending = opened.stack.end()
            finally:
                opened.run.close()
    sys.stdout.write(
        f"{ending.render()}\n"
        f"  boto3:   AWS_ENDPOINT_URL={opened.session.endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n"
    )
    return EXIT_OK


def _sessions_for(args: argparse.Namespace, settings: RunSettings) -> list[StackSpec]:
    """The live sessions `down` may mean: its exact spec, else the only session of that directory."""
    from stackprobe.live import LiveSessionError, LiveSessions

    sessions = LiveSessions(settings.cache_dir)
    if args.tf_dir is not None:
        spec = _spec(args)
        if sessions.load(spec) is not None:
            return [spec]
        candidates = [s for s in sessions.all() if s.spec.tf_dir == spec.tf_dir]
    else:
        candidates = sessions.all()
    if len(candidates) == 1:
        found = candidates[0].spec
        teardown = _pairs(args.teardown_var, "--teardown-var") or found.teardown_variables
        return [replace(found, teardown_variables=teardown)]
    if not candidates:
        raise LiveSessionError("No live session matches", "`stackprobe status` lists the live sessions.")
    listed = "; ".join(f"stackprobe down {s.spec.cli_arguments()}" for s in candidates)
    raise LiveSessionError(
        f"{len(candidates)} live sessions match", f"name the one to end with its var files and variables: {listed}."
    )


def _down(args: argparse.Namespace) -> int:
    from stackprobe.live import end_live

    settings = _settings(args)
    say = _progress(args.quiet)
    (spec,) = _sessions_for(args, settings)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        report = end_live(spec, settings, Path(work_root), force=args.force, say=say)
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
    from stackprobe.live import LiveSessions, session_status

    settings = RunSettings(cache_dir=default_cache_dir())
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
    from stackprobe.parity import render as render_parity
    from stackprobe.parity import run_parity

    spec = _spec(args)
    say = _progress(args.quiet)
    with tempfile.TemporaryDirectory(prefix="stackprobe-parity-") as work_root, sigterm_as_interrupt():
        report = run_parity(spec, _settings(args), Path(work_root), progress=say, check_settings=_check_settings(args))
    sys.stdout.write(render_parity(report, args.format))
    for path in args.output:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_parity(report, {".md": "md", ".json": "json"}.get(path.suffix, "text")), "utf-8")
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _mutate(args: argparse.Namespace) -> int:
    from stackprobe.context import build_context
    from stackprobe.inventory import TeardownReport
    from stackprobe.mutants.catalogue import load_catalogue
    from stackprobe.mutants.runner import MutationRun
    from stackprobe.run import Run

    spec = _spec(args)
    catalogue = load_catalogue(args.catalogue or spec.tf_dir / "mutants.yaml")
    mutants = [m for m in catalogue.mutants if not args.only or m.id in args.only]
    say = _progress(args.quiet)
    check_settings = _check_settings(args)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        run = Run(_settings(args), Path(work_root), workspaces_outlive_run=False)
        try:
            say(f"==> deploying {spec.name}, then {len(mutants)} mutants")
            stack = run.stack(spec)
            deployed = stack.deploy()
            report = MutationRun(stack, lambda: build_context(deployed, check_settings)).run(
                mutants, isolated=args.isolated
            )
            say("==> destroy, then inventory the emulator")
            ending = stack.end()
        finally:
            run.close()
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

    return serve(args.port, args.host, args.region, args.ready_file, args.idle_ttl)


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


def main(argv: Sequence[str] | None = None) -> int:
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
