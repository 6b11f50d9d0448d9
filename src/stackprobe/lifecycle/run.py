"""A run: one CLI invocation or one pytest session, its emulator, and the stacks it created.

Ownership, as the code reads:
- the `Run` owns the emulator it starts (an embedded moto, or a LocalStack it launched) and the
  process environment it pins; `close()` ends every stack it created that is still deployed, stops the
  emulator it started, restores the environment, and returns how each stack ended. An emulator handed
  in (a live session's detached moto) is used, never stopped: its owner is the live session;
- each `StackUnderTest` owns its workspace, plans, deployment and ending (see stackprobe.lifecycle.stack);
- on LocalStack, `route(spec)` is the explicit router: it plans on LocalStack and returns the stack
  that will apply, which is an embedded moto's when LocalStack does not serve what the plan needs.
  Callers hold that stack from then on; nothing is rerouted behind their back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from stackprobe.aws.inventory import Snapshot, snapshot
from stackprobe.backends.base import AwsBackend, Emulator
from stackprobe.backends.guard import (
    check_caller_identity,
    check_pinned,
    drop_credential_selectors,
    pin_process_environ,
)
from stackprobe.errors import BackendError, StackprobeError
from stackprobe.lifecycle.plan_store import PlanStore
from stackprobe.lifecycle.stack import Ending, StackMode, StackUnderTest
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.lifecycle.run")


@dataclass(frozen=True)
class DeferredApply:
    """A configuration LocalStack could plan but not apply: what it lacks, and which types need that."""

    planned_on: str
    missing: Mapping[str, list[str]]  # boto3 service -> the plan's resource types that need it

    def describe(self) -> str:
        needs = "; ".join(f"{service} ({', '.join(types)})" for service, types in self.missing.items())
        return (
            f"Plan only on {self.planned_on}, which does not serve {needs}. The plan is LocalStack's; apply, "
            "checks, second plan and destroy ran on an embedded moto instead."
        )


@dataclass(frozen=True)
class Route:
    """Where a configuration is applied: `stack` (which may live on another emulator than the plan)."""

    plan: Plan
    stack: StackUnderTest
    deferral: DeferredApply | None = None


class Run:
    """One emulator, pinned into the environment, and the stacks deployed to it in this run."""

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
        self.on_output = on_output
        self.plans = plans
        # On LocalStack, a configuration that needs services it does not serve is planned there and
        # applied on an embedded moto (True), or refused before apply (False: `stackprobe parity`,
        # where applying elsewhere would compare moto with itself).
        self.defer_unserved = defer_unserved
        self.workspaces_outlive_run = workspaces_outlive_run
        self.emulator: Emulator | None = emulator
        self._owns_emulator = emulator is None
        self._backend: AwsBackend | None = None
        self._stacks: dict[StackSpec, StackUnderTest] = {}
        self._lock = threading.Lock()
        self._saved_environ: dict[str, str] | None = None
        self._warmup: threading.Thread | None = None
        self._deferred: dict[StackSpec, DeferredApply] = {}
        self._fallback: Run | None = None
        # What the emulator listed right after it started (the warm-up's inventory), in those regions.
        self._pristine: Snapshot | None = None
        self._pristine_regions: tuple[str, ...] = ()
        # Set once a test emptied the emulator to build resources of its own (see reset_emulator).
        self._emptied_by_tests = False
        # Set once the emulator holds what the stack expects to exist already (see `seeded`).
        self._seeded = False
        self.endings: list[tuple[StackSpec, Ending]] = []

    # -- emulator ------------------------------------------------------------------------------
    @property
    def backend(self) -> AwsBackend:
        if self._backend is None:
            self._backend = self._start_backend()
        return self._backend

    @property
    def owns_emulator(self) -> bool:
        return self._owns_emulator

    @property
    def discards_emulator(self) -> bool:
        """Whether the emulator ends with this run and takes whatever is in it along (its own embedded moto)."""
        return self._owns_emulator and getattr(self.emulator, "kind", "") == "embedded"

    def _start_backend(self) -> AwsBackend:
        backend: AwsBackend
        # Saved before anything changes it, restored on close. Profiles and credentials go before an
        # emulator starts: moto builds boto3 sessions while it imports, and a profile that does not
        # exist (AWS_PROFILE=nowhere) would fail the run there, before any guard could speak.
        self._saved_environ = dict(os.environ)
        drop_credential_selectors(os.environ)
        if self.emulator is not None:
            # Handed in (a live session's detached moto): the session owns it; this run only uses it.
            backend = getattr(self.emulator, "backend")  # noqa: B009 - every emulator kind carries one
            if not self.emulator.alive():
                raise BackendError(
                    f"The emulator at {self.emulator.endpoint} does not answer as the live session's own",
                    "it stopped (idle expiry, a reboot) or another process took its port: `stackprobe down DIR "
                    "--force` forgets the session; `stackprobe up` (or --stackprobe-reuse) starts a new one.",
                )
        elif self.settings.backend == "localstack":
            # Started before the environment is pinned, so a user's AWS_ENDPOINT_URL is still seen.
            from stackprobe.backends.localstack import start_localstack

            handle = start_localstack(self.settings, self.work_root)
            self.emulator = handle
            backend = handle.backend
        elif self.settings.backend == "moto":
            from stackprobe.backends.moto import EmbeddedMoto

            moto = EmbeddedMoto(port=self.settings.moto_port, region=self.settings.region)
            backend = moto.start()
            self.emulator = moto
        else:
            raise StackprobeError(
                f"Unknown backend {self.settings.backend!r}",
                "use --stackprobe-backend=moto (embedded, the default) or --stackprobe-backend=localstack.",
            )
        # Pinned for the life of the run (boto3 in tests and the app processes inherit it), and
        # restored on close so that a nested run does not leave the outer one pointing at it.
        pin_process_environ(backend)
        check_pinned(backend, os.environ)
        check_caller_identity(backend)
        LOG.info("%s listening on %s", backend.name, backend.endpoint)
        # moto imports each service's models on first use and boto3 loads a service model per client:
        # together tens of seconds on a loaded machine. Listing every service once, in the background
        # while terraform inits and plans, moves that cost off the critical path of the first apply.
        if self._owns_emulator:
            # A live session's emulator served its stack already: nothing to warm, nothing pristine.
            self._pristine_regions = (backend.region, "us-east-1")
            self._warmup = threading.Thread(
                target=self._warm_up, args=(backend,), name="stackprobe-warmup", daemon=True
            )
            self._warmup.start()
        return backend

    def _warm_up(self, backend: AwsBackend) -> None:
        """List every service once (see `backend`); a failure here costs only the head start.

        Its inventory is the account as the emulator started it (see `_ready_for_apply`). A test may
        reset or stop the emulator while this runs (the answer is then not XML, or no answer): that is
        not an error of the stack or the harness, so it is logged, not raised in a stray thread.
        """
        try:
            self._pristine, _ = snapshot(backend, list(self._pristine_regions))
        except Exception as exc:  # best effort by design: the first real call reports for real
            LOG.debug("warm-up stopped early: %s", exc)

    def wait_for_warmup(self) -> None:
        if self._warmup is not None:
            self._warmup.join()

    # -- stacks --------------------------------------------------------------------------------
    def stack(
        self, spec: StackSpec, *, mode: StackMode = StackMode.EPHEMERAL, work_dir: Path | None = None
    ) -> StackUnderTest:
        """The stack of `spec` on this run's emulator (created once; later calls return the same one)."""
        with self._lock:
            if spec not in self._stacks:
                if work_dir is None:
                    work_dir = self.work_root / f"stack{len(self._stacks)}-{_slug(spec.name)}"
                work_dir.mkdir(parents=True, exist_ok=True)
                self._stacks[spec] = StackUnderTest(
                    spec,
                    self.backend,
                    self.settings,
                    emulator=self.emulator,
                    work_dir=work_dir,
                    on_output=self.on_output,
                    plans=self.plans,
                    mode=mode,
                    workspace_outlives_run=self.workspaces_outlive_run,
                    before_apply=self._ready_for_apply,
                )
            return self._stacks[spec]

    def route(self, spec: StackSpec) -> Route:
        """Plan `spec` here and decide where it is applied (see the module docstring)."""
        stack = self.stack(spec)
        plan = stack.plan()
        missing = self.unserved(spec, plan)
        if not missing:
            return Route(plan, stack)
        if not self.defer_unserved:
            needs = "; ".join(f"{service} ({', '.join(types)})" for service, types in missing.items())
            raise BackendError(
                f"LocalStack does not serve what {spec.name} needs: {needs}",
                "switch those resources off for LocalStack (e.g. terraform/environments/"
                "localstack-community.tfvars), use a LocalStack that serves them (the Pro image with "
                "LOCALSTACK_AUTH_TOKEN), or let stackprobe verify apply on the embedded moto.",
                detail="Nothing was applied.",
            )
        from stackprobe.backends.localstack import LocalStackHandle

        assert isinstance(self.emulator, LocalStackHandle)  # unserved() found services missing: it is one
        capabilities = self.emulator.capabilities
        edition = "" if capabilities.edition == "unknown" else f"{capabilities.edition} "  # the runtime says none
        where = f"LocalStack {edition}{capabilities.version} ({self.emulator.mode} mode)"
        deferral = self._deferred.setdefault(spec, DeferredApply(where, missing))
        LOG.warning("%s", deferral.describe())
        return Route(plan, self._moto_fallback().stack(spec), deferral)

    def unserved(self, spec: StackSpec, plan: Plan | None = None) -> dict[str, list[str]]:
        """Services the plan of `spec` needs that this run's LocalStack does not serve ({} on moto)."""
        from stackprobe.backends.capabilities import missing_services
        from stackprobe.backends.localstack import LocalStackHandle

        _ = self.backend
        if not isinstance(self.emulator, LocalStackHandle):
            return {}
        return missing_services(self.emulator.capabilities, (plan or self.stack(spec).plan_json()).types())

    def deferrals(self) -> list[DeferredApply]:
        return list(self._deferred.values())

    def _moto_fallback(self) -> Run:
        """The embedded moto that applies what LocalStack cannot (started on first use)."""
        with self._lock:
            if self._fallback is None:
                settings = replace(self.settings, backend="moto", endpoint=None)
                self._fallback = Run(
                    settings,
                    self.work_root / "moto-apply",
                    self.on_output,
                    plans=self.plans,
                    workspaces_outlive_run=self.workspaces_outlive_run,
                )
            return self._fallback

    def _ready_for_apply(self) -> bool:
        """Get the emulator ready for a stack's first apply; True when it had to be emptied.

        Checks discover everything in the account, so whatever earlier tests left in the emulator would
        be judged as part of this stack: the first stack applied in a run starts from an account as the
        emulator started it. When the account is already that (the usual case: only plans ran), it is
        not reset, because a reset gives moto's default VPC and friends new ids, and a plan made before
        it may have read them. After a reset the stack plans again (see StackUnderTest.deploy).
        """
        self.wait_for_warmup()
        if self.emulator is None or not self._owns_emulator or self.deployed_stacks() or self._seeded:
            return False
        if self._pristine is not None and not self._emptied_by_tests:
            now, _ = snapshot(self.backend, list(self._pristine_regions))
            if now == self._pristine:
                return False
        LOG.info("the emulator holds what earlier tests left: emptying it before the first apply")
        self.emulator.reset()
        return True

    def seeded(self) -> None:
        """The emulator now holds, on purpose, what the stack under test expects to exist already
        (created by a `pytest_stackprobe_prerequisites` hook): it is not emptied before the first apply."""
        self.wait_for_warmup()
        self._seeded = True

    def deployed_stacks(self) -> list[StackUnderTest]:
        return [s for s in self._stacks.values() if s.armed and s.ending is None]

    def reset_emulator(self) -> AwsBackend:
        """Empty the emulator for a test that needs a clean account; refused while a stack is deployed."""
        backend = self.backend
        if not self._owns_emulator:
            raise StackprobeError(
                "Cannot reset the emulator of a live session: it holds the stack the session keeps",
                "run the tests that need an empty emulator without --stackprobe-reuse.",
            )
        deployed = self.deployed_stacks()
        if deployed:
            raise StackprobeError(
                f"Cannot reset the emulator: {deployed[0].spec.name} is deployed in it",
                "run tests that need an empty emulator before the integration tests (the plugin orders "
                "them so), or in a separate xdist worker.",
            )
        # The warm-up's requests would otherwise land in the emptied account's request log (and in a
        # test reading the log's tail) after the reset.
        self.wait_for_warmup()
        if self.emulator is not None:
            self.emulator.reset()
            self._emptied_by_tests = True
        return backend

    def close(self) -> list[tuple[StackSpec, Ending]]:
        """End every stack still deployed, stop the emulator this run started, restore the environment.

        Returns how each stack ended in this run (those ended earlier by their caller included), so the
        caller can report a stack that was left behind.
        """
        endings: list[tuple[StackSpec, Ending]] = []
        try:
            if self._fallback is not None:
                # First: it pinned the environment after this run did, so its restore comes first.
                endings += self._fallback.close()
            for spec, stack in list(self._stacks.items()):
                if stack.armed or stack.ending is not None:
                    endings.append((spec, stack.end()))
        finally:
            if self.emulator is not None and self._owns_emulator:
                self.emulator.stop()
            if self._saved_environ is not None:
                os.environ.clear()
                os.environ.update(self._saved_environ)
                self._saved_environ = None
        self.endings = endings
        return endings


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
