"""A run: one CLI invocation or one pytest session, its emulator, and the stacks prepared and deployed on it.

Ownership, as the code reads:
- the `Run` owns the emulator it starts (a kind from stackprobe.backends.registry) and the process
  environment it pins; `close()` ends every deployment it made that is still deployed, stops the
  emulator it started, restores the environment, and returns how each stack ended. An emulator handed
  in (a live session's detached moto) is used, never stopped: its owner is the live session;
- it orders what a stack needs first: a spec's prerequisites are deployed before the stack is prepared
  (their outputs become its variables) and ended after it;
- each `Deployment` owns its state and ending (see stackprobe.lifecycle.deployment);
- on a backend that does not serve everything, `place(spec)` is the explicit router: it plans there and
  returns the deployment that will apply, on the fallback kind's emulator when the plan needs services
  the first does not serve. Callers hold that deployment from then on; nothing is rerouted behind them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from stackprobe.aws.inventory import Snapshot
from stackprobe.backends.base import AwsBackend, Emulator
from stackprobe.backends.registry import kind_of
from stackprobe.errors import BackendError, StackprobeError
from stackprobe.lifecycle.datastores import end_datastores
from stackprobe.lifecycle.deployment import Deployment, StackMode
from stackprobe.lifecycle.digest import StackDigest
from stackprobe.lifecycle.emulation import Emulation
from stackprobe.lifecycle.ending import PREREQUISITES_GIVEN, Ending, absorb
from stackprobe.lifecycle.inputs import check_required_variables, declared_outputs
from stackprobe.lifecycle.plan_store import PlanStore
from stackprobe.lifecycle.prepared import Preparation, PreparedStack, Prerequisites
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.workspace import Workspace

LOG = logging.getLogger("stackprobe.lifecycle")


@dataclass(frozen=True)
class DeferredApply:
    """A configuration the backend could plan but not apply: what it lacks, and which types need that."""

    planned_on: str
    missing: Mapping[str, list[str]]  # boto3 service -> the plan's resource types that need it
    applied_on: str = "moto"  # the kind that applied it instead (stackprobe.backends.registry)

    def describe(self) -> str:
        needs = "; ".join(f"{service} ({', '.join(types)})" for service, types in self.missing.items())
        return (
            f"Plan only on {self.planned_on}, which does not serve {needs}. The plan was made there; apply, "
            f"checks, second plan and destroy ran on an embedded {self.applied_on} instead."
        )


@dataclass(frozen=True)
class Placement:
    """Where a configuration is applied: `deployment` (which may live on another emulator than the plan)."""

    plan: Plan
    deployment: Deployment
    deferral: DeferredApply | None = None


class Run:
    """One emulator, pinned into the environment, and the stacks prepared and deployed on it in this run."""

    def __init__(
        self,
        settings: RunSettings,
        work_root: Path,
        on_output: Callable[[str], None] | None = None,
        *,
        plans: PlanStore | None = None,
        emulator: Emulator | None = None,
        defer_unserved: bool = True,
        workspaces_outlive_run: bool = True,
    ) -> None:
        self.settings = settings
        self.work_root = work_root
        self.how = Preparation(settings, plans, on_output, workspace_outlives_run=workspaces_outlive_run)
        # On a backend that does not serve everything, a configuration that needs more is planned there and
        # applied on the fallback kind (True), or refused before apply (False: `stackprobe parity`, where
        # applying elsewhere would compare moto with itself).
        self.defer_unserved = defer_unserved
        self.emulation = Emulation(settings, work_root, emulator)
        self._prepared: dict[StackSpec, PreparedStack] = {}
        self._deployments: dict[StackSpec, Deployment] = {}
        self._lock = threading.RLock()
        self._deferred: dict[StackSpec, DeferredApply] = {}
        self._fallback: Run | None = None

    # -- emulator ----------------------------------------------------------------------------------------
    @property
    def backend(self) -> AwsBackend:
        return self.emulation.backend

    def backend_after_warmup(self) -> AwsBackend:
        """The emulator once its warm-up has recorded the account as it started: for a caller about to create
        objects of its own (a test's clients), which must never count as part of that account."""
        return self.emulation.warmed_up()

    @property
    def emulator(self) -> Emulator | None:
        return self.emulation.emulator

    @property
    def owns_emulator(self) -> bool:
        return self.emulation.owned

    @property
    def discards_emulator(self) -> bool:
        """Whether the emulator ends with this run and takes whatever is in it along (its own, in process)."""
        return self.emulation.discarded_with_run

    # -- stacks --------------------------------------------------------------------------------------------
    def prepared(
        self,
        spec: StackSpec,
        *,
        work_dir: Path | None = None,
        niceness: int = 0,
        kept: tuple[Workspace, StackDigest] | None = None,
    ) -> PreparedStack:
        """The prepared stack of `spec` on this run's emulator (made once; later calls return the same one).

        A spec with prerequisites is given their outputs named like its declared variables (and not given by
        the user); the run deploys the prerequisites when the stack first needs those values (see
        stackprobe.lifecycle.prepared.Prerequisites), so a plan read from the store deploys nothing.
        `kept`: a live session's workspace to take over instead of a fresh copy.
        """
        with self._lock:
            if spec not in self._prepared:
                # Before any prerequisite or stand-in is applied for a stack that could never plan.
                check_required_variables(spec)
                directory = work_dir or self.work_root / f"stack{len(self._prepared)}-{_slug(spec.name)}"
                how = replace(self.how, niceness=niceness, before_terraform=self.emulation.warm_up)
                # The copy and its plan key send the emulator nothing: its warm-up waits for terraform.
                prepared = PreparedStack(spec, self.emulation.started(), directory, how, emulator=self.emulator)
                if kept is not None:
                    prepared.adopt(*kept)
                if spec.prerequisites is not None:
                    prepared.prerequisites = self._prerequisites_of(spec, spec.prerequisites, prepared.workspace())
                self._prepared[spec] = prepared
            return self._prepared[spec]

    def prepared_if_made(self, spec: StackSpec) -> PreparedStack | None:
        return self._prepared.get(spec)

    def _prerequisites_of(self, spec: StackSpec, prerequisites: StackSpec, workspace: Workspace) -> Prerequisites:
        declared = workspace.modules[workspace.module_dir].variables
        mine = {name for name, _ in spec.variables}
        names = sorted(name for name in declared_outputs(prerequisites.tf_dir) if name in declared and name not in mine)

        def outputs() -> dict[str, str]:
            with self._lock:  # once, whichever thread needs them first (the others wait for that apply)
                deployed = self.deployment(prerequisites).apply()
            return {name: _as_variable(value) for name, value in deployed.outputs.items()}

        return Prerequisites(tuple(names), lambda: self.prepared(prerequisites).digest(), outputs)

    def deployment(
        self, spec: StackSpec, *, mode: StackMode = StackMode.EPHEMERAL, work_dir: Path | None = None
    ) -> Deployment:
        """The deployment of `spec` here (made once); its prerequisites' deployment shares its mode."""
        with self._lock:
            if spec not in self._deployments:
                if spec.prerequisites is not None and spec.prerequisites not in self._deployments:
                    prerequisites_dir = (work_dir or self.work_root / f"pre-{_slug(spec.name)}") / "prerequisites"
                    self._deployments[spec.prerequisites] = Deployment(
                        self.prepared(spec.prerequisites, work_dir=prerequisites_dir),
                        mode,
                        before_apply=self._ready_for_apply,
                    )
                # With prerequisites, they were applied first and got the emulator ready: not emptied again.
                ready = self._ready_for_apply if spec.prerequisites is None else None
                self._deployments[spec] = Deployment(self.prepared(spec, work_dir=work_dir), mode, before_apply=ready)
            return self._deployments[spec]

    def resumed(
        self, spec: StackSpec, kept: tuple[Workspace, StackDigest], plan: Plan, baseline: Snapshot, *, mode: StackMode
    ) -> Deployment:
        """Take over a deployment kept earlier (a live session's), with its workspace and state, running no
        terraform; resume a spec's prerequisites before the spec itself."""
        with self._lock:
            work_dir = kept[0].root.parent
            deployment = Deployment(self.prepared(spec, work_dir=work_dir, kept=kept), mode)
            self._deployments[spec] = deployment
            deployment.resume(plan, baseline)
            return deployment

    def place(self, spec: StackSpec) -> Placement:
        """Plan `spec` here and decide where it is applied (see the module docstring)."""
        deployment = self.deployment(spec)
        plan = deployment.plan()
        missing = self.unserved(plan)
        if not missing:
            return Placement(plan, deployment)
        needs = "; ".join(f"{service} ({', '.join(types)})" for service, types in missing.items())
        kind = kind_of(self.settings.backend)
        if not self.defer_unserved or kind.fallback is None:
            raise BackendError(
                f"{self.settings.backend} does not serve what {spec.name} needs: {needs}",
                "switch those resources off for it (e.g. terraform/environments/localstack-community.tfvars), use "
                "one that serves them (LocalStack's Pro image with LOCALSTACK_AUTH_TOKEN), or let stackprobe "
                "verify apply on the embedded moto.",
                detail="Nothing was applied.",
            )
        deferral = self._deferred.setdefault(
            spec, DeferredApply(_describe(self.emulator, self.settings.backend), missing, kind.fallback)
        )
        LOG.warning("%s", deferral.describe())
        return Placement(plan, self._fallback_run(kind.fallback).deployment(spec), deferral)

    def unserved(self, plan: Plan) -> dict[str, list[str]]:
        """Services `plan` needs that this run's emulator does not serve ({} when it serves everything)."""
        from stackprobe.backends.capabilities import missing_services

        capabilities = getattr(self.emulator, "capabilities", None)
        _ = self.backend
        return {} if capabilities is None else missing_services(capabilities, plan.types())

    def deferrals(self) -> list[DeferredApply]:
        return list(self._deferred.values())

    def _fallback_run(self, kind: str) -> Run:
        """The run on the fallback kind's emulator that applies what this one cannot (started on first use)."""
        with self._lock:
            if self._fallback is None:
                settings = replace(self.settings, backend=kind, endpoint=None)
                self._fallback = Run(
                    settings,
                    self.work_root / f"{kind}-apply",
                    self.how.on_output,
                    plans=self.how.plans,
                    workspaces_outlive_run=self.how.workspace_outlives_run,
                )
            return self._fallback

    def _ready_for_apply(self) -> bool:
        """Get the emulator ready for this run's first apply (see Emulation.ready_for_apply); True when emptied."""
        return not self.deployed() and self.emulation.ready_for_apply()

    def seeded(self) -> None:
        """The emulator now holds, on purpose, what the stack under test expects to exist already (created
        by a `pytest_stackprobe_prerequisites` hook): it is not emptied before the first apply."""
        self.emulation.wait_for_warmup()
        self.emulation.seeded = True

    def deployed(self) -> list[Deployment]:
        return [d for d in self._deployments.values() if d.armed and d.ending is None]

    def reset_emulator(self) -> AwsBackend:
        """Empty the emulator for a test that needs a clean account; refused while a stack is deployed."""
        if not self.owns_emulator:
            raise StackprobeError(
                "Cannot reset the emulator of a live session: it holds the stack the session keeps",
                "run the tests that need an empty emulator without --stackprobe-reuse.",
            )
        deployed = self.deployed()
        if deployed:
            raise StackprobeError(
                f"Cannot reset the emulator: {deployed[0].spec.name} is deployed in it",
                "run tests that need an empty emulator before the integration tests (the plugin orders them so), "
                "or in a separate xdist worker.",
            )
        return self.emulation.empty()

    # -- ending --------------------------------------------------------------------------------------------
    def end(self, spec: StackSpec) -> Ending:
        """End the deployment of `spec`, then its prerequisites' (what it was given must outlive it); one
        report for both. A spec whose apply this run deferred to its fallback is ended there."""
        if spec in self._deferred and self._fallback is not None:
            return self._fallback.end(spec)
        ending = self._end_deployment(spec)
        if spec.prerequisites is not None and spec.prerequisites in self._deployments:
            ending = absorb(ending, self._end_deployment(spec.prerequisites))
        return ending

    def _end_deployment(self, spec: StackSpec) -> Ending:
        """End one deployment; a stack's prerequisites in an emulator that goes with the run are not destroyed.

        They need no destroy there (the public zone's Route 53 waits were about 20 s of `make verify`): a stack's
        teardown proof compares with an inventory taken after they were applied, so it is the same either way,
        and a test that needs the emulator empty resets it. Elsewhere (a live session's, LocalStack) they are
        destroyed, so that nothing is left.
        """
        deployment = self._deployments[spec]
        given = any(other.prerequisites == spec for other in self._prepared)
        if given and deployment.mode == StackMode.EPHEMERAL and self.discards_emulator:
            deployment.discard(PREREQUISITES_GIVEN)
        return deployment.end()

    def close(self) -> list[tuple[StackSpec, Ending]]:
        """End every deployment still deployed, stop the emulator this run started, restore the environment.

        Returns how each stack ended in this run (those ended earlier by their caller included), so the
        caller can report a stack that was left behind.
        """
        endings: list[tuple[StackSpec, Ending]] = []
        prerequisites = {spec.prerequisites for spec in self._deployments if spec.prerequisites is not None}
        try:
            if self._fallback is not None:
                # First: it pinned the environment after this run did, so its restore comes first.
                endings += self._fallback.close()
            for spec, deployment in reversed(list(self._deployments.items())):
                if spec not in prerequisites and (deployment.armed or deployment.ending is not None):
                    endings.append((spec, self.end(spec)))
        finally:
            end_datastores(self._deployments.values())  # the local servers beside them (logged: how each ended)
            self.emulation.close()
        return endings


def _describe(emulator: Emulator | None, backend: str) -> str:
    """The emulator as a report names it: LocalStack's edition, version and mode when it says them."""
    capabilities = getattr(emulator, "capabilities", None)
    if capabilities is None:
        return backend
    edition = "" if capabilities.edition == "unknown" else f"{capabilities.edition} "  # the runtime says none
    return f"LocalStack {edition}{capabilities.version} ({getattr(emulator, 'mode', '')} mode)"


def _as_variable(value: object) -> str:
    """An output's value as a -var gives it: strings as they are, anything else as JSON (Terraform parses it)."""
    return value if isinstance(value, str) else json.dumps(value)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:60]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so the same cleanup path (destroy) runs for both."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
