"""`stackprobe`: verify a Terraform configuration on an emulated AWS, and print what it proved.

Subcommands:
  verify DIR   plan, apply, run every check, second plan, destroy; exit 1 if any check fails
  audit DIR    the same, for any configuration; findings grouped by severity, exit 1 at --fail-on
  parity DIR   the same checks on embedded moto and on LocalStack, side by side; exit 1 if they disagree
  compat       the moto compatibility table (patches, known drift, gaps)
  serve        start the embedded moto and print its endpoint (for poking at it by hand)
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from stackprobe.checks.base import Severity
from stackprobe.errors import StackprobeError
from stackprobe.report.render import render
from stackprobe.session import sigterm_as_interrupt
from stackprobe.settings import CheckSettings, RunSettings, StackSpec

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
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


def _add_stack_arguments(parser: argparse.ArgumentParser) -> None:
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
        "--format",
        choices=("text", "md", "json", "junit", "sarif"),
        default="text",
        help="report format on stdout (default: text)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also write the report to FILE; the format follows the suffix (.md, .json, .xml, .sarif); repeatable",
    )
    _add_check_arguments(parser)
    parser.add_argument("--keep-stack", action="store_true", help="do not destroy at the end")
    parser.add_argument("--terraform", default=None, metavar="BINARY", help="terraform or tofu binary")
    parser.add_argument("--provider-mirror", default=None, metavar="DIR", help="provider filesystem mirror")
    parser.add_argument("--moto-port", type=int, default=0, help="embedded moto port (default: a free port)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="apply/destroy timeout in seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _add_share_plans_argument(parser)


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
    _add_endpoint_argument(parser)


def _add_endpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default=None, metavar="URL", help="a running LocalStack on loopback")


def _add_share_plans_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--share-plans",
        type=Path,
        default=None,
        metavar="DIR",
        help="share pre-apply plans with other stackprobe processes of the same run through DIR (each "
        "still plans what it applies; a plan needed only as JSON is read when another process made it)",
    )


def _add_parity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tf_dir", type=Path, help="Terraform root module directory")
    parser.add_argument(
        "--var-file", action="append", default=[], type=Path, metavar="FILE", help="a .tfvars file (repeatable)"
    )
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a -var (repeatable)")
    parser.add_argument(
        "--teardown-var", action="append", default=[], metavar="NAME=VALUE", help="a -var applied just before destroy"
    )
    parser.add_argument("--format", choices=("text", "md", "json"), default="text", help="table format on stdout")
    parser.add_argument(
        "--output",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also write the table to FILE; the format follows the suffix (.md, .json); repeatable",
    )
    _add_endpoint_argument(parser)
    parser.add_argument("--terraform", default=None, metavar="BINARY", help="terraform or tofu binary")
    parser.add_argument("--provider-mirror", default=None, metavar="DIR", help="provider filesystem mirror")
    parser.add_argument("--timeout", type=float, default=1800.0, help="apply/destroy timeout in seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _add_share_plans_argument(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackprobe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="verify a configuration end to end")
    _add_stack_arguments(verify)
    _add_backend_arguments(verify)
    audit = sub.add_parser("audit", help="audit any configuration; findings by severity")
    _add_stack_arguments(audit)
    _add_backend_arguments(audit)
    audit.add_argument("--fail-on", default="high", help="lowest severity that fails the run (default: high)")
    audit.add_argument(
        "--improvements",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write an IMPROVEMENTS report (Markdown) generated from the findings",
    )
    mutate = sub.add_parser("mutate", help="plant every catalogued defect; each must be killed by a check")
    _add_stack_arguments(mutate)
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
    _add_parity_arguments(parity)
    compat = sub.add_parser("compat", help="print the moto compatibility table")
    compat.add_argument("--markdown", action="store_true", help="as the Markdown committed in docs/backends.md")
    compat.add_argument("--terraform-dir", default="terraform", help="configurations whose services to list")
    serve = sub.add_parser("serve", help="run the embedded moto until interrupted")
    serve.add_argument("--port", type=int, default=0)
    return parser


def _pairs(items: list[str], option: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"stackprobe: {option} expects NAME=VALUE, got {item!r}")
        pairs.append((name.strip(), value))
    return tuple(pairs)


def _spec(args: argparse.Namespace) -> StackSpec:
    return StackSpec(
        tf_dir=args.tf_dir.resolve(),
        var_files=tuple(p.resolve() for p in args.var_file),
        variables=_pairs(args.var, "--var"),
        teardown_variables=_pairs(args.teardown_var, "--teardown-var"),
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
    return RunSettings(
        backend=getattr(args, "backend", "moto"),
        endpoint=getattr(args, "endpoint", None),
        terraform_binary=args.terraform,
        provider_mirror=args.provider_mirror,
        moto_port=getattr(args, "moto_port", 0),
        apply_timeout=args.timeout,
        keep_stack=getattr(args, "keep_stack", False),
        shared_plans=getattr(args, "share_plans", None),
    )


def _progress(quiet: bool) -> tuple[logging.Handler | None, float]:
    if quiet:
        return None, time.monotonic()
    started = time.monotonic()

    class ProgressHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if any(marker in message for marker in PROGRESS_MARKERS):
                sys.stderr.write(f"  [{time.monotonic() - started:5.0f}s] {message}\n")

    handler = ProgressHandler()
    logger = logging.getLogger("stackprobe.terraform")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler, started


def _write_outputs(report: object, outputs: list[Path]) -> None:
    from stackprobe.report.model import RunReport

    assert isinstance(report, RunReport)
    formats = {".md": "md", ".json": "json", ".xml": "junit", ".sarif": "sarif"}
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(report, formats.get(path.suffix, "text")), encoding="utf-8")


def _run_stack(args: argparse.Namespace, title: str) -> int:
    from stackprobe.pipeline import verify

    spec = _spec(args)
    settings = _settings(args)
    _, started = _progress(args.quiet)

    def say(message: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"[{time.monotonic() - started:5.0f}s] {message}\n")

    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        report = verify(
            spec, settings, Path(work_root), title=title, progress=say, check_settings=_check_settings(args)
        )
    sys.stdout.write(render(report, args.format))
    _write_outputs(report, args.output)
    if title == "audit":
        if args.improvements is not None:
            from stackprobe.report.improvements import render_improvements

            args.improvements.parent.mkdir(parents=True, exist_ok=True)
            name = args.tf_dir.resolve().name
            command = f"stackprobe audit {args.tf_dir} --improvements {args.improvements}"
            args.improvements.write_text(render_improvements(report, name, command), encoding="utf-8")
        threshold = Severity.parse(args.fail_on)
        return EXIT_FAILED if report.errors or report.failed_at_or_above(threshold) else 0
    return 0 if report.passed else EXIT_FAILED


def _parity(args: argparse.Namespace) -> int:
    from stackprobe.parity import render as render_parity
    from stackprobe.parity import run_parity

    spec = _spec(args)
    _, started = _progress(args.quiet)

    def say(message: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"[{time.monotonic() - started:5.0f}s] {message}\n")

    with tempfile.TemporaryDirectory(prefix="stackprobe-parity-") as work_root, sigterm_as_interrupt():
        report = run_parity(spec, _settings(args), Path(work_root), progress=say, check_settings=_check_settings(args))
    sys.stdout.write(render_parity(report, args.format))
    for path in args.output:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_parity(report, {".md": "md", ".json": "json"}.get(path.suffix, "text")), "utf-8")
    return 0 if report.ok else EXIT_FAILED


def _mutate(args: argparse.Namespace) -> int:
    from stackprobe.context import build_context
    from stackprobe.mutants.catalogue import load_catalogue
    from stackprobe.mutants.runner import MutationRun
    from stackprobe.session import StackSession

    spec = _spec(args)
    catalogue = load_catalogue(args.catalogue or spec.tf_dir / "mutants.yaml")
    mutants = [m for m in catalogue.mutants if not args.only or m.id in args.only]
    _progress(args.quiet)
    with tempfile.TemporaryDirectory(prefix="stackprobe-") as work_root, sigterm_as_interrupt():
        session = StackSession(_settings(args), Path(work_root))
        try:
            if not args.quiet:
                sys.stderr.write(f"==> deploying {spec.name}, then {len(mutants)} mutants\n")
            session.deploy(spec)
            stack = session.stack(spec)
            check_settings = _check_settings(args)
            run = MutationRun(stack, lambda: build_context(stack, check_settings))
            report = run.run(mutants, isolated=args.isolated)
        finally:
            session.close()
    sys.stdout.write(report.render() + "\n")
    return 0 if report.score == 1.0 else EXIT_FAILED


def _compat(args: argparse.Namespace) -> int:
    from stackprobe.backends.compat.table import text_table
    from stackprobe.report.backends_doc import render

    sys.stdout.write(render(Path(args.terraform_dir)) if args.markdown else text_table())
    return 0


def _serve(args: argparse.Namespace) -> int:
    from stackprobe.backends.moto import EmbeddedMoto

    emulator = EmbeddedMoto(port=args.port)
    backend = emulator.start()
    sys.stdout.write(f"{backend.endpoint}\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("verify", "audit"):
            return _run_stack(args, args.command)
        if args.command == "parity":
            return _parity(args)
        if args.command == "mutate":
            return _mutate(args)
        if args.command == "compat":
            return _compat(args)
        if args.command == "serve":
            return _serve(args)
    except StackprobeError as exc:
        sys.stderr.write(f"stackprobe: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("stackprobe: interrupted; what was applied has been destroyed.\n")
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
