"""stackprobe's speed benchmark (issue 8): every figure from one run, each next to the same-run baseline.

Parts (run in this order; `--only` picks a subset):
  a   bare terraform on the reference stack: init, apply, plan -detailed-exitcode, destroy, against
      `stackprobe serve` (the same patched moto the harness embeds)
  a20 the same with -parallelism=20 (a lever that was tried and rejected; measured here for the record)
  g   the peer: native `terraform test` (bench/native/tests/*.tftest.hcl), same emulator, override, CLI config
  b   `pytest -m integration`, one process (cold terraform init cache: a fresh STACKPROBE_CACHE_DIR)
  f   the same session again, immediately (warm init cache, warm OS caches)
  b4  the same session with `-n 4 --dist loadgroup`
  d   `pytest -m unit` (plans of every scenario tfvars)
  e   `stackprobe mutate terraform ...` over the whole mutant catalogue
  h   the full suite as `make test` runs it, or the lead's figure from /tmp/stackprobe-full-suite-seconds
  c   is not a run of its own: terraform invocations ($STACKPROBE_COMMAND_LOG) and provider boots (distinct
      terraform-provider-aws PIDs seen by a /proc sampler) of every part, reported for (b).

Every part runs under a sampler that reads /proc every 0.25 s and sums the RSS of this process's
descendants (python + terraform + providers; the benchmark's own process excluded).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
VENV_BIN = REPO / ".venv" / "bin"
TF_DIR = REPO / "terraform"
PROD_VARS = TF_DIR / "environments" / "prod.tfvars"
TEARDOWN_VAR = "allow_destroy_for_tests=true"
NATIVE = BENCH / "native"
RESULTS_MD = BENCH / "results-latest.md"
FULL_SUITE_FILE = Path("/tmp/stackprobe-full-suite-seconds")
COMMAND_LOG_ENV = "STACKPROBE_COMMAND_LOG"
PARTS = ("a", "a20", "g", "b", "f", "b4", "d", "e", "h")
ALL_NAMES = (*PARTS, "c")
DEFAULT_TIMEOUT = 3 * 3600.0
SAMPLE_INTERVAL = 0.25
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024

# Targets (issue 8).
INTEGRATION_VS_BARE = 1.15
INTEGRATION_VS_NATIVE = 0.5
UNIT_SECONDS = 60.0
WARM_RERUN_SECONDS = 60.0
FULL_SUITE_SECONDS = 600.0
MIN_MUTANTS = 25
MUTANTS_PER_PLAN = 5

INTEGRATION_ARGS = ["-m", "integration", "-p", "no:cacheprovider", "-q"]
XDIST_ARGS = ["-n", "4", "--dist", "loadgroup"]
MUTATE_ARGS = [
    "mutate",
    "terraform",
    "--var-file",
    "terraform/environments/prod.tfvars",
    "--teardown-var",
    TEARDOWN_VAR,
]
MUTATION_LINE = re.compile(
    r"Mutation score: (\d+)/(\d+) killed \((\d+)%\) with (\d+) applies and (\d+) plans in (\d+) s"
)
PYTEST_SUMMARY = re.compile(r"\b\d+ (passed|failed|error|errors|skipped|deselected)\b.* in [\d.]+s")
TFTEST_SUMMARY = re.compile(r"(Success|Failure)! (\d+) passed, (\d+) failed(?:, (\d+) skipped)?")


# -- process-tree sampler ----------------------------------------------------------------------
@dataclass
class TreeStats:
    """What the sampler saw in one part."""

    peak_rss_bytes: int = 0
    peak_processes: int = 0
    peak_providers: int = 0
    samples: int = 0
    providers: set[tuple[int, int]] = field(default_factory=set)
    terraforms: set[tuple[int, int]] = field(default_factory=set)

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / MIB


def _read_stat(pid: str) -> tuple[int, int, int] | None:
    """(ppid, starttime, rss pages) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            data = handle.read()
    except OSError:
        return None
    # Field 2 (comm) is in parentheses and may hold spaces: split after the last ')'.
    rest = data[data.rfind(")") + 2 :].split()
    try:
        return int(rest[1]), int(rest[19]), int(rest[21])
    except (IndexError, ValueError):
        return None


def _read_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


class TreeSampler:
    """Every 0.25 s: the summed RSS of this process's descendants, and which of them are new providers.

    A process is identified by (pid, start time), so a recycled PID is not mistaken for an old one.
    A process that lives less than one interval can be missed; provider boots of the AWS provider take
    longer than that (it loads a schema of several MB before it answers).
    """

    def __init__(self, interval: float = SAMPLE_INTERVAL) -> None:
        self.interval = interval
        self.root = os.getpid()
        self.stats = TreeStats()
        self._seen: set[tuple[int, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        table: dict[int, tuple[int, int, int]] = {}
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    stat = _read_stat(entry.name)
                    if stat is not None:
                        table[int(entry.name)] = stat
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        descendants: list[int] = []
        stack = list(children.get(self.root, []))
        while stack:
            pid = stack.pop()
            descendants.append(pid)
            stack.extend(children.get(pid, []))
        rss = 0
        providers = 0
        for pid in descendants:
            _, started, pages = table[pid]
            rss += pages * PAGE_SIZE
            key = (pid, started)
            if key not in self._seen:
                self._seen.add(key)
                argv = _read_cmdline(pid)
                if any("terraform-provider-aws" in part for part in argv[:1]):
                    self.stats.providers.add(key)
                elif argv and Path(argv[0]).name in ("terraform", "tofu"):
                    self.stats.terraforms.add(key)
            if key in self.stats.providers:
                providers += 1
        self.stats.samples += 1
        self.stats.peak_rss_bytes = max(self.stats.peak_rss_bytes, rss)
        self.stats.peak_processes = max(self.stats.peak_processes, len(descendants))
        self.stats.peak_providers = max(self.stats.peak_providers, providers)


# -- running commands --------------------------------------------------------------------------
@dataclass
class Timed:
    """One timed command."""

    argv: list[str]
    seconds: float
    returncode: int
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _stop_group(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGINT the command's process group (terraform then stops cleanly), SIGKILL after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_timed(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float) -> Timed:
    """Run `argv` with output to `log`, in its own process group, and time it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as handle:
        handle.write(f"$ cd {shlex.quote(str(cwd))} && {shlex.join(argv)}\n")
        handle.flush()
        started = time.monotonic()
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process, 120)
            returncode = -1
        except KeyboardInterrupt:
            _stop_group(process, 120)
            raise
        seconds = time.monotonic() - started
    return Timed(argv, seconds, returncode, str(log))


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def last_match(path: str | Path, pattern: re.Pattern[str]) -> re.Match[str] | None:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = None
    for line in text.splitlines():
        match = pattern.search(line)
        if match:
            found = match
    return found


@dataclass
class CommandLog:
    """Terraform invocations of one part, from $STACKPROBE_COMMAND_LOG."""

    total: int = 0
    by_command: dict[str, int] = field(default_factory=dict)
    seconds_by_command: dict[str, float] = field(default_factory=dict)
    failed: int = 0
    refresh_false_applies: int = 0
    # CPU of terraform and its providers (wait4 rusage, recorded by the runner); 0 in logs from before.
    cpu_seconds: float = 0.0

    @classmethod
    def read(cls, path: Path) -> CommandLog:
        log = cls()
        if not path.exists():
            return log
        counts: Counter[str] = Counter()
        seconds: dict[str, float] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            args = [str(a) for a in entry.get("args", [])]
            command = args[0] if args else "?"
            counts[command] += 1
            seconds[command] = seconds.get(command, 0.0) + float(entry.get("seconds") or 0.0)
            log.cpu_seconds += float(entry.get("cpu_seconds") or 0.0)
            if entry.get("returncode") not in (0, 2):
                log.failed += 1
            if command == "apply" and "-refresh=false" in args:
                log.refresh_false_applies += 1
        log.total = sum(counts.values())
        log.by_command = dict(counts.most_common())
        log.seconds_by_command = {k: round(v, 1) for k, v in seconds.items()}
        return log

    def breakdown(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.by_command.items())


@dataclass
class PartResult:
    """Everything measured in one part."""

    part: str
    title: str
    seconds: float | None = None
    ok: bool = True
    status: str = ""
    steps: dict[str, float] = field(default_factory=dict)
    step_status: dict[str, int] = field(default_factory=dict)
    peak_rss_mib: float | None = None
    peak_processes: int | None = None
    provider_boots: int | None = None
    peak_providers: int | None = None
    terraform_processes: int | None = None
    invocations: int | None = None
    invocation_breakdown: dict[str, int] = field(default_factory=dict)
    invocation_seconds: dict[str, float] = field(default_factory=dict)
    failed_invocations: int | None = None
    refresh_false_applies: int | None = None
    terraform_cpu_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    note: str = ""

    def take_sample(self, stats: TreeStats) -> None:
        self.peak_rss_mib = round(stats.peak_rss_mib, 1)
        self.peak_processes = stats.peak_processes
        self.provider_boots = len(stats.providers)
        self.peak_providers = stats.peak_providers
        self.terraform_processes = len(stats.terraforms)

    def take_commands(self, log: CommandLog) -> None:
        self.invocations = log.total
        self.invocation_breakdown = log.by_command
        self.invocation_seconds = log.seconds_by_command
        self.failed_invocations = log.failed
        self.refresh_false_applies = log.refresh_false_applies
        self.terraform_cpu_seconds = round(log.cpu_seconds, 1)


# -- the bare-terraform and native-test workspaces ---------------------------------------------
def terraform_binary() -> str:
    found = shutil.which("terraform")
    if not found:
        raise SystemExit("bench: terraform is not on PATH")
    return found


def terraform_version(binary: str) -> str:
    done = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, timeout=60, check=False)
    try:
        return str(json.loads(done.stdout)["terraform_version"])
    except (ValueError, KeyError):
        return "unknown"


@contextlib.contextmanager
def emulator(log: Path, timeout: float = 180.0) -> Iterator[tuple[str, float]]:
    """`stackprobe serve` as a subprocess: yields (endpoint, seconds to start); stopped with SIGINT."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as errors:
        started = time.monotonic()
        process = subprocess.Popen(
            [str(VENV_BIN / "stackprobe"), "serve", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], timeout)
            endpoint = process.stdout.readline().strip() if ready else ""
            if not endpoint.startswith("http://127.0.0.1:"):
                raise SystemExit(f"bench: `stackprobe serve` printed no loopback endpoint ({endpoint!r}); see {log}")
            yield endpoint, time.monotonic() - started
        finally:
            _stop_group(process, 30)


def bare_environ(endpoint: str, cli_config: Path) -> dict[str, str]:
    """The environment stackprobe's own runner gives terraform: pinned to the emulator, nothing else."""
    from stackprobe.backends.guard import pinned_environ
    from stackprobe.settings import DEFAULT_REGION
    from stackprobe.terraform.runner import terraform_environ

    pinned = pinned_environ(os.environ, endpoint=endpoint, region=DEFAULT_REGION, access_key="test", secret_key="test")
    env = terraform_environ(pinned, cli_config)
    env.pop(COMMAND_LOG_ENV, None)
    return env


def write_cli_config(path: Path) -> str:
    """The CLI config stackprobe writes: providers from the filesystem mirror it resolves."""
    from stackprobe.terraform.mirror import resolve_provider_source

    source = resolve_provider_source()
    path.write_text(source.cli_config(), encoding="utf-8")
    return source.description


def copy_stack(target: Path, endpoint: str, *, native: bool) -> Path:
    """terraform/ copied to `target`, with the provider override stackprobe writes (and a local backend).

    For the native peer, also the test-only outputs of bench/native/overlay/ and the test files.
    """
    from stackprobe.terraform.workspace import HEADER, OVERRIDE_NAME, provider_override

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        TF_DIR,
        target,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.backup", "*.tfplan", "legacy"),
    )
    override = "".join(
        provider_override("aws", alias, endpoint, access_key="test", secret_key="test") for alias in (None, "us_east_1")
    )
    override += 'terraform {\n  backend "local" {}\n}\n'
    (target / OVERRIDE_NAME).write_text(HEADER + override, encoding="utf-8")
    if native:
        overlay = NATIVE / "overlay"
        for source in sorted(overlay.rglob("*.tf")):
            destination = target / source.relative_to(overlay)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        tests = target / "tests"
        tests.mkdir(exist_ok=True)
        for source in sorted((NATIVE / "tests").glob("*.tftest.hcl")):
            shutil.copy2(source, tests / source.name)
    return target


def var_arguments() -> list[str]:
    return [f"-var-file={PROD_VARS}", "-var", TEARDOWN_VAR]


# -- the benchmark ------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir or tempfile.mkdtemp(prefix="stackprobe-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.logs = self.work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.cache = self.work / "stackprobe-cache"
        self.results: dict[str, PartResult] = {}
        self.timeout = float(args.timeout)
        self.binary = terraform_binary() if not args.dry_run else (shutil.which("terraform") or "terraform")

    # -- helpers --------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        sys.stderr.write(f"[{stamp}] {message}\n")
        sys.stderr.flush()

    def prepare_cache(self) -> None:
        """A fresh STACKPROBE_CACHE_DIR without a terraform init cache (so (b) starts cold).

        Everything else in the user's cache (the LocalStack and checkov venvs, which are installs rather
        than caches of this run's work) is linked in, so no part reinstalls them.
        """
        if self.cache.exists():
            return
        self.cache.mkdir(parents=True)
        from stackprobe.settings import default_cache_dir

        user_cache = default_cache_dir()
        if user_cache.is_dir() and user_cache.resolve() != self.cache.resolve():
            for entry in user_cache.iterdir():
                if entry.name == "init" or entry.suffix == ".tfrc":
                    continue
                (self.cache / entry.name).symlink_to(entry)

    def harness_env(self, command_log: Path) -> dict[str, str]:
        env = dict(os.environ)
        env[COMMAND_LOG_ENV] = str(command_log)
        env["STACKPROBE_CACHE_DIR"] = str(self.cache)
        command_log.unlink(missing_ok=True)
        return env

    def init_cache_state(self) -> str:
        entries = list((self.cache / "init").glob("*/.terraform")) if (self.cache / "init").is_dir() else []
        return "warm" if entries else "cold"

    # -- parts ----------------------------------------------------------------------------------
    def bare_terraform(self, part: str = "a", parallelism: int | None = None) -> PartResult:
        """(a): bare terraform; (a20): the same with -parallelism=20, a lever that was tried and rejected."""
        flags = [f"-parallelism={parallelism}"] if parallelism else []
        result = PartResult(part, "bare terraform (init, apply, plan, destroy)" + (" ".join(["", *flags])))
        root = self.work / f"bare-{part}"
        cli_config = self.work / f"{part}.tfrc"
        with TreeSampler() as sampler:
            source = write_cli_config(cli_config)
            with emulator(self.logs / f"{part}.serve.log") as (endpoint, serve_seconds):
                result.extra["serve_seconds"] = round(serve_seconds, 2)
                result.extra["provider_source"] = source
                stack = copy_stack(root / "terraform", endpoint, native=False)
                env = bare_environ(endpoint, cli_config)
                steps: list[tuple[str, list[str]]] = [
                    ("init", ["init", "-input=false", "-no-color"]),
                    ("apply", ["apply", "-auto-approve", "-input=false", "-no-color", *flags, *var_arguments()]),
                    ("plan", ["plan", "-detailed-exitcode", "-input=false", "-no-color", *flags, *var_arguments()]),
                    ("destroy", ["destroy", "-auto-approve", "-input=false", "-no-color", *flags, *var_arguments()]),
                ]
                for name, arguments in steps:
                    if name in ("apply", "plan") and not result.ok:
                        continue  # after a failed init or apply, go straight to destroy
                    if name == "destroy" and "apply" not in result.steps:
                        continue
                    self.say(f"({part}) terraform {name}")
                    timed = run_timed(
                        [self.binary, *arguments],
                        cwd=stack,
                        env=env,
                        log=self.logs / f"{part}.{name}.log",
                        timeout=self.timeout,
                    )
                    result.steps[name] = round(timed.seconds, 2)
                    result.step_status[name] = timed.returncode
                    result.logs.append(timed.log)
                    # plan -detailed-exitcode: 2 means "changes present" (emulator drift), not failure.
                    if not (timed.ok or (name == "plan" and timed.returncode == 2)):
                        result.ok = False
                        result.status = f"terraform {name} exit {timed.returncode} (see {timed.log})"
                        self.say(f"({part}) terraform {name} failed:\n{log_tail(timed.log)}")
        result.take_sample(sampler.stats)
        result.seconds = round(sum(result.steps.values()), 2)
        result.invocations = len(result.steps)
        result.invocation_breakdown = {name: 1 for name in result.steps}
        plan_code = result.step_status.get("plan")
        if plan_code is not None:
            result.extra["plan_exit"] = plan_code
            result.note = "plan after apply: " + ("no changes" if plan_code == 0 else "changes (emulator drift)")
        if not self.args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return result

    def native_test(self) -> PartResult:
        result = PartResult("g", "native terraform test (bench/native)")
        root = self.work / "native"
        cli_config = self.work / "native.tfrc"
        with TreeSampler() as sampler:
            write_cli_config(cli_config)
            with emulator(self.logs / "g.serve.log") as (endpoint, serve_seconds):
                result.extra["serve_seconds"] = round(serve_seconds, 2)
                stack = copy_stack(root / "terraform", endpoint, native=True)
                env = bare_environ(endpoint, cli_config)
                for name, arguments in (
                    ("init", ["init", "-input=false", "-no-color"]),
                    ("test", ["test", "-no-color", *var_arguments()]),
                ):
                    if not result.ok:
                        break
                    self.say(f"(g) terraform {name}")
                    timed = run_timed(
                        [self.binary, *arguments],
                        cwd=stack,
                        env=env,
                        log=self.logs / f"g.{name}.log",
                        timeout=self.timeout,
                    )
                    result.steps[name] = round(timed.seconds, 2)
                    result.step_status[name] = timed.returncode
                    result.logs.append(timed.log)
                    if not timed.ok:
                        result.ok = False
                        result.status = f"terraform {name} exit {timed.returncode} (see {timed.log})"
                        self.say(f"(g) terraform {name} failed:\n{log_tail(timed.log, 40)}")
        result.take_sample(sampler.stats)
        result.seconds = round(sum(result.steps.values()), 2)
        result.invocations = len(result.steps)
        result.invocation_breakdown = {name: 1 for name in result.steps}
        runs = sorted(p.name for p in (NATIVE / "tests").glob("*.tftest.hcl"))
        run_blocks = sum(
            len(re.findall(r'^run\s+"', p.read_text(encoding="utf-8"), re.M))
            for p in (NATIVE / "tests").glob("*.tftest.hcl")
        )
        result.extra["test_files"] = runs
        result.extra["run_blocks"] = run_blocks
        summary = last_match(self.logs / "g.test.log", TFTEST_SUMMARY)
        if summary:
            result.extra["runs_passed"] = int(summary.group(2))
            result.extra["runs_failed"] = int(summary.group(3))
            result.note = summary.group(0)
        if not self.args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return result

    def pytest_session(self, part: str, title: str, extra_args: list[str]) -> PartResult:
        result = PartResult(part, title)
        self.prepare_cache()
        commands = self.logs / f"{part}.commands.jsonl"
        env = self.harness_env(commands)
        result.extra["init_cache"] = self.init_cache_state()
        argv = [str(VENV_BIN / "pytest"), *INTEGRATION_ARGS, *extra_args]
        self.say(f"({part}) {shlex.join(argv[1:])} (terraform init cache {result.extra['init_cache']})")
        with TreeSampler() as sampler:
            timed = run_timed(argv, cwd=REPO, env=env, log=self.logs / f"{part}.log", timeout=self.timeout)
        self.finish(result, timed, sampler.stats, commands)
        summary = last_match(timed.log, PYTEST_SUMMARY)
        result.note = summary.group(0).strip("= ") if summary else ""
        return result

    def unit_suite(self) -> PartResult:
        result = PartResult("d", "pytest -m unit (every scenario tfvars)")
        self.prepare_cache()
        commands = self.logs / "d.commands.jsonl"
        env = self.harness_env(commands)
        result.extra["init_cache"] = self.init_cache_state()
        argv = [str(VENV_BIN / "pytest"), "-m", "unit", "-p", "no:cacheprovider", "-q"]
        self.say(f"(d) {shlex.join(argv[1:])}")
        with TreeSampler() as sampler:
            timed = run_timed(argv, cwd=REPO, env=env, log=self.logs / "d.log", timeout=self.timeout)
        self.finish(result, timed, sampler.stats, commands)
        summary = last_match(timed.log, PYTEST_SUMMARY)
        result.note = summary.group(0).strip("= ") if summary else ""
        return result

    def mutants(self) -> PartResult:
        result = PartResult("e", "stackprobe mutate (whole catalogue)")
        self.prepare_cache()
        commands = self.logs / "e.commands.jsonl"
        env = self.harness_env(commands)
        argv = [str(VENV_BIN / "stackprobe"), *MUTATE_ARGS]
        self.say(f"(e) stackprobe {shlex.join(MUTATE_ARGS)}")
        with TreeSampler() as sampler:
            timed = run_timed(argv, cwd=REPO, env=env, log=self.logs / "e.log", timeout=self.timeout)
        self.finish(result, timed, sampler.stats, commands)
        match = last_match(timed.log, MUTATION_LINE)
        if match:
            killed, total, _, applies, plans, seconds = (int(g) for g in match.groups())
            result.extra.update(
                {"killed": killed, "mutants": total, "applies": applies, "plans": plans, "mutation_seconds": seconds}
            )
            result.note = match.group(0)
        else:
            result.ok = False
            result.status = result.status or f"no 'Mutation score' line in {timed.log}"
        return result

    def full_suite(self) -> PartResult:
        result = PartResult("h", "full suite (make test)")
        if FULL_SUITE_FILE.exists() and not self.args.measure_full_suite:
            text = FULL_SUITE_FILE.read_text(encoding="utf-8").strip()
            try:
                result.seconds = round(float(text.split()[0]), 1)
            except (ValueError, IndexError):
                result.ok = False
                result.status = f"{FULL_SUITE_FILE} holds {text!r}, not seconds"
                return result
            result.note = f"the lead's figure, read from {FULL_SUITE_FILE} (not measured in this run)"
            result.extra["source"] = str(FULL_SUITE_FILE)
            return result
        self.prepare_cache()
        commands = self.logs / "h.commands.jsonl"
        env = self.harness_env(commands)
        # What `make test` runs once set up. Not `make test` itself: its setup step re-runs pip whenever
        # pyproject.toml is newer than the venv stamp, which is not part of the suite (nor offline-safe).
        argv = [str(VENV_BIN / "pytest"), "-n", "4", "--dist", "loadgroup", "--durations=15"]
        self.say(f"(h) {shlex.join(argv[1:])} (the command `make test` runs)")
        with TreeSampler() as sampler:
            timed = run_timed(argv, cwd=REPO, env=env, log=self.logs / "h.log", timeout=self.timeout)
        self.finish(result, timed, sampler.stats, commands)
        summary = last_match(timed.log, PYTEST_SUMMARY)
        result.note = (summary.group(0).strip("= ") + "; " if summary else "") + "measured in this run"
        return result

    def finish(self, result: PartResult, timed: Timed, stats: TreeStats, commands: Path) -> None:
        result.seconds = round(timed.seconds, 1)
        result.ok = timed.ok
        result.logs.append(timed.log)
        if not timed.ok:
            result.status = f"exit {timed.returncode} (see {timed.log})"
            self.say(f"({result.part}) exit {timed.returncode}:\n{log_tail(timed.log)}")
        result.take_sample(stats)
        result.take_commands(CommandLog.read(commands))
        self.say(
            f"({result.part}) {result.seconds:.1f} s, exit {timed.returncode}, {result.invocations} terraform "
            f"invocations, {result.provider_boots} provider boots, peak RSS {result.peak_rss_mib:.0f} MiB"
        )

    # -- driver ---------------------------------------------------------------------------------
    def plan_text(self, parts: list[str]) -> str:
        pytest = str(VENV_BIN / "pytest")
        lines = [f"work directory: {self.work}", f"terraform: {self.binary}"]
        described = {
            "a": "stackprobe serve; terraform init / apply / plan -detailed-exitcode / destroy "
            + shlex.join(var_arguments()),
            "a20": "the same as (a), with -parallelism=20 on apply, plan and destroy",
            "g": f"stackprobe serve; terraform init; terraform test -no-color {shlex.join(var_arguments())} "
            f"(tests: {', '.join(p.name for p in sorted((NATIVE / 'tests').glob('*.tftest.hcl')))})",
            "b": shlex.join([pytest, *INTEGRATION_ARGS]),
            "f": shlex.join([pytest, *INTEGRATION_ARGS]) + "   (again, warm)",
            "b4": shlex.join([pytest, *INTEGRATION_ARGS, *XDIST_ARGS]),
            "d": shlex.join([pytest, "-m", "unit", "-p", "no:cacheprovider", "-q"]),
            "e": shlex.join([str(VENV_BIN / "stackprobe"), *MUTATE_ARGS]),
            "h": (
                f"read {FULL_SUITE_FILE}"
                if FULL_SUITE_FILE.exists() and not self.args.measure_full_suite
                else shlex.join([pytest, "-n", "4", "--dist", "loadgroup", "--durations=15"])
            ),
        }
        for part in parts:
            lines.append(f"({part}) {described[part]}")
        return "\n".join(lines)

    def run(self, parts: list[str]) -> None:
        runners = {
            "a": self.bare_terraform,
            "a20": lambda: self.bare_terraform("a20", parallelism=20),
            "g": self.native_test,
            "b": lambda: self.pytest_session("b", "pytest -m integration", []),
            "f": lambda: self.pytest_session("f", "pytest -m integration, warm rerun", []),
            "b4": lambda: self.pytest_session("b4", "pytest -m integration -n 4 --dist loadgroup", XDIST_ARGS),
            "d": self.unit_suite,
            "e": self.mutants,
            "h": self.full_suite,
        }
        for part in parts:
            try:
                self.results[part] = runners[part]()
            except (Exception, SystemExit) as exc:  # one broken part must not cost the others' figures
                self.say(f"({part}) crashed: {exc!r}")
                self.results[part] = PartResult(part, part, ok=False, status=f"crashed: {exc!r}")
            self.save_progress()

    def save_progress(self) -> None:
        path = self.work / "results.partial.json"
        path.write_text(json.dumps({k: asdict(v) for k, v in self.results.items()}, indent=2), encoding="utf-8")


# -- the table ----------------------------------------------------------------------------------
@dataclass
class Row:
    part: str
    figure: str
    value: str
    ratio: str = ""
    rss: str = ""
    target: str = ""
    result: str = ""
    verdict: str | None = None  # PASS / MISS / None


def seconds_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def ratio_text(value: float | None, baseline: float | None) -> str:
    if value is None or not baseline:
        return "—"
    return f"{value / baseline:.2f}x"


def at_most(value: float | None, limit: float | None, unit: str = "s", failed: bool = False) -> tuple[str, str | None]:
    """PASS/MISS text for `value <= limit`, with the margin."""
    if value is None or limit is None:
        return "n/a", None
    share = value / limit if limit else float("inf")
    suffix = " s" if unit == "s" else ""
    caveat = " (run failed)" if failed else ""
    if value <= limit:
        return f"PASS by {limit - value:.1f}{suffix} ({share:.0%} of target){caveat}", "PASS"
    return f"MISS by {value - limit:.1f}{suffix} ({share:.0%} of target){caveat}", "MISS"


def rss_text(result: PartResult | None) -> str:
    return "—" if result is None or result.peak_rss_mib is None else f"{result.peak_rss_mib:.0f} MiB"


def breakdown(result: PartResult) -> str:
    return ", ".join(f"{name} {count}" for name, count in result.invocation_breakdown.items())


def build_rows(results: dict[str, PartResult]) -> tuple[list[Row], list[str]]:
    """The table: one row per figure, its ratio to (a), and PASS/MISS with the margin where there is a target."""
    rows: list[Row] = []
    notes: list[str] = []

    def add(part: str, figure: str, value: str, ratio: str = "", rss: str = "", target: str = "", **kw: Any) -> None:
        verdict = kw.get("verdict")
        rows.append(Row(part, figure, value, ratio, rss, target, kw.get("result", ""), verdict))

    a, g = results.get("a"), results.get("g")
    bare_total = a.seconds if a and a.ok else None
    bare_plan = a.steps.get("plan") if a and a.ok else None
    native_total = g.seconds if g and g.ok else None
    if a is not None:
        for step in ("init", "apply", "plan", "destroy"):
            if step in a.steps:
                add("a", f"terraform {step}", seconds_text(a.steps[step]), ratio_text(a.steps[step], a.seconds))
        add("a", "bare terraform, total", seconds_text(a.seconds), "1.00x" if a.ok else "—", rss_text(a), "baseline")
        add("a", "terraform invocations / provider boots", f"{a.invocations} / {a.provider_boots}")
        if a.status:
            notes.append(f"(a) FAILED: {a.status}; ratios to (a) are not computed.")
        if a.note:
            notes.append(f"(a) {a.note}.")
    a20 = results.get("a20")
    if a20 is not None:
        for step in ("apply", "plan", "destroy"):
            if step in a20.steps:
                base = a.steps.get(step) if a and a.ok else None
                add(
                    "a20",
                    f"terraform {step} -parallelism=20",
                    seconds_text(a20.steps[step]),
                    ratio_text(a20.steps[step], bare_total),
                    result=f"{ratio_text(a20.steps[step], base)} of (a)'s {step}",
                )
        add(
            "a20",
            "bare terraform -parallelism=20, total",
            seconds_text(a20.seconds),
            ratio_text(a20.seconds, bare_total),
            rss_text(a20),
        )
        if a20.status:
            notes.append(f"(a20) FAILED: {a20.status}.")
    for part in ("b", "b4"):
        r = results.get(part)
        if r is None:
            continue
        label = "pytest -m integration" + (" -n 4 --dist loadgroup" if part == "b4" else "")
        limit = bare_total * INTEGRATION_VS_BARE if bare_total else None
        text, verdict = at_most(r.seconds, limit, failed=not r.ok)
        target = f"<= {INTEGRATION_VS_BARE} x (a)" + (f" = {limit:.1f} s" if limit else "")
        add(
            part,
            f"{label}: wall",
            seconds_text(r.seconds),
            ratio_text(r.seconds, bare_total),
            rss_text(r),
            target,
            result=text,
            verdict=verdict,
        )
        limit = native_total * INTEGRATION_VS_NATIVE if native_total else None
        text, verdict = at_most(r.seconds, limit, failed=not r.ok)
        target = f"<= {INTEGRATION_VS_NATIVE} x (g)" + (f" = {limit:.1f} s" if limit else "")
        add(
            part,
            f"{label}: vs the native peer",
            seconds_text(r.seconds),
            ratio_text(r.seconds, bare_total),
            "",
            target,
            result=text,
            verdict=verdict,
        )
        tag = "c" if part == "b" else f"c ({part})"
        add(
            tag,
            f"terraform invocations in ({part})",
            str(r.invocations),
            ratio_text(r.invocations, a.invocations if a else None),
            result=breakdown(r),
        )
        add(
            tag,
            f"provider boots in ({part}) (distinct PIDs)",
            str(r.provider_boots),
            ratio_text(r.provider_boots, a.provider_boots if a else None),
            result=f"at most {r.peak_providers} at once; {r.terraform_processes} terraform processes seen",
        )
        if r.terraform_cpu_seconds:
            add(tag, f"CPU of terraform and its providers in ({part})", f"{r.terraform_cpu_seconds:.0f} s", "")
        if r.status:
            notes.append(f"({part}) {r.status}: {r.note}")
        elif r.note:
            notes.append(f"({part}) {r.note} (terraform init cache {r.extra.get('init_cache')} at the start).")
    d = results.get("d")
    if d is not None:
        text, verdict = at_most(d.seconds, UNIT_SECONDS, failed=not d.ok)
        add(
            "d",
            "pytest -m unit: wall",
            seconds_text(d.seconds),
            ratio_text(d.seconds, bare_total),
            rss_text(d),
            f"<= {UNIT_SECONDS:.0f} s",
            result=text,
            verdict=verdict,
        )
        cpu = f", {d.terraform_cpu_seconds:.0f} CPU-s of terraform and providers" if d.terraform_cpu_seconds else ""
        status = d.status or d.note or "done"
        notes.append(f"(d) {status}; {d.invocations} terraform invocations ({breakdown(d)}){cpu}.")
    e = results.get("e")
    if e is not None:
        add(
            "e",
            "stackprobe mutate: wall (deploy, mutants, destroy)",
            seconds_text(e.seconds),
            ratio_text(e.seconds, bare_total),
            rss_text(e),
        )
        if "mutants" in e.extra:
            mutants, applies, plans = e.extra["mutants"], e.extra["applies"], e.extra["plans"]
            mutation_seconds = float(e.extra["mutation_seconds"])
            budget = mutants / MUTANTS_PER_PLAN
            verdict = "PASS" if mutants >= MIN_MUTANTS else "MISS"
            add(
                "e",
                "mutants in the catalogue",
                str(mutants),
                target=f">= {MIN_MUTANTS}",
                result=f"{verdict} by {abs(mutants - MIN_MUTANTS)}",
                verdict=verdict,
            )
            text, verdict = at_most(float(applies + plans), budget, unit="count", failed=not e.ok)
            add(
                "e",
                "mutant applies + plans",
                f"{applies} + {plans} = {applies + plans}",
                "",
                "",
                f"<= mutants/{MUTANTS_PER_PLAN} = {budget:.1f}",
                result=text,
                verdict=verdict,
            )
            limit = budget * bare_plan if bare_plan else None
            text, verdict = at_most(mutation_seconds, limit, failed=not e.ok)
            target = f"<= {budget:.1f} x plan(a)" + (f" = {limit:.1f} s" if limit else "")
            add(
                "e",
                "mutation phase (after the shared deploy)",
                seconds_text(mutation_seconds),
                ratio_text(mutation_seconds, bare_total),
                "",
                target,
                result=text,
                verdict=verdict,
            )
        notes.append(f"(e) {e.status or e.note or 'done'}; {e.invocations} terraform invocations ({breakdown(e)}).")
    f = results.get("f")
    if f is not None:
        text, verdict = at_most(f.seconds, WARM_RERUN_SECONDS, failed=not f.ok)
        add(
            "f",
            "warm rerun of (b): wall",
            seconds_text(f.seconds),
            ratio_text(f.seconds, bare_total),
            rss_text(f),
            f"<= {WARM_RERUN_SECONDS:.0f} s",
            result=text,
            verdict=verdict,
        )
        add("f", "terraform invocations / provider boots", f"{f.invocations} / {f.provider_boots}")
        if verdict == "MISS":
            notes.append(
                "(f) Missed as expected: a warm rerun repeats the whole apply, because there is no apply cache. "
                "Replaying moto's request recorder gives different IDs and many replayed requests fail (400s were "
                "observed), and pickling moto's backends fails for SQS and KMS (RLock, RSA keys); both were tried "
                "and rejected. Warm caches only save the terraform init and cold page-cache reads; the apply, "
                "dominated by the AWS provider's fixed waits, is paid again."
            )
        if f.status:
            notes.append(f"(f) {f.status}: {f.note}")
        elif f.note:
            notes.append(f"(f) {f.note} (terraform init cache {f.extra.get('init_cache')} at the start).")
    if g is not None:
        for step in ("init", "test"):
            if step in g.steps:
                add("g", f"terraform {step}", seconds_text(g.steps[step]), ratio_text(g.steps[step], bare_total))
        add(
            "g",
            "native terraform test, total",
            seconds_text(g.seconds),
            ratio_text(g.seconds, bare_total),
            rss_text(g),
            result=g.note or g.status,
        )
        add(
            "g",
            "terraform invocations / provider boots",
            f"{g.invocations} / {g.provider_boots}",
            result=f"{g.extra.get('run_blocks')} run blocks, each command = apply",
        )
        if g.status:
            notes.append(f"(g) FAILED: {g.status}; targets relative to (g) are not evaluated.")
    h = results.get("h")
    if h is not None:
        text, verdict = at_most(h.seconds, FULL_SUITE_SECONDS, failed=not h.ok)
        add(
            "h",
            "full suite (make test): wall",
            seconds_text(h.seconds),
            ratio_text(h.seconds, bare_total),
            rss_text(h),
            f"<= {FULL_SUITE_SECONDS:.0f} s",
            result=text,
            verdict=verdict,
        )
        notes.append(f"(h) {h.status or h.note}.")
    return rows, notes


def lever_notes(results: dict[str, PartResult]) -> list[str]:
    """What the harness's levers are worth, in this run's own measured costs (estimates, labelled as such)."""
    a = results.get("a")
    lines: list[str] = []
    if a is None or not a.ok:
        return lines
    plan = a.steps.get("plan", 0.0)
    init = a.steps.get("init", 0.0)
    lines.append(
        f"Saved plan applied instead of re-planning: each deploy skips one refresh + plan, ≈ {plan:.1f} s "
        "(the cost of (a)'s plan)."
    )
    b = results.get("b")
    if b is not None and b.invocation_breakdown:
        inits = b.invocation_breakdown.get("init", 0)
        init_seconds = b.invocation_seconds.get("init", 0.0)
        if inits:
            lines.append(
                f"Shared init cache: (b) ran {inits} `terraform init` in {init_seconds:.1f} s "
                f"({init_seconds / inits:.1f} s each, terraform init cache {b.extra.get('init_cache')} at the start), "
                f"against {init:.1f} s for (a)'s one cold init."
            )
        if b.refresh_false_applies:
            lines.append(
                f"`-refresh=false`: (b) ran {b.refresh_false_applies} applies without refresh; each skips a refresh of "
                f"the state, at most ≈ {plan:.1f} s (a post-apply plan in (a) is mostly that refresh)."
            )
    e = results.get("e")
    if e is not None and "mutants" in e.extra:
        mutants, applies, plans = e.extra["mutants"], e.extra["applies"], e.extra["plans"]
        runs = applies + plans
        per_run = e.extra["mutation_seconds"] / runs if runs else 0.0
        lines.append(
            f"Batched mutants: {mutants} mutants in {applies} applies + {plans} plans instead of one run each; "
            f"{mutants - runs} fewer terraform runs, ≈ {(mutants - runs) * per_run:.0f} s at this run's "
            f"{per_run:.1f} s per mutant run."
        )
    b4 = results.get("b4")
    if b is not None and b4 is not None and b.seconds and b4.seconds:
        lines.append(
            f"xdist groups (one worker per stack): `-n 4 --dist loadgroup` took {b4.seconds:.1f} s against "
            f"{b.seconds:.1f} s in one process ({b4.seconds / b.seconds:.2f}x; (b4) ran after (b) and (f), warm)."
        )
    g = results.get("g")
    if g is not None and g.seconds and b is not None and b.seconds:
        lines.append(
            f"Shared apply per session: the native peer, one apply per design-card group "
            f"({g.extra.get('run_blocks')} runs), took {g.seconds:.1f} s for {g.extra.get('run_blocks')} groups of "
            f"assertions; (b) took {b.seconds:.1f} s for the whole integration session."
        )
    return lines


def render_text(rows: list[Row]) -> str:
    header = Row("part", "figure", "value", "x (a)", "peak RSS", "target", "result")
    table = [header, *rows]
    widths = [
        max(len(getattr(r, name)) for r in table) for name in ("part", "figure", "value", "ratio", "rss", "target")
    ]
    lines = []
    for index, r in enumerate(table):
        cells = [r.part, r.figure, r.value, r.ratio, r.rss, r.target]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + r.result)
        if index == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 6))
    return "\n".join(lines)


def render_markdown(rows: list[Row]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|") or " "

    lines = ["| Part | Figure | Value | x (a) | Peak RSS | Target | Result |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        result = f"**{r.result}**" if r.verdict == "MISS" else r.result
        lines.append(
            "| " + " | ".join(cell(c) for c in (r.part, r.figure, r.value, r.ratio, r.rss, r.target, result)) + " |"
        )
    return "\n".join(lines)


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def write_reports(
    bench: Bench, rows: list[Row], notes: list[str], levers: list[str], meta: dict[str, Any], json_path: Path | None
) -> None:
    text = render_text(rows)
    sys.stdout.write("\n" + text + "\n")
    for note in notes:
        sys.stdout.write(f"\n* {note}")
    sys.stdout.write("\n")
    markdown = [
        "# Benchmark: latest figures",
        "",
        "Written by `bench/run` (see bench/README.md); every number comes from the run described here.",
        "",
        f"- Command: `{meta['command']}`",
        f"- Started {meta['started']}, finished {meta['finished']} "
        f"({meta['wall_seconds']:.0f} s for the whole benchmark)",
        f"- Revision: {meta['revision']}; Terraform {meta['terraform']}; {meta['machine']['cpus']} CPUs; "
        f"load average at start {meta['machine']['load_average_at_start']}",
        f"- Parts run: {', '.join(meta['parts'])}; logs in `{meta['work_dir']}/logs`",
        "",
        render_markdown(rows),
        "",
        "Notes:",
        "",
        *[f"- {note}" for note in notes],
    ]
    if levers:
        markdown += ["", "What the levers bought in this run (estimates from this run's measured costs):", ""]
        markdown += [f"- {line}" for line in levers]
    RESULTS_MD.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    sys.stdout.write(f"\nwrote {RESULTS_MD}")
    if json_path is not None:
        payload = {
            **meta,
            "figures": [asdict(r) for r in rows],
            "notes": notes,
            "levers": levers,
            "parts_raw": {k: asdict(v) for k, v in bench.results.items()},
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        sys.stdout.write(f" and {json_path}")
    sys.stdout.write("\n")


# -- command line --------------------------------------------------------------------------------
def parse_parts(text: str | None) -> list[str]:
    if not text:
        return list(PARTS)
    wanted = {p.strip() for p in text.split(",") if p.strip()}
    unknown = wanted - set(ALL_NAMES)
    if unknown:
        raise SystemExit(f"bench: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(ALL_NAMES)}")
    if "c" in wanted:
        wanted = (wanted - {"c"}) | {"b"}  # (c) is counted during (b)
    return [p for p in PARTS if p in wanted]


def wait_for(path: Path, timeout: float, poll: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {path} did not appear within {timeout:.0f} s")
        sys.stderr.write(f"bench: waiting for {path} (polling every {poll:.0f} s)\n")
        time.sleep(poll)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", metavar="PARTS", help=f"comma-separated subset of {','.join(ALL_NAMES)} (default: all)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    parser.add_argument("--work-dir", type=Path, help="where workspaces and logs go (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the bare/native workspaces (state, .terraform)")
    parser.add_argument(
        "--measure-full-suite",
        action="store_true",
        help=f"(h): run the full suite even when {FULL_SUITE_FILE} holds the lead's figure",
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per command, seconds")
    parser.add_argument("--wait-for", type=Path, metavar="FILE", help="start only once FILE exists (polled every 60 s)")
    parser.add_argument("--wait-timeout", type=float, default=3 * 3600.0, help="give up waiting after this many s")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parts = parse_parts(args.only)
    bench = Bench(args)
    if args.dry_run:
        sys.stdout.write(bench.plan_text(parts) + "\n")
        if not args.work_dir:
            shutil.rmtree(bench.work, ignore_errors=True)
        return 0
    if args.wait_for:
        wait_for(args.wait_for, args.wait_timeout)
    started_at = datetime.datetime.now().astimezone()
    started = time.monotonic()
    meta: dict[str, Any] = {
        "command": shlex.join(["bench/run", *(sys.argv[1:] if argv is None else argv)]),
        "started": started_at.isoformat(timespec="seconds"),
        "revision": git_revision(),
        "terraform": terraform_version(bench.binary),
        "machine": machine(),
        "parts": parts,
        "work_dir": str(bench.work),
    }
    bench.say(f"benchmark parts {', '.join(parts)}; logs in {bench.logs}")
    try:
        bench.run(parts)
    except KeyboardInterrupt:
        bench.say("interrupted; reporting the parts that finished")
    meta["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    meta["wall_seconds"] = time.monotonic() - started
    rows, notes = build_rows(bench.results)
    write_reports(bench, rows, notes, lever_notes(bench.results), meta, args.json)
    return 0 if all(r.ok for r in bench.results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
