"""One configuration, deployed to one emulator, from workspace to how it ended.

A `StackUnderTest` owns its workspace, its plans, its deployment and its ending: `end()` is the one
place a deployment ends, and it returns how it ended. An *ephemeral* stack is destroyed and the
emulator proven to hold nothing new (a `TeardownReport`); a *kept* stack is left running for a live
session (a `KeptStack`, which says how to attach and how to stop it).

The order of operations is the contract users rely on:
1. the workspace, terraform init and the guard run before anything touches the emulator;
2. a baseline inventory of the emulator is taken, so teardown can be proven without the state file;
3. destroy is armed *before* apply: whatever happens next (a failed or partial apply, Ctrl-C,
   SIGTERM, the emulator dying) an ephemeral stack's `end()` runs destroy and then checks the emulator
   holds nothing new. If the embedded emulator died, it is restarted on the same port first, so
   terraform can refresh (finding nothing) and clear its state.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from stackprobe.aws.inventory import Snapshot, TeardownReport, leftovers, snapshot
from stackprobe.backends.base import AwsBackend, Emulator
from stackprobe.backends.guard import check_caller_identity, check_pinned
from stackprobe.backends.request_log import RequestLog
from stackprobe.errors import BackendError, StackprobeError, TerraformFailed
from stackprobe.lifecycle.digest import StackDigest, configuration_digest, tools_digest
from stackprobe.lifecycle.external import Watch
from stackprobe.lifecycle.plan_store import PlanStore, plan_key
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.drift import DriftReport, classify
from stackprobe.terraform.mirror import ProviderSource, resolve_provider_source
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.runner import TALKS_TO_AWS, TerraformRunner
from stackprobe.terraform.workspace import Workspace, create_workspace

LOG = logging.getLogger("stackprobe.lifecycle.stack")
T = TypeVar("T")


class StackMode(StrEnum):
    EPHEMERAL = "ephemeral"  # destroyed at the end, and the emulator proven to hold nothing new
    KEPT = "kept"  # left running at the end, for a live session to attach to
    # Left in an emulator the run discards with it (its own embedded moto), when the teardown proof was
    # not asked for (--skip-check lifecycle.clean-teardown): nothing survives the run either way.
    DISCARDED = "discarded"


@dataclass
class DeployedStack:
    """What an applied stack offers to checks and tests; `owner` is the StackUnderTest that ends it."""

    spec: StackSpec
    backend: AwsBackend
    outputs: dict[str, Any]
    plan: Plan
    resources: list[str]
    apply_seconds: float
    owner: StackUnderTest = field(repr=False, compare=False)

    def output(self, name: str) -> Any:
        if name not in self.outputs:
            raise KeyError(f"output {name!r} not found; outputs: {', '.join(sorted(self.outputs))}")
        return self.outputs[name]


@dataclass(frozen=True)
class KeptStack:
    """How a kept stack ended: still deployed, with the commands to attach to it and to stop it."""

    spec: StackSpec
    endpoint: str
    work_dir: Path

    def render(self) -> str:
        return (
            f"Kept running: {self.spec.name} on {self.endpoint} (workspace {self.work_dir}).\n"
            f"  attach:  pytest --stackprobe-reuse   or   stackprobe verify {self.spec.cli_arguments()} --reuse\n"
            f"  status:  stackprobe status {self.spec.tf_dir}\n"
            f"  stop:    stackprobe down {self.spec.cli_arguments()}"
        )


@dataclass(frozen=True)
class DiscardedStack:
    """How a discarded stack ended: not destroyed, because its emulator ends with the run."""

    spec: StackSpec

    def render(self) -> str:
        return (
            f"Not destroyed: {self.spec.name} goes with the emulator this run started and stops "
            "(the teardown proof, lifecycle.clean-teardown, was not asked for)."
        )


Ending = TeardownReport | KeptStack | DiscardedStack


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


def state_outputs(state: dict[str, Any]) -> dict[str, Any]:
    """The root module's outputs as the state file holds them (what `terraform output -json` prints)."""
    return {name: value.get("value") for name, value in (state.get("outputs") or {}).items()}


def state_resources(state: dict[str, Any]) -> list[str]:
    """Addresses of the managed resources in a state (empty when none)."""
    addresses = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        for instance in resource.get("instances", []):
            index = instance.get("index_key")
            suffix = "" if index is None else f"[{json.dumps(index)}]"
            addresses.append(f"{prefix}{resource['type']}.{resource['name']}{suffix}")
    return addresses


class StackUnderTest:
    """Drives one StackSpec through plan, apply, second plan and its end on one backend."""

    def __init__(
        self,
        spec: StackSpec,
        backend: AwsBackend,
        settings: RunSettings,
        *,
        emulator: Emulator | None = None,
        work_dir: Path | None = None,
        on_output: Callable[[str], None] | None = None,
        plans: PlanStore | None = None,
        mode: StackMode = StackMode.EPHEMERAL,
        workspace_outlives_run: bool = True,
        before_apply: Callable[[], bool] | None = None,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.settings = settings
        self.emulator = emulator
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="stackprobe-"))
        self.on_output = on_output
        self.plans = plans
        self.mode = mode
        # False when the workspace goes with the run (the CLI's temporary directory): a failure report
        # then must not send the user to it.
        self.workspace_outlives_run = workspace_outlives_run
        # The run's preparation of its emulator for an apply; True when it emptied the account.
        self.before_apply = before_apply
        self.runner: TerraformRunner | None = None
        self.baseline: Snapshot | None = None
        # The plan this stack computed in its own workspace: the only one it may apply.
        self.own_plan: Plan | None = None
        # The pre-apply plan as JSON, own or read from the plan store.
        self._plan_json: Plan | None = None
        # The CPU priority of this stack's terraform commands (0: the caller's; see TerraformRunner).
        self.niceness = 0
        self.armed = False
        self.emulator_restarted = False
        self.deployed: DeployedStack | None = None
        self.ending: Ending | None = None
        self._workspace: Workspace | None = None
        self._provider_source: ProviderSource | None = None
        self._digest: StackDigest | None = None
        self._configuration: str | None = None
        self._prerequisite: StackUnderTest | None = None

    def plan_only_copy(self, name: str) -> StackUnderTest:
        """The same stack on the same backend in a workspace of its own, for plans only.

        Never applied, so it has no state or ending, and its plans may run while this stack applies.
        """
        work_dir = self.work_dir / name
        work_dir.mkdir(parents=True, exist_ok=True)
        spec = self.spec
        if spec.prerequisites is not None:
            # Given what the prerequisites gave this stack, never a second deployment of them.
            given = {
                name: value if isinstance(value, str) else json.dumps(value)
                for name, value in self.prepare().variables.items()
            }
            spec = replace(spec, prerequisites=None, variables=tuple(sorted(given.items())))
        return StackUnderTest(spec, self.backend, self.settings, work_dir=work_dir)

    # -- preparation ---------------------------------------------------------------------------
    @property
    def provider_source(self) -> ProviderSource:
        if self._provider_source is None:
            self._provider_source = resolve_provider_source(self.settings.provider_mirror)
        return self._provider_source

    def workspace(self) -> Workspace:
        """The copy of the configuration with the emulator's overrides (no terraform runs here)."""
        if self._workspace is None:
            missing = [p for p in self.spec.var_files if not p.is_file()]
            if missing:
                raise StackprobeError(
                    f"Variable file {missing[0]} does not exist",
                    "pass an existing .tfvars file with --var-file (paths are relative to the current directory).",
                )
            workspace = create_workspace(
                self.spec.tf_dir,
                self.work_dir,
                endpoint=self.backend.endpoint,
                access_key=self.backend.access_key,
                secret_key=self.backend.secret_key,
            )
            # Taken now, from the pristine copy: init adds a lock file and `.terraform` to it.
            self._configuration = configuration_digest(workspace, self.spec)
            self._workspace = workspace
        return self._workspace

    def digest(self) -> StackDigest:
        """The configuration's and the tools' digest, as this stack's workspace was copied."""
        if self._digest is None:
            self.workspace()
            assert self._configuration is not None, "set when the workspace is copied"
            self._digest = StackDigest(
                configuration=self._configuration,
                tools=tools_digest(self.settings.terraform_binary, self.provider_source.mirror),
            )
        return self._digest

    def prepare(self) -> TerraformRunner:
        """Copy, override, init. Nothing here talks to the emulator except the identity check."""
        if self.runner is not None:
            return self.runner
        workspace = self.workspace()
        binary = find_binary(self.settings.terraform_binary)
        self.runner = TerraformRunner(
            workspace,
            binary,
            self.backend,
            self.provider_source,
            self.settings.cache_dir,
            var_files=list(self.spec.var_files),
            variables=dict(self.spec.variables),
            timeouts={"apply": self.settings.apply_timeout, "destroy": self.settings.apply_timeout},
            parallelism=self.settings.parallelism,
            on_output=self.on_output,
            niceness=self.niceness,
        )
        self.runner.init()
        if self.spec.prerequisites is not None:
            self.runner.variables.update(self._prerequisite_variables(self.runner))
        return self.runner

    def prerequisite_stack(self) -> StackUnderTest | None:
        """The stack of `spec.prerequisites`, owned by this one: deployed before it, ended after it."""
        if self.spec.prerequisites is not None and self._prerequisite is None:
            self._prerequisite = StackUnderTest(
                self.spec.prerequisites,
                self.backend,
                self.settings,
                emulator=self.emulator,
                work_dir=self.work_dir / "prerequisites",
                on_output=self.on_output,
                mode=self.mode,
                workspace_outlives_run=self.workspace_outlives_run,
                before_apply=self.before_apply,
            )
        return self._prerequisite

    def _prerequisite_variables(self, runner: TerraformRunner) -> dict[str, Any]:
        """Deploy the prerequisites; their outputs named like this stack's variables become its -var values."""
        prerequisite = self.prerequisite_stack()
        assert prerequisite is not None
        outputs = prerequisite.deploy().outputs
        declared = runner.workspace.modules[runner.workspace.module_dir].variables
        given = {name for name, _ in self.spec.variables}
        passed = {name: value for name, value in outputs.items() if name in declared and name not in given}
        LOG.info("prerequisites %s give %s", prerequisite.spec.name, ", ".join(sorted(passed)) or "no variable")
        return passed

    def check_guard(self) -> None:
        runner = self.prepare()
        check_pinned(self.backend, runner.environ())
        check_caller_identity(self.backend)

    def take_baseline(self) -> Snapshot:
        """Inventory the emulator before apply: teardown proof compares against this, not the state."""
        self.baseline, _ = snapshot(self.backend, self.regions())
        return self.baseline

    def planned_regions(self) -> list[str]:
        """The regions the provider blocks name in a plan already at hand (none is made for this)."""
        return sorted(self._plan_json.provider_regions()) if self._plan_json is not None else []

    def regions(self) -> list[str]:
        """Where to look for the stack's resources: the run's region, us-east-1 (global services keep
        their resources there) and every region the configuration's provider blocks name."""
        found = [self.backend.region, "us-east-1"]
        if self._plan_json is not None:
            found += sorted(self._plan_json.provider_regions())
        return list(dict.fromkeys(found))

    # -- plans ---------------------------------------------------------------------------------
    def plan_key(self) -> str:
        return plan_key(self.digest(), self.backend.name, self.backend.region)

    def plan(self) -> Plan:
        """This stack's own pre-apply plan (computed once, in its workspace; appliable), published to the store."""
        if self.own_plan is None:

            def compute() -> Plan:
                runner = self.prepare()
                check_caller_identity(self.backend)
                return self._watched(runner.plan)

            # A stack with prerequisites is planned with their outputs (fresh ids each run): not stored.
            stored = self.plans is not None and self.spec.prerequisites is None
            self.own_plan = self.plans.planned(self.plan_key(), compute) if stored and self.plans else compute()
            self._plan_json = self.own_plan
        return self.own_plan

    def plan_json(self) -> Plan:
        """The pre-apply plan's JSON: this stack's own, or one the plan store holds for the same digest.

        For callers that read the plan and never apply it: a warm store answers without terraform.
        """
        if self._plan_json is None:
            if self.plans is None or self.spec.prerequisites is not None:
                return self.plan()
            self._plan_json = self.plans.plan_json(self.plan_key(), self.plan)
        return self._plan_json

    def plan_in_progress_elsewhere(self) -> bool:
        """Whether another process is planning this configuration right now (waiting for it is cheap)."""
        return self.plans is not None and self.plans.in_progress(self.plan_key())

    # -- lifecycle -----------------------------------------------------------------------------
    def deploy(self) -> DeployedStack:
        """Apply this stack's own plan (planned now if needed), with its end armed first."""
        if self.deployed is not None:
            return self.deployed
        runner = self.prepare()
        self.check_guard()
        plan = self.plan()
        # With prerequisites, they were applied first and got the emulator ready; it must not be emptied.
        ready = self.before_apply if self.spec.prerequisites is None else None
        if ready is not None and ready():
            # The plan may have read what the emptied account held (a default VPC's id, say).
            self.own_plan = None
            plan = self.plan()
        self.take_baseline()
        self.armed = True
        started = time.monotonic()
        try:
            self._watched(lambda: runner.apply_plan(plan))
        except TerraformFailed as exc:
            if self.emulator is not None and not self.emulator.alive():
                raise BackendError(
                    "The emulator stopped answering during apply",
                    "nothing to fix in the stack; rerun. If it recurs, look at the request log tail below for "
                    "the last call the emulator served.",
                    detail=exc.problem,
                ) from exc
            raise
        self.deployed = self._deployed_from_state(plan, time.monotonic() - started)
        return self.deployed

    def _watched(self, command: Callable[[], T]) -> T:
        """Run a terraform command, stopped early if it keeps asking for something the stack does not
        create (see stackprobe.lifecycle.external); only an emulator in this process has the request log to read."""
        log = getattr(self.emulator, "request_log", None)
        if not isinstance(log, RequestLog):
            return command()
        runner = self.prepare()
        with Watch(log, time.time(), self.backend.account_id, runner.interrupt) as watch:
            try:
                return command()
            except TerraformFailed as exc:
                if watch.found is not None:
                    raise watch.found.error_for(self.spec.name) from exc
                raise

    def _deployed_from_state(self, plan: Plan, apply_seconds: float) -> DeployedStack:
        state = self.state()
        region = stack_region(state, self.backend.region)
        return DeployedStack(
            spec=self.spec,
            backend=replace(self.backend, region=region) if region != self.backend.region else self.backend,
            outputs=state_outputs(state),
            plan=plan,
            resources=state_resources(state),
            apply_seconds=apply_seconds,
            owner=self,
        )

    def partial_deployment(self) -> DeployedStack | None:
        """What a failed apply left deployed, for checks to judge before it is destroyed (None: nothing)."""
        if not self.armed or not state_resources(self.state()):
            return None
        return self._deployed_from_state(self.own_plan or self.plan_json(), 0.0)

    def resume(self, plan: Plan, baseline: Snapshot, workspace: Workspace, digest: StackDigest) -> DeployedStack:
        """Take over a stack deployed earlier (a live session): its workspace, state and pre-apply plan.

        No terraform runs: the outputs and resources come from the state file. The stack is armed, so
        `end()` destroys it unless it is kept.
        """
        self._workspace = workspace
        self._plan_json = plan
        self.baseline = baseline
        self._configuration = digest.configuration
        self._digest = digest
        self.armed = True
        self.deployed = self._deployed_from_state(plan, 0.0)
        return self.deployed

    def update(self) -> DeployedStack:
        """An incremental apply on the kept state (only what changed is touched); the new plan is kept.

        Planned without a refresh: the state is this stack's own, written by its last apply, and only the
        configuration changed (refreshing about 150 resources costs as much again as the plan itself).
        """
        runner = self.prepare()
        self.check_guard()
        started = time.monotonic()
        self.own_plan = runner.plan(refresh=False)
        self._plan_json = self.own_plan
        runner.apply_plan(self.own_plan)
        self.deployed = self._deployed_from_state(self.own_plan, time.monotonic() - started)
        return self.deployed

    def state(self) -> dict[str, Any]:
        """The local state as terraform last wrote it ({} before apply)."""
        if self._workspace is None or not self._workspace.state_path.exists():
            return {}
        return dict(json.loads(self._workspace.state_path.read_text(encoding="utf-8")))

    def second_plan(self, targets: Sequence[str] = ()) -> tuple[Plan | None, DriftReport]:
        """The plan right after apply (None when terraform reports no change at all), classified;
        `targets` limits it to those resources (and what they depend on)."""
        runner = self.prepare()
        plan = runner.pending_changes(targets=targets)
        return plan, (DriftReport() if plan is None else classify(plan, backend=self.backend.name))

    def end(self) -> Ending:
        """End the deployment as its mode says, once; later calls return the same record.

        Ephemeral: destroy (even after a partial apply) and prove the emulator holds nothing new.
        Kept: leave it running and say how to attach and stop.
        """
        if self.ending is None:
            if self.mode == StackMode.KEPT and self.deployed is not None:
                self.ending = KeptStack(self.spec, self.backend.endpoint, self.work_dir)
            elif self.mode == StackMode.DISCARDED:
                self.ending = DiscardedStack(self.spec)
            else:
                self.ending = self._teardown()
                prerequisite = self._prerequisite
                if prerequisite is not None:
                    # After this stack: what it was given must outlive it.
                    _absorb(self.ending, prerequisite.end())
            LOG.info("%s", self.ending.render())
        return self.ending

    @property
    def teardown_report(self) -> TeardownReport | None:
        return self.ending if isinstance(self.ending, TeardownReport) else None

    def _teardown(self) -> TeardownReport:
        started = time.monotonic()
        report = TeardownReport(destroyed=False)
        if not self.armed:
            report.destroyed = True
            return report
        if self.emulator is not None and not self.emulator.alive():
            LOG.warning("the emulator is not answering; restarting it on the same port to finish destroy")
            self.backend = self.emulator.restart()
            self.prepare().rebind(self.backend)
            self.emulator_restarted = True
        try:
            self._destroy_uninterruptibly()
            report.destroyed = True
        except StackprobeError as exc:
            report.error = str(exc)
        after, report.unlisted = snapshot(self.backend, self.regions())
        report.leftovers = leftovers(self.baseline or {}, after)
        report.seconds = time.monotonic() - started
        return report

    def _prepare_destroy(self) -> None:
        """Apply the teardown variables (e.g. lift deletion protection) so destroy can succeed.

        Without refresh: the state was just written by apply, and refreshing 150 resources costs as
        much as a plan. If this apply fails (say, after a half-way apply), destroy is still attempted.
        """
        runner = self.prepare()
        if not self.spec.teardown_variables or not state_resources(self.state()):
            return
        runner.variables.update(dict(self.spec.teardown_variables))
        try:
            runner.apply(refresh=False)
        except StackprobeError as exc:
            LOG.warning("applying the teardown variables failed; destroying anyway: %s", exc.problem)

    def _forget_destroyed_with_parent(self) -> None:
        """Leave to their parent's deletion what this emulator never reports deleted on its own."""
        runner = self.prepare()
        addresses = [  # whole resources (every instance), as `terraform state rm` takes them
            (f"{r['module']}." if r.get("module") else "") + f"{r['type']}.{r['name']}"
            for r in self.state().get("resources", [])
            if r.get("mode") == "managed" and r.get("type") in self.backend.destroyed_with_parent and r.get("instances")
        ]
        if addresses:
            LOG.info("%s: destroyed with their parent, not on their own: %s", self.backend.name, ", ".join(addresses))
            try:
                runner.forget(addresses)
            except StackprobeError as exc:
                LOG.warning("could not drop %s from the state; destroying anyway: %s", addresses, exc.problem)

    def _destroy_uninterruptibly(self) -> None:
        """Destroy with a second Ctrl-C deferred: an interrupted destroy is what leaves resources behind."""
        runner = self.prepare()
        interrupted: list[BaseException] = []
        self._prepare_destroy()
        if self.backend.destroyed_with_parent:
            self._forget_destroyed_with_parent()
        for attempt in range(2):
            try:
                # The first attempt trusts the state (fast); a retry refreshes in case it was stale.
                runner.destroy(refresh=attempt > 0 or self.emulator_restarted)
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
    def reproduce_command(self, command: str = "verify") -> str:
        """The stackprobe command line (`verify`, `audit`, `parity`) that runs this spec again."""
        return f"stackprobe {command} {self.spec.cli_arguments()}"

    def failure_context(self, exc: BaseException | None = None, command: str = "verify") -> str:
        """What a user needs after a failure: the error with its remedy, the line that reproduces it with the
        `command` the user ran, and, when the emulator was talked to, its last requests (each piece once:
        terraform's diagnostics are in the error)."""
        parts = [str(exc)] if isinstance(exc, StackprobeError) else []
        parts.append(f"Reproduce: {self.reproduce_command(command)}")
        last = self.runner.transcript.commands[-1].args[0] if self.runner and self.runner.transcript.commands else ""
        if self.runner is not None:
            if self.workspace_outlives_run:
                parts.append(f"Terraform by hand: {self.runner.command_line(last or 'plan')}")
            errors = self.runner.transcript.errors()
            if errors and not isinstance(exc, TerraformFailed):
                parts.append("Terraform error:\n" + errors)
        if self.emulator is not None and (self.armed or last in TALKS_TO_AWS):
            parts.append("Last requests served by the emulator:\n" + self.emulator.request_log.render_tail(15))
            exceptions = self.emulator.request_log.render_exceptions()
            if exceptions:
                parts.append("Emulator exceptions:\n" + exceptions)
        return "\n\n".join(parts)


def _absorb(report: TeardownReport, prerequisite: Ending) -> None:
    """Fold the prerequisites' teardown into the stack's own report (one report per stack under test)."""
    if not isinstance(prerequisite, TeardownReport):
        return
    report.destroyed = report.destroyed and prerequisite.destroyed
    report.error = report.error or (f"prerequisites: {prerequisite.error}" if prerequisite.error else "")
    report.leftovers.update({f"{kind} (prerequisites)": items for kind, items in prerequisite.leftovers.items()})
    report.seconds += prerequisite.seconds


def rebase_workspace(fresh: Workspace, root: Path) -> Workspace:
    """`fresh` (a copy made elsewhere) as if it had been made at `root`: same layout, other place."""

    def moved(path: Path) -> Path:
        return root / path.relative_to(fresh.root)

    return Workspace(
        source_dir=fresh.source_dir,
        root=root,
        module_dir=moved(fresh.module_dir),
        modules={moved(directory): module for directory, module in fresh.modules.items()},
        generated=[moved(path) for path in fresh.generated],
    )


def sync_workspace(fresh: Workspace, kept: Workspace, configuration: list[Path]) -> Workspace:
    """Bring a kept workspace's configuration up to `fresh`, keeping its state, init and lock file.

    `configuration` lists the kept copy's configuration files (and generated overrides are rewritten
    with `fresh`'s), so a file deleted from the configuration is deleted from the copy too.
    """
    for path in [*configuration, *kept.generated]:
        path.unlink(missing_ok=True)
    for path in sorted(fresh.root.rglob("*")):
        relative = path.relative_to(fresh.root)
        target = kept.root / relative
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists() or not relative.name.startswith((".terraform", "terraform.tfstate")):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return rebase_workspace(fresh, kept.root)
