"""A plan-only audit, for the corpus configurations marked `mode: plan`: what `stackprobe audit` reports,
without the apply.

    python tests/corpus/plan_audit.py tests/corpus/NAME [stackprobe audit options...]

The configuration is prepared, initialised and planned exactly as `stackprobe audit` does it (the same
settings, workspace copy, stand-ins and plan store, on an embedded moto), and then judged by the checks that
need nothing deployed: plan-level checks and configuration-level (fidelity `source`) ones. The JSON report
on stdout has the shape `stackprobe audit --format json` writes; its title says "plan only", and every check
that needs a deployed stack is left out of it (not reported as not applicable, which would be a verdict).
Exit status 0 when the audit ran, 2 when the configuration could not be planned (the report says why).

The corpus runs these beside the full audits: a configuration whose defects are all judged at plan or
configuration level costs an init and a plan instead of an init, a plan and an apply.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from stackprobe.checks import run_checks, select
from stackprobe.checks.base import CheckContext, Fidelity
from stackprobe.cli import build_parser
from stackprobe.errors import StackprobeError
from stackprobe.lifecycle.stack_run import RunContext, StackRun
from stackprobe.report.model import RunOutcome, RunReport
from stackprobe.report.render import render
from stackprobe.settings import from_namespace


def main(argv: list[str]) -> int:
    settings = from_namespace(build_parser().parse_args(["audit", *argv]))
    spec = settings.stack
    assert spec is not None, "plan_audit.py takes the configuration's directory"
    chosen = [
        c
        for c in select(list(settings.only_checks), list(settings.skip_checks))
        if c.plan_level or c.fidelity is Fidelity.SOURCE
    ]
    report = RunReport(title="audit (plan only)", stack=spec.name, backend=settings.run.backend, source_dir=spec.tf_dir)
    with tempfile.TemporaryDirectory(prefix="stackprobe-plan-") as work:
        context = RunContext(Path(work), workspaces_outlive_run=False, purpose="corpus plan", discard_unproven=True)
        try:
            with StackRun.open(spec, settings.run, context) as stack_run:
                plan = stack_run.plan_json()
                prepared = stack_run.run.prepared(spec)
                judged = CheckContext(
                    backend=stack_run.run.backend,
                    plan=plan,
                    source_dir=spec.tf_dir,
                    var_files=spec.var_files,
                    work_dir=prepared.workspace().module_dir,
                    environment=settings.checks.environment,
                )
                report.environment = judged.decision.describe()
                report.results = run_checks(judged, chosen)
        except StackprobeError as exc:
            report.outcome = RunOutcome.NOT_RUN
            report.errors.append(str(exc))
    sys.stdout.write(render(report, "json"))
    return 0 if report.outcome == RunOutcome.COMPLETE else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
