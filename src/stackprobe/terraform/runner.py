"""Run terraform with timeouts, live output, an init that handles foreign lock files, and the guard on every call.

`tftest.TerraformTest` is used for two things, exactly: its `setup()` runs the first `terraform init`
of a configuration shape (with its input and backend arguments), and its `execute_command` is the
seam every command goes through (replaced here) and returns a `tftest.TerraformCommandOutput`. The
command lines themselves are built here, not by tftest: a saved plan file must stay the last
argument of `apply`, `-var` must come after `-var-file` so an explicit value wins, and the second
plan uses `-detailed-exitcode`; plans are parsed by `stackprobe.terraform.plan.Plan`, not by tftest's
plan model, for its unknown-value awareness. On top of that: every command has a timeout and runs in
its own process group (so Ctrl-C reaches terraform exactly once, as an interrupt it can handle
gracefully), stdout and stderr stream live to the `stackprobe.terraform` logger and are kept for the
failure report, and the guard re-checks the environment before anything that talks to AWS.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import tftest

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.guard import check_pinned
from stackprobe.child_process import OWN_PROCESS_GROUP
from stackprobe.errors import TerraformFailed, TerraformTimeout
from stackprobe.terraform import fallback, init_failure
from stackprobe.terraform.binary import TerraformBinary
from stackprobe.terraform.config import LOCAL_SOURCE_PREFIXES, configuration_files
from stackprobe.terraform.crash import crash_failure
from stackprobe.terraform.mirror import ProviderSource
from stackprobe.terraform.plan import Plan
from stackprobe.terraform.workspace import Workspace

LOG = logging.getLogger("stackprobe.terraform")
# Commands that contact the provider's API and therefore must pass the guard first.
TALKS_TO_AWS = {"plan", "apply", "destroy", "refresh", "import", "console"}
READ_THE_ERROR = "read terraform's error above; the one-line command printed with it reproduces the run."
# The provider's answer when a data source or a resource reads an object by an id the stack was given.
_NOT_FOUND = re.compile(r"Error: reading ([^\n()]+?) \(([^)\n]+)\): couldn't find resource")
DEFAULT_TIMEOUTS = {"init": 300.0, "plan": 900.0, "show": 300.0, "apply": 1800.0, "destroy": 1800.0}
# Seconds terraform gets to stop gracefully after an interrupt before it is killed.
INTERRUPT_GRACE = 90.0
# When set, one JSON line per terraform invocation is appended to this file (bench/ counts them).
COMMAND_LOG_ENV = "STACKPROBE_COMMAND_LOG"


@dataclass
class CommandRecord:
    """One terraform invocation, kept for reports and for counting provider boots in the benchmark."""

    args: list[str]
    seconds: float
    returncode: int | None
    output: str
    # CPU seconds of terraform and the provider processes it started (they are its reaped children).
    cpu_seconds: float | None = None


@dataclass
class Transcript:
    commands: list[CommandRecord] = field(default_factory=list)

    def tail(self, lines: int = 40) -> str:
        if not self.commands:
            return ""
        return "\n".join(self.commands[-1].output.splitlines()[-lines:])

    def errors(self) -> str:
        """Terraform's own `Error:` paragraphs from the last failing command."""
        for record in reversed(self.commands):
            if record.returncode not in (0, 2, None):
                return _error_paragraphs(record.output)
        return ""


def failure_remedy(detail: str, var_files: Sequence[Path]) -> str:
    """What to do about a failed command: terraform's own error, and for an object the stack reads by an id
    it was given but the emulator (which starts empty) does not hold, where that id comes from and how to
    create the object first."""
    match = _NOT_FOUND.search(detail)
    if match is None:
        return READ_THE_ERROR
    kind, identifier = match.group(1).strip(), match.group(2).strip()
    named = [
        f"{path.name}:{number}"
        for path in var_files
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if identifier in line
    ]
    where = f" ({', '.join(named)} names it)" if named else ""
    return (
        f"{kind} {identifier}{where} is not in the emulator, which starts empty: the stack expects it to exist "
        "already. Create it first: a prerequisites configuration (--prerequisites DIR / ini "
        "stackprobe_prerequisites) whose output named like the stack's variable passes the new id, or the "
        "pytest_stackprobe_prerequisites hook; then " + READ_THE_ERROR
    )


def _error_paragraphs(output: str) -> str:
    blocks: list[str] = []
    current: list[str] = []
    inside = False
    for line in output.splitlines():
        stripped = line.strip("│╷╵ ").rstrip()
        if stripped.startswith("Error:"):
            if current:
                blocks.append("\n".join(current))
            current, inside = [stripped], True
        elif inside:
            if line.startswith("╵") or (not stripped and len(current) > 6):
                blocks.append("\n".join(current))
                current, inside = [], False
            elif stripped:
                current.append(stripped)
    if current:
        blocks.append("\n".join(current))
    return "\n\n".join(blocks)


# Go's garbage collector target for terraform and the provider. At Go's default (100), a plan of the
# reference stack spends about a fifth of its CPU collecting: terraform and the AWS provider allocate
# heavily while they exchange the provider schema and plan each resource. 400 trades a few hundred MB
# of RSS per process for that CPU (measured in bench/README.md). A GOGC the user set is kept.
GO_GC_PERCENT = "400"


def terraform_environ(pinned: dict[str, str], cli_config: Path) -> dict[str, str]:
    """The environment terraform runs in: `pinned` (the emulator's) plus the CLI config and quiet flags."""
    env = dict(pinned)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    env.setdefault("GOGC", GO_GC_PERCENT)
    for name in ("TF_LOG", "TF_WORKSPACE", "TF_DATA_DIR"):
        env.pop(name, None)
    return env


class _GuardedTerraform(tftest.TerraformTest):  # type: ignore[misc]
    """tftest's runner with one method replaced: how a command is executed."""

    def __init__(self, owner: TerraformRunner, tfdir: str, binary: str, env: dict[str, str]) -> None:
        # tftest derives its method cache's directory from its caller's frame when given none, and
        # inspect.stack() resolves the source file of every frame: 1.6 s of CPU per runner. The cache itself
        # stays off (enable_cache=False): every command runs.
        super().__init__(tfdir=tfdir, binary=binary, env=env, cache_dir=Path(tfdir) / ".tftest-cache")
        # tftest merges os.environ into env; the pinned environment must be the whole environment.
        self.env = dict(env)
        self._owner = owner

    def execute_command(self, cmd: str, *cmd_args: str) -> Any:
        return self._owner._execute(cmd, list(cmd_args))


class TerraformRunner:
    """terraform for one workspace against one backend."""

    def __init__(
        self,
        workspace: Workspace,
        binary: TerraformBinary,
        backend: AwsBackend,
        provider_source: ProviderSource,
        cache_dir: Path,
        *,
        var_files: list[Path] | None = None,
        timeouts: dict[str, float] | None = None,
        parallelism: int = 10,
        on_output: Callable[[str], None] | None = None,
        niceness: int = 0,
        provider_fallback: bool = False,
    ) -> None:
        self.workspace = workspace
        self.binary = binary
        self.backend = backend
        self.provider_source = provider_source
        self.cache_dir = cache_dir
        # The var files are the configuration's; -var values are given per command (a deployment's, a
        # mutant's, the teardown's), so no command inherits another's.
        self.var_files = [p.resolve() for p in var_files or []]
        self.timeouts = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
        self.parallelism = parallelism
        self.on_output = on_output
        # Commands run at this CPU priority (through `nice`, so the providers they start inherit it):
        # planning beside a deploying stack on two cores, the plans yield to the applies.
        self.niceness = niceness
        self.transcript = Transcript()
        # What init had to work around (a lock file recorded on another platform), for the report.
        self.init_notes: list[str] = []
        # --provider-fallback: init pins the copy to mirrored versions where the configuration asks for others
        # the mirror lacks (stackprobe.terraform.fallback); `fallbacks` is what it pinned, for every report.
        self.provider_fallback = provider_fallback
        self.fallbacks: list[fallback.ProviderFallback] = []
        self.cli_config = _write_cli_config(cache_dir, provider_source.cli_config())
        self._current: subprocess.Popen[str] | None = None
        self._tf = _GuardedTerraform(self, str(workspace.module_dir), binary.path, self.environ())

    # -- environment ---------------------------------------------------------------------------
    def environ(self) -> dict[str, str]:
        return terraform_environ(self.backend.environ(os.environ), self.cli_config)

    def rebind(self, backend: AwsBackend) -> None:
        """Point at a (re)started backend; the overrides carry the endpoint, so they are rewritten."""
        from stackprobe.terraform.workspace import write_overrides

        self.backend = backend
        write_overrides(
            self.workspace, endpoint=backend.endpoint, access_key=backend.access_key, secret_key=backend.secret_key
        )
        self._tf.env = self.environ()

    # -- execution -----------------------------------------------------------------------------
    def _execute(self, cmd: str, args: list[str]) -> Any:
        env = self._tf.env
        if cmd in TALKS_TO_AWS:
            check_pinned(self.backend, env)
        # Flags go first: a saved plan file (apply PLANFILE) must stay the last, positional argument.
        if cmd in ("plan", "apply", "destroy") and not any(a.startswith("-parallelism") for a in args):
            args = [f"-parallelism={self.parallelism}", *args]
        if cmd in ("plan", "apply", "destroy", "init", "show", "output", "validate") and "-no-color" not in args:
            args = ["-no-color", *args]
        argv = [self.binary.path, cmd, *args]
        timeout = self.timeouts.get(cmd, 600.0)
        LOG.info("$ %s", shlex.join(argv[1:]))
        started = time.monotonic()
        nice = shutil.which("nice") if self.niceness else None
        process = subprocess.Popen(
            [nice, "-n", str(self.niceness), *argv] if nice else argv,
            cwd=self.workspace.module_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            process_group=OWN_PROCESS_GROUP,  # see stackprobe.child_process
        )
        self._current = process
        stdout: list[str] = []
        stderr: list[str] = []
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, stdout, self.on_output), daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, stderr, self.on_output), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            returncode, cpu_seconds = _wait_with_cpu(process, timeout)
        except subprocess.TimeoutExpired:
            self._stop(process)
            for reader in readers:
                reader.join(timeout=5)
            output = "".join(stdout) + "".join(stderr)
            _record(self.transcript, CommandRecord(argv[1:], time.monotonic() - started, None, output))
            raise TerraformTimeout(
                f"`terraform {cmd}` did not finish within {timeout:.0f} s and was stopped",
                "look at the last resources still creating in the output below: on an emulator this usually "
                "means a read-back the emulator does not implement (see docs/backends.md); raise the limit "
                "with --stackprobe-timeout if the stack is just slow.",
                output=output,
            ) from None
        except KeyboardInterrupt:
            self._stop(process)
            raise
        finally:
            self._current = None
        for reader in readers:
            reader.join(timeout=10)
        output_text = "".join(stdout)
        error_text = "".join(stderr)
        _record(
            self.transcript,
            CommandRecord(argv[1:], time.monotonic() - started, returncode, output_text + error_text, cpu_seconds),
        )
        # `plan -detailed-exitcode` uses 2 for "changes present"; everything else non-zero is failure.
        if returncode != 0 and not (returncode == 2 and "-detailed-exitcode" in args):
            detail = _error_paragraphs(output_text + error_text)[:4000]
            failed = f"`terraform {cmd}` failed (exit {returncode})"
            # A crashed provider's panic is outside terraform's Error paragraphs, and no error of the stack.
            crashed = crash_failure(failed, detail, output_text + error_text)
            if crashed is not None:
                raise crashed
            raise TerraformFailed(
                failed,
                failure_remedy(detail, self.var_files),
                detail=detail,
                output=output_text + error_text,
            )
        return tftest.TerraformCommandOutput(returncode, output_text, error_text)

    def _stop(self, process: subprocess.Popen[str]) -> None:
        """Interrupt terraform like Ctrl-C would (it then saves state), and kill it if it hangs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=INTERRUPT_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    @contextlib.contextmanager
    def yielding(self, niceness: int) -> Iterator[None]:
        """Commands started in the block run at `niceness` at least: a command beside work that measures time (the
        second plan beside verify's probes) takes the cores only when that work waits. For the one caller that runs
        this runner's commands meanwhile."""
        before = self.niceness
        self.niceness = max(before, niceness)
        try:
            yield
        finally:
            self.niceness = before

    def interrupt(self) -> None:
        """Stop the command in flight, if any (used by signal handlers)."""
        if self._current is not None:
            self._stop(self._current)

    # -- commands ------------------------------------------------------------------------------
    def _var_arguments(self, variables: Mapping[str, Any]) -> list[str]:
        """-var-file arguments first, then -var: Terraform lets the later one win, and an explicit -var
        (a mutant, a teardown switch) must override the var files. (tftest's parse_args puts -var first.)"""
        arguments = [f"-var-file={path}" for path in self.var_files]
        for name, value in variables.items():
            # Maps, lists and booleans as JSON, which Terraform parses as the matching HCL values.
            text = value if isinstance(value, str) else json.dumps(value)
            arguments.append(f"-var={name}={text}")
        return arguments

    def _downloads_modules(self) -> bool:
        """Whether init must fetch a module (a registry, git or URL source) rather than read local ones."""
        return any(
            source is not None and not source.startswith(LOCAL_SOURCE_PREFIXES)
            for module in self.workspace.modules.values()
            for source in module.module_sources.values()
        )

    def _init_key(self) -> str:
        """What `.terraform` depends on: binary, provider source, the committed lock file, and every file of the
        configuration (module calls, required_providers, a provider block's own `version`, the backend)."""
        digest = hashlib.sha256()
        digest.update(f"{self.binary.path}|{self.binary.version}|{self.provider_source.mirror}".encode())
        lock = self.workspace.module_dir / init_failure.LOCK_FILE
        if lock.exists():
            digest.update(lock.read_bytes())
        # The pins are override files, which `configuration_files` leaves out.
        for pinned in self.fallbacks:
            digest.update(pinned.describe().encode())
        for directory in sorted(self.workspace.modules):
            for path in configuration_files(directory):
                digest.update(str(path.relative_to(self.workspace.root)).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:24]

    def init(self) -> str:
        """`terraform init`, with a committed lock file from another platform retried once without its checksums.

        A configuration whose modules are all local is initialised afresh in every workspace: measured on the
        reference stack, a full init costs the same CPU as re-initialising a copied `.terraform` (about 1 s:
        terraform checks the provider against the lock either way), and half as much where there is no lock
        file, so keeping one saved nothing. A configuration that downloads modules keeps its initialised
        `.terraform` in the cache under a key of everything init reads (`_init_key`), and later workspaces copy
        it instead of downloading again; a file lock keeps two processes from initialising one key at once.

        A committed lock file whose checksums do not cover the mirror's package of the same version (it was
        recorded on another platform) gets one retry without them; `init_notes` then says so, for the report.
        Any other failure is a TerraformFailed that names the file and line terraform gave, or the provider
        versions the mirror holds (see stackprobe.terraform.init_failure) and, without `provider_fallback`, the
        option. With it, the copy is first pinned to the mirror's versions where the configuration asks for
        others the mirror lacks (`fallbacks`, and a note each: see stackprobe.terraform.fallback).
        """
        self.init_notes = []
        # Decided afresh each time: a live session's kept copy may hold the pins of a run with other settings.
        fallback.unpin(self.workspace)
        self.fallbacks = fallback.pin(self.workspace, self.provider_source) if self.provider_fallback else []
        self.init_notes += [pinned.note(self.provider_source.mirror) for pinned in self.fallbacks]
        lock = self.workspace.module_dir / init_failure.LOCK_FILE
        if not self._downloads_modules():
            return _first_init(self, lock)
        key = self._init_key()
        entry = self.cache_dir / "init" / key
        entry.parent.mkdir(parents=True, exist_ok=True)
        target = self.workspace.module_dir / ".terraform"
        with _file_lock(entry.with_suffix(".lock")):
            if (entry / ".terraform").is_dir():
                LOG.info("reusing terraform init %s (its modules were downloaded once)", key)
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(entry / ".terraform", target, symlinks=True)
                cached_lock = entry / init_failure.LOCK_FILE
                if cached_lock.exists():
                    shutil.copy2(cached_lock, lock)
                self.init_notes = _cached_notes(entry)
                # The local-backend marker holds absolute paths of the original workspace.
                (target / "terraform.tfstate").unlink(missing_ok=True)
                try:
                    self._tf.execute_command("init", "-input=false", "-backend=true", "-get=false")
                except TerraformFailed as failure:
                    raise _explained(self, failure) from failure
                return "reused"
            output = _first_init(self, lock)
            staging = entry.with_name(entry.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            shutil.copytree(target, staging / ".terraform", symlinks=True)
            if lock.exists():
                shutil.copy2(lock, staging / init_failure.LOCK_FILE)
            (staging / NOTES_FILE).write_text(json.dumps(self.init_notes), encoding="utf-8")
            staging.rename(entry)
            return output

    def plan(self, variables: Mapping[str, Any], *, destroy: bool = False, refresh: bool = True) -> Plan:
        """A saved plan, shown as JSON, wrapped in the Plan model."""
        out = self._plan_file(destroy)
        self._tf.execute_command("plan", *self._plan_arguments(out, variables, destroy=destroy, refresh=refresh))
        return self._show(out)

    def pending_changes(
        self, variables: Mapping[str, Any], *, refresh: bool = True, targets: Sequence[str] = ()
    ) -> Plan | None:
        """The plan, or None when terraform reports nothing to change (`-detailed-exitcode` 0).

        For a plan that is usually empty (the second plan after apply): an empty one is then not shown
        as JSON, which saves `show`'s provider boot and schema load (about 3 CPU-s on the reference stack).
        `targets` limits it (and its refresh) to those resources and what they depend on.
        """
        out = self._plan_file(destroy=False)
        arguments = [
            *self._plan_arguments(out, variables, refresh=refresh),
            *(f"-target={target}" for target in targets),
        ]
        result = self._tf.execute_command("plan", "-detailed-exitcode", *arguments)
        return None if result.retcode == 0 else self._show(out)

    def _plan_file(self, destroy: bool) -> Path:
        return self.workspace.module_dir / ("destroy.tfplan" if destroy else "stackprobe.tfplan")

    def _plan_arguments(
        self, out: Path, variables: Mapping[str, Any], *, destroy: bool = False, refresh: bool = True
    ) -> list[str]:
        args = ["-input=false", f"-out={out}", f"-refresh={'true' if refresh else 'false'}"]
        if destroy:
            args.append("-destroy")
        return args + self._var_arguments(variables)

    def _show(self, out: Path) -> Plan:
        shown = self._tf.execute_command("show", "-json", str(out))
        return Plan(json.loads(shown.out), path=out)

    def apply(self, variables: Mapping[str, Any], refresh: bool = True) -> str:
        args = ["-input=false", "-auto-approve", *([] if refresh else ["-refresh=false"])]
        return str(self._tf.execute_command("apply", *args, *self._var_arguments(variables)).out)

    def apply_plan(self, plan: Plan) -> str:
        """Apply a saved plan (it holds its variables): no second refresh-and-plan, which on a big stack saves
        15-20 s. A plan with no saved file is an error of the caller, never silently re-planned."""
        if plan.path is None or not plan.path.exists():
            raise ValueError("apply_plan needs a plan saved in this workspace (Plan.path)")
        return str(self._tf.execute_command("apply", "-input=false", "-auto-approve", str(plan.path)).out)

    def forget(self, addresses: list[str]) -> None:
        """`terraform state rm`: destroy will not touch these (their parent's deletion removes them)."""
        if addresses:
            self._tf.execute_command("state", "rm", *addresses)

    def destroy(self, variables: Mapping[str, Any], refresh: bool = True) -> str:
        args = ["-auto-approve", *([] if refresh else ["-refresh=false"]), *self._var_arguments(variables)]
        return str(self._tf.execute_command("destroy", *args).out)

    # -- reporting -----------------------------------------------------------------------------
    def command_line(self, cmd: str, variables: Mapping[str, Any]) -> str:
        """A one-line shell command that repeats `cmd` by hand in this workspace."""
        var_args = shlex.join(self._var_arguments(variables))
        return (
            f"cd {shlex.quote(str(self.workspace.module_dir))} && "
            f"TF_CLI_CONFIG_FILE={shlex.quote(str(self.cli_config))} AWS_ENDPOINT_URL={self.backend.endpoint} "
            f"AWS_ACCESS_KEY_ID={self.backend.access_key} AWS_SECRET_ACCESS_KEY={self.backend.secret_key} "
            f"{self.binary.flavour} {cmd} {var_args}".rstrip()
        )


def _record(transcript: Transcript, record: CommandRecord) -> None:
    """Keep `record` for the failure report, and log it for the benchmark when asked to."""
    transcript.commands.append(record)
    _log_command(record)


def _pump(stream: IO[str] | None, sink: list[str], on_output: Callable[[str], None] | None) -> None:
    """Keep every line terraform prints (for the failure report) and stream it to the log as it comes."""
    if stream is None:
        return
    for line in stream:
        sink.append(line)
        text = line.rstrip()
        if text:
            LOG.info("%s", text)
            if on_output is not None:
                on_output(text)


def _wait_with_cpu(process: subprocess.Popen[str], timeout: float) -> tuple[int, float]:
    """Wait like `Popen.wait(timeout)`, and also return the CPU seconds the command used.

    `wait4` reports the rusage of terraform together with the provider processes it reaped, which
    wall time alone cannot show on a loaded machine (the benchmark's CPU figures come from here).
    """
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        except ChildProcessError:
            # Reaped by the thread that interrupted it (`_stop` waits for it, a watch or a signal handler):
            # Popen recorded its exit code there; its CPU went with that wait and is not counted.
            return process.wait(), 0.0
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise subprocess.TimeoutExpired(process.args, timeout)
        # Popen.wait's own back-off: short at first, then at most 50 ms between polls.
        delay = min(delay * 2, remaining, 0.05)
        time.sleep(delay)


def _log_command(record: CommandRecord) -> None:
    """Append `record` to $STACKPROBE_COMMAND_LOG as one JSON line, if set.

    One `write` on an O_APPEND descriptor per line: lines from several processes (xdist workers)
    never interleave, and each line is on disk as soon as the command ends.
    """
    path = os.environ.get(COMMAND_LOG_ENV)
    if not path:
        return
    entry: dict[str, Any] = {
        "args": record.args,
        "seconds": round(record.seconds, 3),
        "returncode": record.returncode,
        "pid": os.getpid(),
    }
    if record.cpu_seconds is not None:
        entry["cpu_seconds"] = round(record.cpu_seconds, 3)
    # Which test asked for the command (pytest sets this; subprocesses such as audits inherit it).
    if test := os.environ.get("PYTEST_CURRENT_TEST"):
        entry["test"] = test
    line = json.dumps(entry)
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (line + "\n").encode("utf-8"))
        finally:
            os.close(descriptor)


def _write_cli_config(cache_dir: Path, text: str) -> Path:
    """Write `text` as a CLI config named after its content, atomically; returns its path.

    The cache directory is shared by every runner of every process (xdist workers, the legacy-audit
    subprocesses, tests that resolve another source): one fixed file name rewritten in place would let
    one runner's `terraform init` read another's config, or a half-written one.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"terraform-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}.tfrc"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        scratch = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    return path


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- init: a lock file from another platform, and failures explained (helpers of TerraformRunner.init) ------

# Beside a cached init: the notes its first run produced, so a reuse reports them too.
NOTES_FILE = "notes.json"


def _cached_notes(entry: Path) -> list[str]:
    try:
        notes = json.loads((entry / NOTES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(note) for note in notes] if isinstance(notes, list) else []


def _explained(runner: TerraformRunner, failure: TerraformFailed) -> TerraformFailed:
    return init_failure.explain(
        failure,
        runner.workspace,
        runner.provider_source,
        runner.binary.platform,
        offer_fallback=not runner.provider_fallback,
    )


def _first_init(runner: TerraformRunner, lock: Path) -> str:
    """The first `terraform init` of a configuration shape, with at most one retry (see TerraformRunner.init)."""
    try:
        return str(runner._tf.setup(cleanup_on_exit=False, input=False))
    except TerraformFailed as failure:
        lock_text = lock.read_text(encoding="utf-8") if lock.exists() else ""
        mismatches = init_failure.lock_checksum_mismatches(failure.output, lock_text, runner.provider_source)
        if not mismatches:
            raise _explained(runner, failure) from failure
        note = init_failure.checksum_note(mismatches, runner.provider_source, runner.binary.platform, runner.workspace)
        LOG.warning("%s", note)
        lock.write_text(init_failure.without_hashes(lock_text, set(mismatches)), encoding="utf-8")
        runner.init_notes.append(note)
    try:
        return str(runner._tf.execute_command("init", "-input=false").out)
    except TerraformFailed as failure:
        raise _explained(runner, failure) from failure
