"""A prepared stack applied to its emulator: the one thing that applies, plans for an apply, and destroys.

A `Deployment` owns the state of one workspace. It applies its own pre-apply plan (armed first, so that
whatever happens next ends in its teardown), takes over a kept one (`resume`), applies changes
incrementally (`update`), makes the second plan, lets a caller try a variant of the configuration
(`variant`: extra files and variables planted in its workspace and taken out again, the only way
anything but the deployment writes there), and ends as its mode says (`end`: destroyed and proven gone,
kept for a live session, or discarded with the emulator). Nothing else applies or destroys a stack
(tests/harness/test_architecture.py checks it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from stackprobe.aws.inventory import Snapshot, TeardownReport, leftovers, snapshot
from stackprobe.backends.base import AwsBackend
from stackprobe.backends.registry import kind_of
from stackprobe.errors import BackendError, StackprobeError, TerraformFailed
from stackprobe.lifecycle.ending import TEARDOWN_NOT_ASKED, DiscardedStack, Ending, KeptStack
from stackprobe.lifecycle.prepared import PreparedStack, planted, stack_region
from stackprobe.lifecycle.protections import lift_protections
from stackprobe.settings import StackSpec
from stackprobe.terraform.drift import DriftReport, classify
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.lifecycle")


class StackMode(StrEnum):
    EPHEMERAL = "ephemeral"  # destroyed at the end, and the emulator proven to hold nothing new
    KEPT = "kept"  # left running at the end, for a live session to attach to
    # Left in an emulator the run discards with it (its own embedded moto), when the teardown proof was
    # not asked for (--skip-check lifecycle.clean-teardown): nothing survives the run either way.
    DISCARDED = "discarded"


@dataclass
class DeployedStack:
    """What an applied stack offers to checks and tests; `owner` is the Deployment that ends it."""

    spec: StackSpec
    backend: AwsBackend
    outputs: dict[str, Any]
    plan: Plan
    resources: list[str]
    apply_seconds: float
    owner: Deployment = field(repr=False, compare=False)

    def output(self, name: str) -> Any:
        if name not in self.outputs:
            raise KeyError(f"output {name!r} not found; outputs: {', '.join(sorted(self.outputs))}")
        return self.outputs[name]


def state_outputs(state: Mapping[str, Any]) -> dict[str, Any]:
    """The root module's outputs as the state file holds them (what `terraform output -json` prints)."""
    return {name: value.get("value") for name, value in (state.get("outputs") or {}).items()}


def state_resources(state: Mapping[str, Any]) -> list[str]:
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


class Variant:
    """The deployment's configuration with a variant's files and variables, while its `with` block lasts."""

    def __init__(self, deployment: Deployment, variables: Mapping[str, Any]) -> None:
        self._deployment = deployment
        self.variables = variables

    def plan(self) -> Plan:
        """Plan the variant on the current state (no refresh: the state was written by this deployment)."""
        prepared = self._deployment.prepared
        return prepared.runner().plan(self.variables, refresh=False)

    def apply(self, plan: Plan) -> None:
        """Apply a plan of this variant: the deployment now differs from its configuration until it ends."""
        self._deployment.changed_by_variant = True
        self._deployment.prepared.runner().apply_plan(plan)


class Deployment:
    """One prepared stack's state on its emulator, from its apply to its end (see the module docstring)."""

    def __init__(
        self,
        prepared: PreparedStack,
        mode: StackMode = StackMode.EPHEMERAL,
        *,
        before_apply: Callable[[], bool] | None = None,
    ) -> None:
        self.prepared = prepared
        self.mode = mode
        # The run's preparation of its emulator for a first apply; True when it emptied the account.
        self.before_apply = before_apply
        self.armed = False
        self.baseline: Snapshot | None = None
        self.deployed: DeployedStack | None = None
        self.ending: Ending | None = None
        self.emulator_restarted = False
        # Set once a variant was applied: a kept deployment is applied once more before it is left running.
        self.changed_by_variant = False
        # The plan this deployment applied last (its own workspace's: the only kind it may apply).
        self.own_plan: Plan | None = None
        # What its teardown lifted so destroy could go through (see stackprobe.lifecycle.protections).
        self.lifted: list[str] = []
        # Why it is not destroyed, once `discard` made it DISCARDED.
        self.discard_reason = TEARDOWN_NOT_ASKED

    def discard(self, reason: str) -> None:
        """Leave it, when it ends, to the emulator the run discards (its own, embedded), for `reason`."""
        self.mode = StackMode.DISCARDED
        self.discard_reason = reason

    @property
    def spec(self) -> StackSpec:
        return self.prepared.spec

    @property
    def backend(self) -> AwsBackend:
        return self.prepared.backend

    # -- applying ----------------------------------------------------------------------------------------
    def plan(self, *, fresh: bool = False) -> Plan:
        """The plan this deployment will apply: its own workspace's (`fresh`: made again now)."""
        if self.own_plan is None or fresh:
            self.own_plan = self.prepared.own_plan(fresh=fresh)
        return self.own_plan

    def apply(self) -> DeployedStack:
        """Apply this stack's own plan, with its end armed first (see the module docstring)."""
        if self.deployed is not None:
            return self.deployed
        prepared = self.prepared
        prepared.check_guard()
        plan = self.plan()
        if self.before_apply is not None and self.before_apply():
            # The plan may have read what the emptied account held (a default VPC's id, say).
            plan = self.plan(fresh=True)
        self.baseline, _ = snapshot(self.backend, prepared.regions())
        self.armed = True
        started = time.monotonic()
        try:
            prepared.watched(lambda: prepared.runner().apply_plan(plan))
        except TerraformFailed as exc:
            emulator = prepared.emulator
            if emulator is not None and not emulator.alive():
                raise BackendError(
                    "The emulator stopped answering during apply",
                    "nothing to fix in the stack; rerun. If it recurs, look at the request log tail below for "
                    "the last call the emulator served.",
                    detail=exc.problem,
                ) from exc
            raise
        self.deployed = self._from_state(plan, time.monotonic() - started)
        return self.deployed

    def partial(self) -> DeployedStack | None:
        """What a failed apply left deployed, for checks to judge before it is destroyed (None: nothing)."""
        if not self.armed or not state_resources(self.state()):
            return None
        return self._from_state(self.own_plan or self.prepared.plan_json(), 0.0)

    def resume(self, plan: Plan, baseline: Snapshot) -> DeployedStack:
        """Take over a stack deployed earlier (a live session): the prepared workspace holds its state.

        No terraform runs: the outputs and resources come from the state file. The deployment is armed,
        so `end()` destroys it unless it is kept.
        """
        self.baseline = baseline
        self.armed = True
        self.own_plan = plan
        self.deployed = self._from_state(plan, 0.0)
        return self.deployed

    def update(self) -> DeployedStack:
        """An incremental apply on the kept state (only what changed is touched); the new plan is kept.

        Planned without a refresh: the state is this deployment's own, written by its last apply, and only
        the configuration changed (refreshing about 150 resources costs as much again as the plan itself).
        """
        prepared = self.prepared
        prepared.check_guard()
        started = time.monotonic()
        self.own_plan = prepared.runner().plan(prepared.variables, refresh=False)
        prepared.runner().apply_plan(self.own_plan)
        self.deployed = self._from_state(self.own_plan, time.monotonic() - started)
        return self.deployed

    @contextlib.contextmanager
    def variant(self, files: Sequence[tuple[str, str]], variables: Mapping[str, Any]) -> Iterator[Variant]:
        """The configuration with `files` (path relative to the root module, text) added and `variables` set,
        for the `with` block; the files are removed and the variables forgotten when it ends."""
        with planted(self.prepared.workspace().module_dir, files):
            yield Variant(self, {**self.prepared.variables, **variables})

    # -- reading -----------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The local state as terraform last wrote it ({} before apply)."""
        workspace = self.prepared.workspace()
        if not workspace.state_path.exists():
            return {}
        return dict(json.loads(workspace.state_path.read_text(encoding="utf-8")))

    def second_plan(self, targets: Sequence[str] = ()) -> tuple[Plan | None, DriftReport]:
        """The plan right after apply (None when terraform reports no change at all), classified; `targets`
        limits it to those resources (and what they depend on)."""
        plan = self.prepared.runner().pending_changes(self.prepared.variables, targets=targets)
        known = kind_of(self.backend.name).moto_compatibility
        return plan, (DriftReport() if plan is None else classify(plan, moto_records=known))

    def _from_state(self, plan: Plan, apply_seconds: float) -> DeployedStack:
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

    # -- ending ------------------------------------------------------------------------------------------
    def end(self) -> Ending:
        """End the deployment as its mode says, once; later calls return the same record.

        Ephemeral: destroy (even after a partial apply) and prove the emulator holds nothing new. Kept: left
        running (applied once more first if a variant changed it) with how to attach and stop it.
        """
        if self.ending is None:
            if self.mode == StackMode.KEPT and self.deployed is not None:
                if self.changed_by_variant:
                    self.prepared.runner().apply(self.prepared.variables, refresh=False)
                    self.changed_by_variant = False
                self.ending = KeptStack(self.spec, self.backend.endpoint, self.prepared.work_dir)
            elif self.mode == StackMode.DISCARDED:
                self.ending = DiscardedStack(self.spec, self.discard_reason)
            else:
                self.ending = tear_down(self)
            LOG.info("%s", self.ending.render())
        return self.ending

    @property
    def teardown_report(self) -> TeardownReport | None:
        return self.ending if isinstance(self.ending, TeardownReport) else None

    def failure_context(self, exc: BaseException | None = None, command: str = "verify") -> str:
        return self.prepared.failure_context(exc, command, talked=self.armed)


# -- teardown -------------------------------------------------------------------------------------------
# The ephemeral end of a deployment: destroy it, even after a partial apply or an interrupt, and prove the
# emulator holds nothing it created by listing the emulator, not by trusting the state file. In order:
# restart an embedded emulator that died (on the same port, so terraform can refresh and clear its state);
# apply the teardown variables the user gave (a switch that lifts deletion protection, say; without a
# refresh: the state was just written); leave to their parent's deletion what the emulator never reports
# deleted on its own; destroy, a second time with a refresh if the first failed or was interrupted; then
# inventory the emulator and compare it with the baseline taken before the apply.


def tear_down(deployment: Deployment) -> TeardownReport:
    """Destroy `deployment` and say whether the emulator holds anything it created (see the module docstring)."""
    started = time.monotonic()
    report = TeardownReport(destroyed=False)
    if not deployment.armed:
        report.destroyed = True
        return report
    prepared = deployment.prepared
    emulator = prepared.emulator
    if emulator is not None and not emulator.alive():
        LOG.warning("the emulator is not answering; restarting it on the same port to finish destroy")
        prepared.backend = emulator.restart()
        prepared.runner().rebind(prepared.backend)
        deployment.emulator_restarted = True
    try:
        _destroy_uninterruptibly(deployment)
        report.destroyed = True
    except StackprobeError as exc:
        report.error = str(exc)
    report.lifted = list(deployment.lifted)
    after, report.unlisted = snapshot(prepared.backend, prepared.regions())
    report.leftovers = leftovers(deployment.baseline or {}, after)
    report.seconds = time.monotonic() - started
    return report


def _apply_teardown_variables(deployment: Deployment) -> None:
    """Apply the teardown variables (e.g. lift deletion protection) so destroy can succeed.

    Without refresh: the state was just written by apply, and refreshing 150 resources costs as much as a
    plan. If this apply fails (say, after a half-way apply), destroy is still attempted.
    """
    spec = deployment.spec
    if not spec.teardown_variables or not deployment.state().get("resources"):
        return
    prepared = deployment.prepared
    try:
        prepared.runner().apply({**prepared.variables, **dict(spec.teardown_variables)}, refresh=False)
    except StackprobeError as exc:
        LOG.warning("applying the teardown variables failed; destroying anyway: %s", exc.problem)


def _forget_destroyed_with_parent(deployment: Deployment) -> None:
    """Leave to their parent's deletion what this emulator never reports deleted on its own."""
    prepared = deployment.prepared
    kinds = prepared.backend.destroyed_with_parent
    addresses = [  # whole resources (every instance), as `terraform state rm` takes them
        (f"{r['module']}." if r.get("module") else "") + f"{r['type']}.{r['name']}"
        for r in deployment.state().get("resources", [])
        if r.get("mode") == "managed" and r.get("type") in kinds and r.get("instances")
    ]
    if addresses:
        LOG.info("%s: destroyed with their parent, not on their own: %s", prepared.backend.name, ", ".join(addresses))
        try:
            prepared.runner().forget(addresses)
        except StackprobeError as exc:
            LOG.warning("could not drop %s from the state; destroying anyway: %s", addresses, exc.problem)


def _destroy_uninterruptibly(deployment: Deployment) -> None:
    """Destroy with a second Ctrl-C deferred: an interrupted destroy is what leaves resources behind."""
    prepared = deployment.prepared
    variables = {**prepared.variables, **dict(deployment.spec.teardown_variables)}
    interrupted: list[BaseException] = []
    _apply_teardown_variables(deployment)
    deployment.lifted = lift_protections(prepared.backend, prepared.workspace().state_path)
    if prepared.backend.destroyed_with_parent:
        _forget_destroyed_with_parent(deployment)
    for attempt in range(2):
        try:
            # The first attempt trusts the state (fast); a retry refreshes in case it was stale.
            prepared.runner().destroy(variables, refresh=attempt > 0 or deployment.emulator_restarted)
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
