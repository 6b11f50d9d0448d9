"""Live sessions: a stack kept deployed on a detached emulator between runs.

`stackprobe up` (or the first `--stackprobe-reuse` / `verify --reuse`, or `--keep-stack`) starts a
detached moto (`stackprobe serve`, see stackprobe.backends.moto.DetachedMoto), applies the stack, and
records a `LiveSession` in the user's cache, one directory per stack:

    <cache>/live/<key>/session.json    the record: stack, endpoint, emulator pid and token, digest, times
                      plan.json        the pre-apply plan of the last apply
                      baseline.json    the emulator's inventory before the first apply (teardown proof)
                      second-plan.json the plan right after the last apply (absent: it was empty)
                      work/            the terraform workspace, with its state and init
                      lock             held while a run is attached (a second run is refused)
                      emulator.log     the detached emulator's own output

A later run attaches to it. The record's digest (stackprobe.lifecycle.digest) decides what happens: unchanged,
no terraform runs at all; changed, the kept workspace is brought up to the configuration and an
incremental apply touches only what changed. `stackprobe down` destroys the stack, proves the emulator
holds nothing it created, stops the emulator and forgets the session. A session whose emulator is gone
(idle expiry, a reboot, a port taken by another process) is refused with the remedy, never silently
recreated over: `stackprobe down --force` forgets it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from stackprobe.aws.inventory import Snapshot, TeardownReport
from stackprobe.backends.moto import DetachedFacts, DetachedMoto, pid_exists
from stackprobe.backends.registry import kind_of
from stackprobe.errors import StackprobeError
from stackprobe.lifecycle.deployment import DeployedStack, Deployment, StackMode
from stackprobe.lifecycle.digest import StackDigest, configuration_digest, configuration_files, tools_digest
from stackprobe.lifecycle.run import Run
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.drift import DriftReport, classify
from stackprobe.terraform.mirror import resolve_provider_source
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.workspace import Workspace, create_workspace

LOG = logging.getLogger("stackprobe.lifecycle.live")
RECORD_VERSION = 1


class LiveSessionError(StackprobeError):
    """A live session cannot be used as asked (busy, gone, missing)."""


@dataclass
class LiveSession:
    """The record of one kept stack and the detached emulator it lives on."""

    spec: StackSpec
    directory: Path
    backend: str
    region: str
    emulator: DetachedFacts
    digest: StackDigest
    created_at: float
    applied_at: float
    used_at: float
    idle_ttl: float
    history: list[str] = field(default_factory=list)
    # The digest of the prerequisites configuration the kept prerequisites were applied from, if any.
    prerequisites_digest: StackDigest | None = None

    @property
    def work_dir(self) -> Path:
        return self.directory / "work"

    @property
    def endpoint(self) -> str:
        return self.emulator.endpoint

    def attach_emulator(self) -> DetachedMoto:
        return DetachedMoto.attach(self.emulator, self.region, self.directory / "emulator.log")

    # -- stored alongside the record -----------------------------------------------------------
    def plan(self, part: str = "") -> Plan:
        """The pre-apply plan of the last apply (`part="prerequisites/"`: the prerequisites')."""
        return Plan(json.loads((self.directory / part / "plan.json").read_text(encoding="utf-8")))

    def baseline(self, part: str = "") -> Snapshot:
        raw = json.loads((self.directory / part / "baseline.json").read_text(encoding="utf-8"))
        return {kind: set(items) for kind, items in raw.items()}

    def drift(self) -> DriftReport | None:
        """The second plan after the last apply, classified; None when it was never made."""
        path = self.directory / "second-plan.json"
        if not path.is_file():
            return None
        return self.drift_of(json.loads(path.read_text(encoding="utf-8")), self.backend)

    @staticmethod
    def drift_of(raw: dict[str, Any] | None, backend: str) -> DriftReport:
        if not raw or not raw.get("resource_changes"):
            return DriftReport()
        return classify(Plan(raw), moto_records=kind_of(backend).moto_compatibility)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "stack": self.spec.name,
            "tf_dir": str(self.spec.tf_dir),
            "var_files": [str(p) for p in self.spec.var_files],
            "variables": [list(pair) for pair in self.spec.variables],
            "teardown_variables": [list(pair) for pair in self.spec.teardown_variables],
            "prerequisites": str(self.spec.prerequisites.tf_dir) if self.spec.prerequisites else None,
            "prerequisites_digest": _digest_json(self.prerequisites_digest),
            "backend": self.backend,
            "region": self.region,
            "endpoint": self.emulator.endpoint,
            "emulator_pid": self.emulator.pid,
            "emulator_token": self.emulator.token,
            "digest": _digest_json(self.digest),
            "created_at": self.created_at,
            "applied_at": self.applied_at,
            "used_at": self.used_at,
            "idle_ttl": self.idle_ttl,
            "workspace": str(self.work_dir),
            "history": self.history[-20:],
        }

    @classmethod
    def from_json(cls, directory: Path, raw: dict[str, Any]) -> LiveSession:
        spec = StackSpec(
            tf_dir=Path(raw["tf_dir"]),
            var_files=tuple(Path(p) for p in raw["var_files"]),
            variables=tuple((str(k), str(v)) for k, v in raw["variables"]),
            teardown_variables=tuple((str(k), str(v)) for k, v in raw["teardown_variables"]),
            prerequisites=StackSpec(tf_dir=Path(raw["prerequisites"])) if raw.get("prerequisites") else None,
        )
        return cls(
            spec=spec,
            directory=directory,
            backend=str(raw["backend"]),
            region=str(raw["region"]),
            emulator=DetachedFacts(str(raw["endpoint"]), int(raw["emulator_pid"]), str(raw["emulator_token"])),
            digest=_digest_from(raw["digest"]),
            created_at=float(raw["created_at"]),
            applied_at=float(raw["applied_at"]),
            used_at=float(raw["used_at"]),
            idle_ttl=float(raw["idle_ttl"]),
            history=[str(line) for line in raw.get("history", [])],
            prerequisites_digest=_digest_from(raw["prerequisites_digest"]) if raw.get("prerequisites_digest") else None,
        )


def _digest_json(digest: StackDigest | None) -> dict[str, str] | None:
    return None if digest is None else {"configuration": digest.configuration, "tools": digest.tools}


def _digest_from(raw: dict[str, Any]) -> StackDigest:
    return StackDigest(str(raw["configuration"]), str(raw["tools"]))


def session_key(spec: StackSpec) -> str:
    """Live sessions are keyed by the stack's absolute path, var files and -var values."""
    identity = [str(spec.tf_dir.resolve()), [str(p.resolve()) for p in spec.var_files], list(spec.variables)]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


class LiveSessions:
    """The user's live sessions, one directory each under `<cache>/live/`."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / "live"

    def directory(self, spec: StackSpec) -> Path:
        return self.root / f"{_slug(spec.name)}-{session_key(spec)}"

    def load(self, spec: StackSpec) -> LiveSession | None:
        return self._read(self.directory(spec))

    def _read(self, directory: Path) -> LiveSession | None:
        path = directory / "session.json"
        if not path.is_file():
            return None
        try:
            return LiveSession.from_json(directory, json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise LiveSessionError(
                f"The live session record {path} cannot be read ({exc})",
                f"remove {directory} (after stopping its emulator, if one runs: see emulator.log there).",
            ) from exc

    def all(self) -> list[LiveSession]:
        if not self.root.is_dir():
            return []
        found = [self._read(d) for d in sorted(self.root.iterdir()) if d.is_dir()]
        return [s for s in found if s is not None]

    def save(self, session: LiveSession) -> None:
        session.directory.mkdir(parents=True, exist_ok=True)
        staging = session.directory / f"session.json.{os.getpid()}.tmp"
        staging.write_text(json.dumps(session.to_json(), indent=2), encoding="utf-8")
        staging.replace(session.directory / "session.json")

    def forget(self, directory: Path) -> None:
        """Remove a session's directory (its lock files go last: a waiting run then finds no record)."""
        for entry in directory.iterdir() if directory.is_dir() else []:
            if entry.name in ("lock", "open.lock"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)

    @contextlib.contextmanager
    def hold(self, spec: StackSpec, purpose: str) -> Iterator[Path]:
        """Hold the session's lock for `purpose`; a second holder is refused at once, naming the first."""
        directory = self.directory(spec)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "lock").open("a+") as handle:
            if not _try_lock(handle):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise LiveSessionError(
                    f"The live session of {spec.name} is in use by {holder}",
                    "wait for that run to finish (two runs attached to one live stack would change it under "
                    "each other), or run this one without --stackprobe-reuse / --reuse.",
                )
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} ({purpose}: {' '.join(sys.argv[:4])})")
            handle.flush()
            try:
                yield directory
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def opening(self, spec: StackSpec) -> Iterator[None]:
        """Serialise opening (attach, update or start) among the processes of one run (xdist workers)."""
        directory = self.directory(spec)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "open.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class OpenedLive:
    """A live session opened in this run: the run on its emulator, the kept stack, and what was done."""

    session: LiveSession
    run: Run
    deployment: Deployment
    how: str

    @property
    def deployed(self) -> DeployedStack:
        assert self.deployment.deployed is not None, "an opened live session's stack is deployed"
        return self.deployment.deployed

    def drift(self) -> DriftReport:
        """The second plan after the last apply: recorded, or made now (once) and recorded."""
        recorded = self.session.drift()
        return recorded if recorded is not None else _record_second_plan(self.session.directory, self.deployment)


def open_live(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    *,
    create: bool,
    on_output: Callable[[str], None] | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> OpenedLive:
    """Attach to the live session of `spec` (updating it when its digest changed), or start one.

    The caller holds the session (`LiveSessions.hold`). `create=False` refuses when there is none.
    """
    if not kind_of(settings.backend).live_sessions:
        raise LiveSessionError(
            f"Live sessions run on the detached moto; --backend {settings.backend} was asked",
            "drop --backend/--stackprobe-backend for `up`, `--reuse` and `--keep-stack` (a LocalStack you run "
            "yourself already outlives each run: point --endpoint at it instead).",
        )
    sessions = LiveSessions(settings.cache_dir)
    with sessions.opening(spec):
        session = sessions.load(spec)
        if session is None:
            if not create:
                raise LiveSessionError(
                    f"No live session of {spec.name}",
                    f"start one with `stackprobe up {spec.cli_arguments()}`.",
                )
            return _start(spec, settings, work_root, sessions, on_output, say)
        return _attach(session, spec, settings, work_root, sessions, on_output, say)


def _fresh_copy(spec: StackSpec, settings: RunSettings, endpoint: str, scratch: Path) -> tuple[Workspace, StackDigest]:
    workspace = create_workspace(
        spec.tf_dir, scratch, endpoint=endpoint, access_key="test", secret_key="test", include=spec.include
    )
    source = resolve_provider_source(settings.provider_mirror)
    digest = StackDigest(configuration_digest(workspace, spec), tools_digest(settings.terraform_binary, source.mirror))
    return workspace, digest


def _attach(
    session: LiveSession,
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    sessions: LiveSessions,
    on_output: Callable[[str], None] | None,
    say: Callable[[str], None],
) -> OpenedLive:
    emulator = session.attach_emulator()
    if not emulator.alive():
        raise LiveSessionError(
            f"The live session of {spec.name} points at {session.endpoint} (pid {session.emulator.pid}), which "
            f"does not answer as its emulator ({_gone_reason(session)})",
            f"`stackprobe down {spec.cli_arguments()} --force` forgets it; then `stackprobe up` (or a run with "
            "--stackprobe-reuse) starts a new one.",
        )
    run = Run(settings, work_root, on_output, emulator=emulator)
    with tempfile.TemporaryDirectory(prefix="stackprobe-digest-") as scratch:
        deployment, changes = _resume(run, spec, session, settings, Path(scratch), apply_changes=True, say=say)
    how = (
        f"updated: {' and '.join(changes)} changed, so an incremental apply ran on the kept state"
        if changes
        else "attached: the configuration is unchanged, so no terraform ran"
    )
    session.used_at = time.time()
    session.history.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {how}")
    sessions.save(session)
    return OpenedLive(session, run, deployment, how)


def _resume(
    run: Run,
    spec: StackSpec,
    session: LiveSession,
    settings: RunSettings,
    scratch: Path,
    *,
    apply_changes: bool,
    mode: StackMode = StackMode.KEPT,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[Deployment, list[str]]:
    """Take over the kept stack (and its kept prerequisites) from the session; returns it and what changed.

    Each part's configuration is copied afresh and its digest compared with the recorded one. Unchanged,
    the kept workspace is taken as it is (no terraform). Changed, the kept workspace is brought up to the
    configuration (keeping state and init), and with `apply_changes` an incremental apply follows (the
    prerequisites first) and the session's record is updated; without it (down), the stack is only resumed.
    The prerequisites are resumed first, so the stack is prepared with what they gave it.
    """
    if (spec.prerequisites is None) != (session.prerequisites_digest is None):
        had = "with" if session.prerequisites_digest is not None else "without"
        raise LiveSessionError(
            f"The live session of {spec.name} was started {had} prerequisites, and this run asks otherwise",
            f"end it (`stackprobe down {session.spec.cli_arguments()}`) and start it again as you want it now.",
        )
    changes: list[str] = []
    parts: list[tuple[StackSpec, str, StackDigest]] = []
    if spec.prerequisites is not None and session.prerequisites_digest is not None:
        parts.append((spec.prerequisites, "prerequisites/", session.prerequisites_digest))
    parts.append((spec, "", session.digest))
    deployment: Deployment | None = None
    for part_spec, name, recorded in parts:
        work_dir = session.work_dir / "prerequisites" if name else session.work_dir
        fresh, digest = _fresh_copy(part_spec, settings, session.endpoint, scratch / (name or "stack"))
        kept = rebase_workspace(fresh, work_dir / "src")
        changed = digest.difference(recorded)
        workspace = sync_workspace(fresh, kept, configuration_files(kept)) if changed else kept
        deployment = run.resumed(part_spec, (workspace, digest), session.plan(name), session.baseline(name), mode=mode)
        if not changed or not apply_changes:
            continue
        label = f"{changed} of the prerequisites" if name else changed
        say(f"==> {label} changed since the last apply: incremental apply on the kept state")
        deployed = deployment.update()
        _write_json(session.directory / name / "plan.json", deployed.plan.raw)
        if name:
            session.prerequisites_digest = digest
        else:
            _record_second_plan(session.directory, deployment, [c.address for c in deployed.plan.changes()])
            session.digest = digest
        session.applied_at = time.time()
        changes.append(label)
    assert deployment is not None, "the stack itself is always a part"
    return deployment, changes


def _start(
    spec: StackSpec,
    settings: RunSettings,
    work_root: Path,
    sessions: LiveSessions,
    on_output: Callable[[str], None] | None,
    say: Callable[[str], None],
) -> OpenedLive:
    directory = sessions.directory(spec)
    idle_ttl = settings.idle_ttl
    say(f"==> starting a detached moto for {spec.name} (it stops itself after {idle_ttl:.0f} s idle; 0: never)")
    emulator = DetachedMoto.start(directory, region=settings.region, port=settings.moto_port, idle_ttl=idle_ttl)
    run = Run(settings, work_root, on_output, emulator=emulator)
    deployment = run.deployment(spec, mode=StackMode.KEPT, work_dir=directory / "work")
    try:
        say(f"==> apply {spec.name} (the provider's own waits set the pace)")
        deployment.apply()
        say("==> second plan (recorded: a later attach then runs no terraform)")
        _record_second_plan(directory, deployment)
        _record_applied(directory, deployment)
        prerequisite = run.deployment(spec.prerequisites) if spec.prerequisites is not None else None
        if prerequisite is not None:
            _record_applied(directory / "prerequisites", prerequisite)
        now = time.time()
        session = LiveSession(
            spec=spec,
            directory=directory,
            backend="moto",
            region=settings.region,
            emulator=emulator.facts,
            digest=deployment.prepared.digest(),
            created_at=now,
            applied_at=now,
            used_at=now,
            idle_ttl=idle_ttl,
            history=[f"{time.strftime('%Y-%m-%d %H:%M:%S')} started"],
            prerequisites_digest=prerequisite.prepared.digest() if prerequisite is not None else None,
        )
        sessions.save(session)
    except BaseException:
        # Nothing half-made survives a failed or interrupted start: destroy what was applied, stop the
        # emulator, forget the directory.
        for part in (spec, spec.prerequisites):
            if part is not None:
                run.deployment(part).mode = StackMode.EPHEMERAL
        try:
            ending = run.end(spec)
            LOG.warning("the live session did not start; %s", ending.render())
        finally:
            run.close()
            emulator.stop()
            sessions.forget(directory)
        raise
    return OpenedLive(session, run, deployment, "started: a detached emulator and a cold apply")


def end_live(
    spec: StackSpec, settings: RunSettings, work_root: Path, *, force: bool, say: Callable[[str], None]
) -> TeardownReport | None:
    """Destroy the live stack, prove the emulator holds nothing it created, stop it, forget the session.

    With `force`, a session whose emulator is gone is forgotten (its process stopped if it still runs).
    Returns the teardown report (None when forced over a dead emulator).
    """
    sessions = LiveSessions(settings.cache_dir)
    with sessions.hold(spec, "down"):
        session = sessions.load(spec)
        if session is None:
            raise LiveSessionError(f"No live session of {spec.name}", "`stackprobe status` lists the live sessions.")
        emulator = session.attach_emulator()
        if not emulator.alive():
            if not force:
                raise LiveSessionError(
                    f"The emulator of the live session of {spec.name} is gone ({_gone_reason(session)}): there is "
                    "nothing left to destroy in it",
                    f"`stackprobe down {spec.cli_arguments()} --force` forgets the session.",
                )
            _stop_stray(session)
            sessions.forget(session.directory)
            say(f"==> forgot the live session of {spec.name} (its emulator was gone)")
            return None
        run = Run(settings, work_root, emulator=emulator)
        teardown_spec = replace(
            spec,
            teardown_variables=spec.teardown_variables or session.spec.teardown_variables,
            prerequisites=spec.prerequisites or session.spec.prerequisites,  # down needs not repeat them
        )
        with tempfile.TemporaryDirectory(prefix="stackprobe-digest-") as scratch:
            _resume(run, teardown_spec, session, settings, Path(scratch), apply_changes=False, mode=StackMode.EPHEMERAL)
        say(f"==> destroy {spec.name}, then inventory the emulator")
        try:
            report = run.end(teardown_spec)
        finally:
            run.close()
        assert isinstance(report, TeardownReport)
        if report.clean:
            emulator.stop()
            sessions.forget(session.directory)
        return report


def _gone_reason(session: LiveSession) -> str:
    if not pid_exists(session.emulator.pid):
        idle = session.idle_ttl
        expiry = f"it stops itself after {idle:.0f} s idle" if idle > 0 else "it had no idle expiry"
        return f"its process {session.emulator.pid} has exited; {expiry}"
    return f"process {session.emulator.pid} still runs, but the port answers as something else"


def _stop_stray(session: LiveSession) -> None:
    """Stop the session's emulator process if it still runs and is stackprobe's server."""
    pid = session.emulator.pid
    with contextlib.suppress(OSError):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"stackprobe" in command and b"serve" in command:
            os.killpg(pid, 9)


def _record_applied(directory: Path, deployment: Deployment) -> None:
    """What a later resume needs of an applied stack: its pre-apply plan and the baseline inventory."""
    assert deployment.deployed is not None
    directory.mkdir(parents=True, exist_ok=True)
    _write_json(directory / "plan.json", deployment.deployed.plan.raw)
    _write_json(directory / "baseline.json", {k: sorted(v) for k, v in (deployment.baseline or {}).items()})


def _record_second_plan(directory: Path, deployment: Deployment, targets: list[str] | None = None) -> DriftReport:
    """Make and record the second plan; after an update, only of what the update changed.

    A targeted second plan refreshes only the changed resources and what they depend on (what depends on
    them was in the update's own plan, so it is among them). The recorded plan keeps the earlier second
    plan's changes of every other resource, and takes the new one's for the changed ones.
    """
    path = directory / "second-plan.json"
    if targets is None or not path.is_file():
        plan, report = deployment.second_plan()
        _write_json(path, None if plan is None else plan.raw)
        return report
    if not targets:
        return LiveSession.drift_of(json.loads(path.read_text(encoding="utf-8")), deployment.backend.name)
    plan, _ = deployment.second_plan(targets)
    earlier = json.loads(path.read_text(encoding="utf-8")) or {"resource_changes": []}
    changed = set(targets)
    kept = [c for c in earlier.get("resource_changes", []) if _untargeted(c.get("address", ""), changed)]
    merged = {**earlier, "resource_changes": kept + ([] if plan is None else plan.raw.get("resource_changes", []))}
    _write_json(path, merged)
    return LiveSession.drift_of(merged, deployment.backend.name)


def _untargeted(address: str, targets: set[str]) -> bool:
    """Whether `address` (or the resource it is an instance of) is outside `targets`."""
    return address not in targets and address.split("[", 1)[0] not in targets


def _write_json(path: Path, data: Any) -> None:
    staging = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(data), encoding="utf-8")
    staging.replace(path)


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:40]


@dataclass(frozen=True)
class SessionStatus:
    """One line of `stackprobe status`."""

    session: LiveSession
    alive: bool
    idle_seconds: float | None
    digest_change: str | None  # "" unchanged, text when changed, None when it cannot be computed

    def to_json(self) -> dict[str, Any]:
        return {
            **self.session.to_json(),
            "alive": self.alive,
            "idle_seconds": self.idle_seconds,
            "digest_matches": None if self.digest_change is None else not self.digest_change,
            "digest_change": self.digest_change,
        }

    def line(self, now: float) -> str:
        age = _duration(now - self.session.created_at)
        state = "alive" if self.alive else "GONE (`stackprobe down --force` forgets it)"
        if self.digest_change is None:
            digest = "digest unknown"
        else:
            digest = "digest matches" if not self.digest_change else f"changed: {self.digest_change}"
        session = self.session
        return f"{session.spec.name}  {session.endpoint}  up {age}  {state}  {digest}  {session.spec.tf_dir}"


def session_status(session: LiveSession, settings: RunSettings) -> SessionStatus:
    from stackprobe.backends.moto import instance_facts

    facts = instance_facts(session.endpoint, timeout=2.0)
    alive = facts is not None and facts.get("token") == session.emulator.token
    change: str | None
    try:
        with tempfile.TemporaryDirectory(prefix="stackprobe-digest-") as scratch:
            _, digest = _fresh_copy(session.spec, settings, session.endpoint, Path(scratch))
        change = digest.difference(session.digest)
    except (StackprobeError, OSError):
        change = None
    idle = float(facts["idle_seconds"]) if alive and facts is not None else None
    return SessionStatus(session, alive, idle, change)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


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
        reads=[moved(path) for path in fresh.reads],
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
