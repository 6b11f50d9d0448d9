"""One configuration, deployed to one emulator, from workspace to verified teardown.

The order of operations is the contract users rely on:
1. the workspace, terraform init and the guard run before anything touches the emulator;
2. a baseline inventory of the emulator is taken, so teardown can be proven without the state file;
3. destroy is armed *before* apply: whatever happens next (a failed or partial apply, Ctrl-C,
   SIGTERM, the emulator dying) `teardown()` runs destroy and then checks the emulator holds nothing
   new. If the embedded emulator died, it is restarted on the same port first, so terraform can
   refresh (finding nothing) and clear its state.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stackprobe.backends.base import AwsBackend, Emulator
from stackprobe.backends.guard import check_caller_identity, check_pinned
from stackprobe.errors import BackendError, StackprobeError, TerraformFailed
from stackprobe.inventory import Snapshot, TeardownReport, leftovers, snapshot
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.drift import DriftReport, classify
from stackprobe.terraform.mirror import resolve_provider_source
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.runner import TerraformRunner
from stackprobe.terraform.workspace import create_workspace

LOG = logging.getLogger("stackprobe.stack")


@dataclass
class DeployedStack:
    """What an applied stack offers to checks and tests."""

    spec: StackSpec
    backend: AwsBackend
    outputs: dict[str, Any]
    plan: Plan
    resources: list[str]
    apply_seconds: float

    def output(self, name: str) -> Any:
        if name not in self.outputs:
            raise KeyError(f"output {name!r} not found; outputs: {', '.join(sorted(self.outputs))}")
        return self.outputs[name]


def stack_region(state: dict[str, Any], default: str) -> str:
    """The region most of the stack's ARNs name (a stack may set its own region, e.g. from a variable).

    Checks query one region; pointing them at the stack's own region, read from what was deployed,
    works for third-party configurations whose provider region the harness cannot evaluate.
    """
    regions: Counter[str] = Counter()
    for resource in state.get("resources", []):
        for instance in resource.get("instances", []):
            arn = (instance.get("attributes") or {}).get("arn")
            if isinstance(arn, str) and arn.startswith("arn:"):
                parts = arn.split(":")
                if len(parts) > 3 and parts[3]:
                    regions[parts[3]] += 1
    return regions.most_common(1)[0][0] if regions else default


class StackUnderTest:
    """Drives one StackSpec through plan, apply, second plan and destroy on one backend."""

    def __init__(
        self,
        spec: StackSpec,
        backend: AwsBackend,
        settings: RunSettings,
        *,
        emulator: Emulator | None = None,
        work_dir: Path | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.settings = settings
        self.emulator = emulator
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="stackprobe-"))
        self.on_output = on_output
        self.runner: TerraformRunner | None = None
        self.baseline: Snapshot | None = None
        self._plan: Plan | None = None
        self.armed = False
        self.emulator_restarted = False
        self.deployed: DeployedStack | None = None
        self.teardown_report: TeardownReport | None = None

    def plan_only_copy(self, name: str) -> StackUnderTest:
        """The same stack on the same backend in a workspace of its own, for plans only.

        Never applied, so it has no state or teardown, and its plans may run while this stack applies.
        """
        work_dir = self.work_dir / name
        work_dir.mkdir(parents=True, exist_ok=True)
        return StackUnderTest(self.spec, self.backend, self.settings, work_dir=work_dir)

    # -- preparation ---------------------------------------------------------------------------
    def prepare(self) -> TerraformRunner:
        """Copy, override, init. Nothing here talks to the emulator except the identity check."""
        if self.runner is not None:
            return self.runner
        binary = find_binary(self.settings.terraform_binary)
        source = resolve_provider_source(self.settings.provider_mirror)
        workspace = create_workspace(
            self.spec.tf_dir,
            self.work_dir,
            endpoint=self.backend.endpoint,
            access_key=self.backend.access_key,
            secret_key=self.backend.secret_key,
        )
        missing = [p for p in self.spec.var_files if not p.is_file()]
        if missing:
            raise StackprobeError(
                f"Variable file {missing[0]} does not exist",
                "pass an existing .tfvars file with --var-file (paths are relative to the current directory).",
            )
        self.runner = TerraformRunner(
            workspace,
            binary,
            self.backend,
            source,
            self.settings.cache_dir,
            var_files=list(self.spec.var_files),
            variables=dict(self.spec.variables),
            timeouts={"apply": self.settings.apply_timeout, "destroy": self.settings.apply_timeout},
            parallelism=self.settings.parallelism,
            on_output=self.on_output,
        )
        self.runner.init()
        return self.runner

    def check_guard(self) -> None:
        runner = self.prepare()
        check_pinned(self.backend, runner.environ())
        check_caller_identity(self.backend)

    def take_baseline(self) -> Snapshot:
        """Inventory the emulator before apply: teardown proof compares against this, not the state."""
        self.baseline, _ = snapshot(self.backend, self.regions())
        return self.baseline

    def regions(self) -> list[str]:
        """Where to look for the stack's resources: the run's region, us-east-1 (global services keep
        their resources there) and every region the configuration's provider blocks name."""
        found = [self.backend.region, "us-east-1"]
        if self._plan is not None:
            found += sorted(self._plan.provider_regions())
        return list(dict.fromkeys(found))

    # -- lifecycle -----------------------------------------------------------------------------
    def plan(self) -> Plan:
        runner = self.prepare()
        check_caller_identity(self.backend)
        self._plan = runner.plan()
        return self._plan

    def deploy(self, plan: Plan | None = None) -> DeployedStack:
        """Plan (unless given the pre-apply plan), then apply with destroy armed first."""
        runner = self.prepare()
        self.check_guard()
        if plan is None:
            plan = runner.plan()
        self._plan = plan
        self.take_baseline()
        self.armed = True
        started = time.monotonic()
        try:
            runner.apply_plan(plan)
        except TerraformFailed as exc:
            if self.emulator is not None and not self.emulator.alive():
                raise BackendError(
                    "The embedded emulator stopped answering during apply",
                    "nothing to fix in the stack; rerun. If it recurs, look at the request log tail below for "
                    "the last call the emulator served.",
                    detail=exc.problem,
                ) from exc
            raise
        region = stack_region(runner.state(), self.backend.region)
        self.deployed = DeployedStack(
            spec=self.spec,
            backend=replace(self.backend, region=region) if region != self.backend.region else self.backend,
            outputs=runner.output(),
            plan=plan,
            resources=runner.state_resources(),
            apply_seconds=time.monotonic() - started,
        )
        return self.deployed

    def state(self) -> dict[str, Any]:
        """The local state as terraform last wrote it ({} before init or apply)."""
        return self.runner.state() if self.runner is not None else {}

    def second_plan(self) -> tuple[Plan | None, DriftReport]:
        """The plan right after apply (None when terraform reports no change at all), classified."""
        runner = self.prepare()
        plan = runner.pending_changes()
        return plan, (DriftReport() if plan is None else classify(plan, backend=self.backend.name))

    def teardown(self) -> TeardownReport:
        """Destroy (even after a partial apply) and prove the emulator holds nothing new."""
        if self.teardown_report is not None:
            return self.teardown_report
        started = time.monotonic()
        report = TeardownReport(destroyed=False)
        if self.runner is None or not self.armed:
            report.destroyed = True
            self.teardown_report = report
            return report
        if self.emulator is not None and not self.emulator.alive():
            LOG.warning("the emulator is not answering; restarting it on the same port to finish destroy")
            self.backend = self.emulator.restart()
            self.runner.rebind(self.backend)
            self.emulator_restarted = True
        try:
            self._destroy_uninterruptibly()
            report.destroyed = True
        except StackprobeError as exc:
            report.error = str(exc)
        after, report.unlisted = snapshot(self.backend, self.regions())
        report.leftovers = leftovers(self.baseline or {}, after)
        report.seconds = time.monotonic() - started
        self.teardown_report = report
        LOG.info("%s", report.render())
        return report

    def _prepare_destroy(self) -> None:
        """Apply the teardown variables (e.g. lift deletion protection) so destroy can succeed.

        Without refresh: the state was just written by apply, and refreshing 150 resources costs as
        much as a plan. If this apply fails (say, after a half-way apply), destroy is still attempted.
        """
        assert self.runner is not None
        if not self.spec.teardown_variables or not self.runner.state_resources():
            return
        self.runner.variables.update(dict(self.spec.teardown_variables))
        try:
            self.runner.apply(refresh=False)
        except StackprobeError as exc:
            LOG.warning("applying the teardown variables failed; destroying anyway: %s", exc.problem)

    def _forget_destroyed_with_parent(self) -> None:
        """Leave to their parent's deletion what this emulator never reports deleted on its own."""
        assert self.runner is not None
        addresses = [  # whole resources (every instance), as `terraform state rm` takes them
            (f"{r['module']}." if r.get("module") else "") + f"{r['type']}.{r['name']}"
            for r in self.runner.state().get("resources", [])
            if r.get("mode") == "managed" and r.get("type") in self.backend.destroyed_with_parent and r.get("instances")
        ]
        if addresses:
            LOG.info("%s: destroyed with their parent, not on their own: %s", self.backend.name, ", ".join(addresses))
            try:
                self.runner.forget(addresses)
            except StackprobeError as exc:
                LOG.warning("could not drop %s from the state; destroying anyway: %s", addresses, exc.problem)

    def _destroy_uninterruptibly(self) -> None:
        """Destroy with a second Ctrl-C deferred: an interrupted destroy is what leaves resources behind."""
        assert self.runner is not None
        interrupted: list[BaseException] = []
        self._prepare_destroy()
        if self.backend.destroyed_with_parent:
            self._forget_destroyed_with_parent()
        for attempt in range(2):
            try:
                # The first attempt trusts the state (fast); a retry refreshes in case it was stale.
                self.runner.destroy(refresh=attempt > 0 or self.emulator_restarted)
                break
            except KeyboardInterrupt as exc:
                LOG.warning("destroy interrupted; retrying once so the emulator is left empty")
                interrupted.append(exc)
            except StackprobeError:
                if attempt > 0:
                    raise
                LOG.warning("destroy failed; retrying once with a refresh")
        if interrupted:
            raise interrupted[0]

    # -- reporting -----------------------------------------------------------------------------
    def reproduce_command(self) -> str:
        return f"stackprobe verify {self.spec.cli_arguments()}"

    def failure_context(self, exc: BaseException | None = None) -> str:
        """What a user needs after a failure: the reproduce line, terraform's error, the emulator's view."""
        parts = [f"Reproduce: {self.reproduce_command()}"]
        if self.runner is not None:
            parts.append(f"Terraform by hand: {self.runner.command_line('plan')}")
            errors = self.runner.transcript.errors()
            if errors:
                parts.append("Terraform error:\n" + errors)
        if self.emulator is not None:
            parts.append("Last requests served by the emulator:\n" + self.emulator.request_log.render_tail(15))
            exceptions = self.emulator.request_log.render_exceptions()
            if exceptions:
                parts.append("Emulator exceptions:\n" + exceptions)
        if isinstance(exc, StackprobeError):
            parts.insert(0, str(exc))
        return "\n\n".join(parts)
