"""The emulator a run works against, and the process environment pinned to it, from start to stop.

An `Emulation` starts the emulator the settings name (a kind from stackprobe.backends.registry), or uses
one handed in (a live session's detached moto, which it never stops: the session owns it). It pins the
process environment to the emulator for the life of the run and restores it when it closes, guards the
endpoint, warms the emulator up in the background once something is about to send it requests, and keeps
the account "as the emulator started it" so that a first apply starts from that account and nothing earlier
tests left in it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from stackprobe.aws.inventory import Snapshot, snapshot
from stackprobe.backends.base import AwsBackend, Emulator, EmulatorRequest
from stackprobe.backends.guard import (
    check_caller_identity,
    check_pinned,
    drop_credential_selectors,
    pin_process_environ,
)
from stackprobe.backends.registry import kind_of
from stackprobe.errors import BackendError
from stackprobe.settings import RunSettings

LOG = logging.getLogger("stackprobe.lifecycle")


class Emulation:
    """One emulator and the environment pinned to it (see the module docstring)."""

    def __init__(self, settings: RunSettings, work_root: Path, emulator: Emulator | None = None) -> None:
        self.settings = settings
        self.work_root = work_root
        self.emulator: Emulator | None = emulator
        self.owned = emulator is None
        self._backend: AwsBackend | None = None
        self._saved_environ: dict[str, str] | None = None
        self._warmup: threading.Thread | None = None
        self._warmup_lock = threading.Lock()
        # What the emulator listed right after it started (the warm-up's inventory), in those regions.
        self._pristine: Snapshot | None = None
        self._pristine_regions: tuple[str, ...] = ()
        # Set once a test emptied the emulator to build resources of its own (see `empty`).
        self.emptied_by_tests = False
        # Set once the emulator holds what the stack expects to exist already (see `seeded`).
        self.seeded = False

    @property
    def backend(self) -> AwsBackend:
        """The emulator, started on first use, with its warm-up under way (see `warm_up`)."""
        backend = self.started()
        self.warm_up()
        return backend

    def started(self) -> AwsBackend:
        """The emulator, started on first use, without starting its warm-up: for what sends it no request yet
        (a stack's copy and its plan key), so that a run which only reads stored plans never pays for it."""
        if self._backend is None:
            self._backend = self._start()
        return self._backend

    @property
    def discarded_with_run(self) -> bool:
        """Whether the emulator ends with the run and takes whatever is in it along (its own, in process)."""
        return self.owned and kind_of(self.settings.backend).in_process

    def _start(self) -> AwsBackend:
        # Saved before anything changes it, restored on close. Profiles and credentials go before an
        # emulator starts: moto builds boto3 sessions while it imports, and a profile that does not
        # exist (AWS_PROFILE=nowhere) would fail the run there, before any guard could speak.
        self._saved_environ = dict(os.environ)
        drop_credential_selectors(os.environ)
        if self.emulator is not None and not self.emulator.alive():
            raise BackendError(
                f"The emulator at {self.emulator.endpoint} does not answer as the live session's own",
                "it stopped (idle expiry, a reboot) or another process took its port: `stackprobe down DIR "
                "--force` forgets the session; `stackprobe up` (or --stackprobe-reuse) starts a new one.",
            )
        if self.emulator is None:
            # Started before the environment is pinned, so a user's AWS_ENDPOINT_URL is still seen.
            request = EmulatorRequest(
                region=self.settings.region,
                work_dir=self.work_root,
                cache_dir=self.settings.cache_dir,
                port=self.settings.moto_port,
                endpoint=self.settings.endpoint,
            )
            self.emulator = kind_of(self.settings.backend).start(request)
        backend: AwsBackend = getattr(self.emulator, "backend")  # noqa: B009 - every emulator kind carries one
        # Pinned for the life of the run (boto3 in tests and the app processes inherit it), and restored on
        # close so that a nested run does not leave the outer one pointing at it.
        pin_process_environ(backend)
        check_pinned(backend, os.environ)
        check_caller_identity(backend)
        LOG.info("%s listening on %s", backend.name, backend.endpoint)
        return backend

    def warm_up(self) -> None:
        """List every service once, in the background, unless this run did already or does not own the emulator.

        moto imports each service's models on first use and boto3 loads a service model per client: together
        tens of seconds on a loaded machine. Started before a stack's first terraform command (and by anything
        that asks for `backend`), so that it runs while terraform inits and plans, off the critical path of the
        first apply; not when the emulator starts, because a run that only reads stored plans sends the
        emulator nothing, and there the listing only competed with the tests for the interpreter (about a third
        of a warm `pytest -m unit`). Its inventory is the account as the emulator started it: whatever sends
        requests of its own first asks for `backend`, or waits for it (`ready_for_apply`).
        """
        with self._warmup_lock:
            # A live session's emulator served its stack already: nothing to warm, nothing pristine.
            if self._warmup is not None or not self.owned or self._backend is None:
                return
            self._pristine_regions = (self._backend.region, "us-east-1")
            self._warmup = threading.Thread(
                target=self._warm_up, args=(self._backend,), name="stackprobe-warmup", daemon=True
            )
            self._warmup.start()

    def _warm_up(self, backend: AwsBackend) -> None:
        """List every service once (see `warm_up`); a failure here costs only the head start.

        Its inventory is the account as the emulator started it (see `ready_for_apply`). A test may reset or
        stop the emulator while this runs (the answer is then not XML, or no answer): that is not an error
        of the stack or the harness, so it is logged, not raised in a stray thread.
        """
        try:
            self._pristine, _ = snapshot(backend, list(self._pristine_regions))
        except Exception as exc:  # best effort by design: the first real call reports for real
            LOG.debug("warm-up stopped early: %s", exc)

    def warmed_up(self) -> AwsBackend:
        """The emulator once its warm-up has recorded the account as it started (starting the warm-up if nothing
        did yet: every plan may have come from the store)."""
        backend = self.backend
        self.wait_for_warmup()
        return backend

    def wait_for_warmup(self) -> None:
        if self._warmup is not None:
            self._warmup.join()

    def ready_for_apply(self) -> bool:
        """Get the emulator ready for a run's first apply; True when it had to be emptied.

        Checks discover everything in the account, so whatever earlier tests left in the emulator would be
        judged as part of this stack: the first stack applied in a run starts from an account as the
        emulator started it. When the account is already that (the usual case: only plans ran), it is not
        reset, because a reset gives moto's default VPC and friends new ids, and a plan made before it may
        have read them. After a reset the deployment plans again (see Deployment.apply).
        """
        self.warmed_up()
        if self.emulator is None or not self.owned or self.seeded:
            return False
        if self._pristine is not None and not self.emptied_by_tests:
            now, _ = snapshot(self.backend, list(self._pristine_regions))
            if now == self._pristine:
                return False
        LOG.info("the emulator holds what earlier tests left: emptying it before the first apply")
        self.emulator.reset()
        return True

    def empty(self) -> AwsBackend:
        """Empty the emulator for a test that needs a clean account (the caller checked nothing is deployed)."""
        backend = self.backend
        # The warm-up's requests would otherwise land in the emptied account's request log (and in a test
        # reading the log's tail) after the reset.
        self.wait_for_warmup()
        if self.emulator is not None:
            self.emulator.reset()
            self.emptied_by_tests = True
        return backend

    def close(self) -> None:
        """Stop the emulator if this run started it, and give the process its environment back."""
        try:
            if self.emulator is not None and self.owned:
                self.emulator.stop()
        finally:
            if self._saved_environ is not None:
                os.environ.clear()
                os.environ.update(self._saved_environ)
                self._saved_environ = None
