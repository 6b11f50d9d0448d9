"""The per-process set of stacks: one backend, and each configuration planned or applied at most once.

Both the pytest plugin and the CLI go through this object, so a unit test's plan and an integration
test's apply of the same configuration share one workspace and one init, and the pre-apply plan is
not computed twice.
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

from stackprobe.backends.base import AwsBackend, Emulator
from stackprobe.backends.guard import check_caller_identity, check_pinned, pin_process_environ
from stackprobe.backends.moto import EmbeddedMoto
from stackprobe.errors import BackendError, StackprobeError
from stackprobe.inventory import snapshot
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.shared_plans import SharedPlans, plan_key
from stackprobe.stack import DeployedStack, StackUnderTest
from stackprobe.terraform.plan import Plan

LOG = logging.getLogger("stackprobe.session")


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


class StackSession:
    """Owns the emulator for this process and every StackUnderTest created in it."""

    def __init__(
        self,
        settings: RunSettings,
        work_root: Path,
        on_output: Callable[[str], None] | None = None,
        *,
        defer_unserved: bool = True,
    ) -> None:
        self.settings = settings
        # On LocalStack, a configuration that needs services it does not serve is planned there and
        # applied on an embedded moto (True), or refused before apply (False: `stackprobe parity`,
        # where applying elsewhere would compare moto with itself).
        self.defer_unserved = defer_unserved
        self.work_root = work_root
        self.on_output = on_output
        self.emulator: Emulator | None = None
        self._backend: AwsBackend | None = None
        self._stacks: dict[StackSpec, StackUnderTest] = {}
        self._plans: dict[StackSpec, Plan] = {}
        self._lock = threading.Lock()
        self._saved_environ: dict[str, str] | None = None
        self._warmup: threading.Thread | None = None
        self._deferred: dict[StackSpec, DeferredApply] = {}
        self._fallback: StackSession | None = None
        self._shared = SharedPlans(settings.shared_plans) if settings.shared_plans is not None else None

    # -- backend -------------------------------------------------------------------------------
    @property
    def backend(self) -> AwsBackend:
        if self._backend is None:
            self._backend = self._start_backend()
        return self._backend

    def _start_backend(self) -> AwsBackend:
        backend: AwsBackend
        if self.settings.backend == "localstack":
            # Started before the environment is pinned, so a user's AWS_ENDPOINT_URL is still seen.
            from stackprobe.backends.localstack import start_localstack

            handle = start_localstack(self.settings, self.work_root)
            self.emulator = handle
            backend = handle.backend
        elif self.settings.backend == "moto":
            moto = EmbeddedMoto(port=self.settings.moto_port, region=self.settings.region)
            backend = moto.start()
            self.emulator = moto
        else:
            raise StackprobeError(
                f"Unknown backend {self.settings.backend!r}",
                "use --stackprobe-backend=moto (embedded, the default) or --stackprobe-backend=localstack.",
            )
        # Pinned for the life of the session (boto3 in tests and the app processes inherit it), and
        # restored on close so that a nested session does not leave the outer one pointing at it.
        self._saved_environ = dict(os.environ)
        pin_process_environ(backend)
        check_pinned(backend, os.environ)
        check_caller_identity(backend)
        LOG.info("%s listening on %s", backend.name, backend.endpoint)
        # moto imports each service's models on first use and boto3 loads a service model per client:
        # together tens of seconds on a loaded machine. Listing every service once, in the background
        # while terraform inits and plans, moves that cost off the critical path of the first apply.
        self._warmup = threading.Thread(
            target=_warm_up, args=(backend, [backend.region, "us-east-1"]), name="stackprobe-warmup", daemon=True
        )
        self._warmup.start()
        return backend

    # -- stacks --------------------------------------------------------------------------------
    def stack(self, spec: StackSpec) -> StackUnderTest:
        if spec in self._deferred:
            return self._moto_fallback().stack(spec)
        with self._lock:
            if spec not in self._stacks:
                work_dir = self.work_root / f"stack{len(self._stacks)}-{_slug(spec.name)}"
                work_dir.mkdir(parents=True, exist_ok=True)
                self._stacks[spec] = StackUnderTest(
                    spec,
                    self.backend,
                    self.settings,
                    emulator=self.emulator,
                    work_dir=work_dir,
                    on_output=self.on_output,
                )
            return self._stacks[spec]

    def plan(self, spec: StackSpec, *, shared: bool = False) -> Plan:
        """The pre-apply plan of `spec` (computed once, against an emulator with no stack in it).

        `shared`: the caller reads the plan's JSON and never applies it, so a plan another process of
        this run published (or is computing) for the same configuration and emulator kind will do.
        """
        if spec not in self._plans:
            stack = self.stack(spec)
            if stack.deployed is not None:
                self._plans[spec] = stack.deployed.plan
            elif self._shared is None:
                self._plans[spec] = stack.plan()
            elif shared:
                self._plans[spec] = self._shared.plan_json(self._plan_key(spec), stack.plan)
            else:
                self._plans[spec] = self._shared.planned(self._plan_key(spec), stack.plan)
        return self._plans[spec]

    def plan_in_progress_elsewhere(self, spec: StackSpec) -> bool:
        """Whether another process of this run is planning `spec` right now (so waiting for it is cheap)."""
        return self._shared is not None and self._shared.in_progress(self._plan_key(spec))

    def _plan_key(self, spec: StackSpec) -> str:
        return plan_key(spec, self.backend.name, self.backend.region)

    def _own_plan(self, spec: StackSpec) -> Plan | None:
        """The pre-apply plan this process computed in its own workspace (one it can apply), if any."""
        plan = self._plans.get(spec)
        return plan if plan is not None and plan.path is not None else None

    def unserved(self, spec: StackSpec) -> dict[str, list[str]]:
        """Services the plan of `spec` needs that this session's LocalStack does not serve ({} on moto)."""
        from stackprobe.backends.capabilities import missing_services
        from stackprobe.backends.localstack import LocalStackHandle

        _ = self.backend
        if not isinstance(self.emulator, LocalStackHandle):
            return {}
        return missing_services(self.emulator.capabilities, self.plan(spec).types())

    def deferral(self, spec: StackSpec) -> DeferredApply | None:
        """Whether `spec` is (to be) applied on the embedded moto because LocalStack lacks services for it."""
        if spec in self._deferred or not self.defer_unserved:
            return self._deferred.get(spec)
        missing = self.unserved(spec)
        if not missing:
            return None
        from stackprobe.backends.localstack import LocalStackHandle

        assert isinstance(self.emulator, LocalStackHandle)
        capabilities = self.emulator.capabilities
        edition = "" if capabilities.edition == "unknown" else f"{capabilities.edition} "  # the runtime says none
        where = f"LocalStack {edition}{capabilities.version} ({self.emulator.mode} mode)"
        self._deferred[spec] = DeferredApply(where, missing)
        LOG.warning("%s", self._deferred[spec].describe())
        return self._deferred[spec]

    def is_deferred(self, spec: StackSpec) -> bool:
        """Whether `spec` was handed to the embedded moto (never computes anything, unlike `deferral`)."""
        return spec in self._deferred

    def deferrals(self) -> list[DeferredApply]:
        return list(self._deferred.values())

    def applying_backend(self, spec: StackSpec) -> AwsBackend:
        """Where `spec` is (to be) applied: the embedded moto (started now) when deferred, else this backend."""
        return self._moto_fallback().backend if self.is_deferred(spec) else self.backend

    def _moto_fallback(self) -> StackSession:
        """The embedded moto that applies what LocalStack cannot (started on first use)."""
        with self._lock:
            if self._fallback is None:
                settings = replace(self.settings, backend="moto", endpoint=None)
                self._fallback = StackSession(settings, self.work_root / "moto-apply", self.on_output)
            return self._fallback

    def deploy(self, spec: StackSpec) -> DeployedStack:
        if self.settings.backend == "localstack":
            if self.deferral(spec) is not None:
                return self._moto_fallback().deploy(spec)
            missing = self.unserved(spec)
            if missing:
                needs = "; ".join(f"{service} ({', '.join(types)})" for service, types in missing.items())
                raise BackendError(
                    f"LocalStack does not serve what {spec.name} needs: {needs}",
                    "switch those resources off for LocalStack (e.g. terraform/environments/"
                    "localstack-community.tfvars), use a LocalStack that serves them (the Pro image with "
                    "LOCALSTACK_AUTH_TOKEN), or let stackprobe verify apply on the embedded moto.",
                    detail="Nothing was applied.",
                )
        stack = self.stack(spec)
        if stack.deployed is None:
            if self._warmup is not None:
                self._warmup.join()
            if self.emulator is not None and not self.deployed_stacks():
                # Checks discover everything in the account, so whatever earlier tests left in the
                # emulator would be judged as part of this stack: start it from an empty account.
                self.emulator.reset()
            if self._own_plan(spec) is None:
                # Planned here, not read from another process: the saved plan file is what apply applies.
                self._plans.pop(spec, None)
                self.plan(spec)
            stack.deploy(plan=self._own_plan(spec))
        assert stack.deployed is not None
        return stack.deployed

    def deployed_stacks(self) -> list[StackUnderTest]:
        return [s for s in self._stacks.values() if s.armed and s.teardown_report is None]

    def reset_emulator(self) -> AwsBackend:
        """Empty the emulator for a test that needs a clean account; refused while a stack is deployed."""
        backend = self.backend
        deployed = self.deployed_stacks()
        if deployed:
            raise StackprobeError(
                f"Cannot reset the emulator: {deployed[0].spec.name} is deployed in it",
                "run tests that need an empty emulator before the integration tests (the plugin orders "
                "them so), or in a separate xdist worker.",
            )
        if self._warmup is not None:
            # Its requests would otherwise land in the emptied account's request log (and in a test
            # reading the log's tail) after the reset.
            self._warmup.join()
        if self.emulator is not None:
            self.emulator.reset()
        return backend

    def close(self) -> None:
        if self._fallback is not None:
            # First: it pinned the environment after this session did, so its restore comes first.
            self._fallback.close()
        for stack in self._stacks.values():
            with contextlib.suppress(Exception):
                stack.teardown()
        if self.emulator is not None:
            self.emulator.stop()
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None


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


def _warm_up(backend: AwsBackend, regions: list[str]) -> None:
    """List every service once (see StackSession.backend); a failure here costs only the head start.

    A test may reset or stop the emulator while this runs (the answer is then not XML, or no answer):
    that is not an error of the stack or the harness, so it is logged, not raised in a stray thread.
    """
    try:
        snapshot(backend, regions)
    except Exception as exc:  # best effort by design: the first real call reports for real
        LOG.debug("warm-up stopped early: %s", exc)
