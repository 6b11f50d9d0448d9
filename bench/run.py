"""stackprobe's speed benchmark (issues 8 and 14): every figure from one run, each next to its same-run baseline.

Parts (run in this order; `--only` picks a subset):
  a   bare terraform on the reference stack: init, apply, plan -detailed-exitcode, destroy, against
      `stackprobe serve` (the same patched moto the harness embeds): the baseline of most ratios
  a20 the same with -parallelism=20 (a lever that was tried and rejected; measured here for the record)
  g   the peer: native `terraform test` (bench/native/tests/*.tftest.hcl), same emulator, override, CLI config
  b   `pytest -m integration` (the reference stack only), one process, cold: a fresh STACKPROBE_CACHE_DIR
  u   a cold `stackprobe up` of the reference stack (prod settings, from a copy of prod.tfvars in the work
      directory): the baseline of the live-session ratios
  f   `pytest -m integration --stackprobe-reuse` right after (u), configuration unchanged (no terraform at all)
  f2  the same after one variable is changed in that copy of prod.tfvars (an incremental apply); then
      `stackprobe down`, also after a failure, and `stackprobe status --json` must list nothing
  b4  `pytest -m integration -n 4 --dist loadgroup`, cold (a fresh STACKPROBE_CACHE_DIR of its own)
  d   `pytest -m unit` twice on one fresh STACKPROBE_CACHE_DIR: cold (empty plan store), then warm
  e   `stackprobe mutate terraform ...` over the whole mutant catalogue
  h   the full suite as `make test` runs it, or the lead's figure from /tmp/stackprobe-full-suite-seconds
  c   is not a run of its own: terraform invocations ($STACKPROBE_COMMAND_LOG) and provider boots (distinct
      terraform-provider-aws PIDs seen by a /proc sampler) of every part, reported for (b).
(f) and (f2) need (u), so asking for either runs (u) too.

Every part runs under a sampler that reads /proc every 0.25 s and sums the RSS of this process's
descendants (python + terraform + providers; the benchmark's own process excluded), plus the live
session's detached emulator in (f) and (f2).
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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
VENV_BIN = REPO / ".venv" / "bin"
TF_DIR = REPO / "terraform"
PROD_VARS = TF_DIR / "environments" / "prod.tfvars"
TEARDOWN_VAR = "allow_destroy_for_tests=true"
# prod.tfvars names a public hosted zone: the emulator gets it from this configuration, applied first.
PREREQUISITE_ARGS = ["--prerequisites", str(TF_DIR / "prerequisites" / "public-zone")]
NATIVE = BENCH / "native"
RESULTS_MD = BENCH / "results-latest.md"
FULL_SUITE_FILE = Path("/tmp/stackprobe-full-suite-seconds")
COMMAND_LOG_ENV = "STACKPROBE_COMMAND_LOG"
PARTS = ("a", "a20", "g", "b", "u", "f", "f2", "b4", "d", "e", "h")
LIVE_PARTS = ("u", "f", "f2")
ALL_NAMES = (*PARTS, "c")
DEFAULT_TIMEOUT = 3 * 3600.0
SAMPLE_INTERVAL = 0.25
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
# What the bench links into each fresh STACKPROBE_CACHE_DIR from the user's cache: installs, not caches of
# work (the init cache, the plan store and the live sessions stay out, so the user's are never touched).
LINKED_INSTALLS = ("localstack-venv-", "checkov-venv-")

# Targets: (b), (d), (f), (f2) and (h) from issue 14; (e) from issue 8.
INTEGRATION_VS_BARE = 1.3
REUSE_UNCHANGED_VS_UP = 0.2
REUSE_CHANGED_VS_UP = 0.35
UNIT_COLD_VS_BARE = 0.3
UNIT_WARM_VS_BARE = 0.1
FULL_SUITE_SECONDS = 540.0  # under 10 minutes with a minute of margin
MIN_MUTANTS = 25
MUTANTS_PER_PLAN = 5

# (f2)'s edit. The prod configuration exposes no alarm threshold as a root variable (the alarms' thresholds
# are module defaults), so the edit changes the WAF web ACL's per-IP rate limit: one attribute of one resource.
CHANGED_VARIABLE = "waf_rate_limit"
CHANGED_VARIABLE_STEP = 500
# A live session the bench forgets to end still stops itself after this long idle.
LIVE_IDLE_TTL = 3600

INTEGRATION_ARGS = ["-m", "integration", "-p", "no:cacheprovider", "-q"]
UNIT_ARGS = ["-m", "unit", "-p", "no:cacheprovider", "-q"]
XDIST_ARGS = ["-n", "4", "--dist", "loadgroup"]
FULL_SUITE_ARGS = ["-n", "4", "--dist", "loadgroup", "--durations=15"]
CONTAINER_ARGS = [
    "--app-dir",
    "app",
    "--container",
    "api=python -m modelserve.api --host 127.0.0.1",
    "--container",
    "worker=python -m modelserve.worker",
]
MUTATE_ARGS = [
    "mutate",
    "terraform",
    "--var-file",
    "terraform/environments/prod.tfvars",
    "--teardown-var",
    TEARDOWN_VAR,
    *PREREQUISITE_ARGS,
    *CONTAINER_ARGS,
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
    longer than that (it loads a schema of several MB before it answers). `also` names processes that are
    not descendants but belong to the part: a live session's emulator, which `stackprobe up` started in a
    session of its own and which outlived it.
    """

    def __init__(self, interval: float = SAMPLE_INTERVAL, also: tuple[int, ...] = ()) -> None:
        self.interval = interval
        self.root = os.getpid()
        self.also = also
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
        stack = list(children.get(self.root, [])) + [pid for pid in self.also if pid in table]
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
    # Which test file asked for each invocation (the runner records $PYTEST_CURRENT_TEST; a nested pytest
    # session that inherits the log names its own files).
    by_test_file: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> CommandLog:
        log = cls()
        if not path.exists():
            return log
        counts: Counter[str] = Counter()
        files: Counter[str] = Counter()
        seconds: dict[str, float] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            args = [str(a) for a in entry.get("args", [])]
            command = args[0] if args else "?"
            counts[command] += 1
            files[str(entry.get("test") or "outside a test").split("::")[0]] += 1
            seconds[command] = seconds.get(command, 0.0) + float(entry.get("seconds") or 0.0)
            log.cpu_seconds += float(entry.get("cpu_seconds") or 0.0)
            if entry.get("returncode") not in (0, 2):
                log.failed += 1
            if command == "apply" and "-refresh=false" in args:
                log.refresh_false_applies += 1
        log.total = sum(counts.values())
        log.by_command = dict(counts.most_common())
        log.by_test_file = dict(files.most_common())
        log.seconds_by_command = {k: round(v, 1) for k, v in seconds.items()}
        return log


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
    invocations_by_test_file: dict[str, int] = field(default_factory=dict)
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
        self.invocations_by_test_file = log.by_test_file
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

    snapshot_stack(target)
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


def snapshot_stack(target: Path) -> Path:
    """terraform/ as it is now, copied to `target` (without legacy stacks, init directories, state or plans)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        TF_DIR,
        target,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.backup", "*.tfplan", "legacy"),
    )
    return target


def var_arguments(zone_id: str = "ZONE_ID") -> list[str]:
    return [f"-var-file={PROD_VARS}", "-var", TEARDOWN_VAR, "-var", f"route53_zone_id={zone_id}"]


def create_public_zone(endpoint: str) -> str:
    """The hosted zone prod.tfvars names, created in a bare emulator as terraform/prerequisites/public-zone
    does for the harness: bare terraform has no prerequisites step, so its id is passed as a variable."""
    import boto3  # the bench's own venv has it; imported here so `--help` needs nothing but the stdlib

    route53 = boto3.client(
        "route53",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    zone = route53.create_hosted_zone(Name="example.com", CallerReference=f"bench-{time.time_ns()}")
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


# -- the benchmark ------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir or tempfile.mkdtemp(prefix="stackprobe-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.logs = self.work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.results: dict[str, PartResult] = {}
        self.timeout = float(args.timeout)
        self.binary = terraform_binary() if not args.dry_run else (shutil.which("terraform") or "terraform")

    # -- helpers --------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        sys.stderr.write(f"[{stamp}] {message}\n")
        sys.stderr.flush()

    def cache_dir(self, name: str) -> Path:
        """Where part `name`'s STACKPROBE_CACHE_DIR goes (see `fresh_cache`)."""
        return self.work / f"cache-{name}"

    def fresh_cache(self, name: str) -> Path:
        """A new, empty STACKPROBE_CACHE_DIR for one part: no init cache, no plan store, no live session.

        Each harness part starts cold and does not depend on the order of the parts. Only installs from the
        user's cache (the LocalStack and checkov venvs, not work of this run) are linked in, so no part
        reinstalls them and nothing of the user's own init cache, plan store or live sessions is seen or
        touched. A leftover live session (a bench killed before its `down`) is refused, never deleted over.
        """
        cache = self.cache_dir(name)
        live = cache / "live"
        if live.is_dir() and any(live.iterdir()):
            raise SystemExit(
                f"bench: {live} holds a live session of an earlier bench run; end it first: "
                f"STACKPROBE_CACHE_DIR={cache} {VENV_BIN / 'stackprobe'} down --force (or without --force if its "
                "emulator still runs)"
            )
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        from stackprobe.settings import default_cache_dir

        user_cache = default_cache_dir()
        if user_cache.is_dir() and user_cache.resolve() != cache.resolve():
            for entry in user_cache.iterdir():
                if entry.name.startswith(LINKED_INSTALLS):
                    (cache / entry.name).symlink_to(entry)
        return cache

    def harness_env(self, command_log: Path, cache: Path) -> dict[str, str]:
        env = dict(os.environ)
        env[COMMAND_LOG_ENV] = str(command_log)
        env["STACKPROBE_CACHE_DIR"] = str(cache)
        command_log.unlink(missing_ok=True)
        return env

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
                variables = var_arguments(create_public_zone(endpoint))
                steps: list[tuple[str, list[str]]] = [
                    ("init", ["init", "-input=false", "-no-color"]),
                    ("apply", ["apply", "-auto-approve", "-input=false", "-no-color", *flags, *variables]),
                    ("plan", ["plan", "-detailed-exitcode", "-input=false", "-no-color", *flags, *variables]),
                    ("destroy", ["destroy", "-auto-approve", "-input=false", "-no-color", *flags, *variables]),
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
                    ("test", ["test", "-no-color", *var_arguments(create_public_zone(endpoint))]),
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

    def harness_part(
        self, part: str, title: str, argv: list[str], cache: Path, also: tuple[int, ...] = ()
    ) -> PartResult:
        """One timed harness command (pytest or the stackprobe CLI) on the STACKPROBE_CACHE_DIR `cache`."""
        result = PartResult(part, title)
        commands = self.logs / f"{part}.commands.jsonl"
        env = self.harness_env(commands, cache)
        self.say(f"({part}) {shlex.join([Path(argv[0]).name, *argv[1:]])}")
        with TreeSampler(also=also) as sampler:
            timed = run_timed(argv, cwd=REPO, env=env, log=self.logs / f"{part}.log", timeout=self.timeout)
        self.finish(result, timed, sampler.stats, commands)
        summary = last_match(timed.log, PYTEST_SUMMARY)
        result.note = summary.group(0).strip("= ") if summary else ""
        return result

    def pytest_session(self, part: str, title: str, extra_args: list[str]) -> PartResult:
        """(b), (b4): `pytest -m integration` on a fresh cache (cold terraform init cache, empty plan store)."""
        argv = [str(VENV_BIN / "pytest"), *INTEGRATION_ARGS, *extra_args]
        return self.harness_part(part, title, argv, self.fresh_cache(part))

    def unit_suite(self) -> list[PartResult]:
        """(d): `pytest -m unit` cold (a fresh cache: empty plan store), then warm (the same cache again)."""
        cache = self.fresh_cache("d")
        argv = [str(VENV_BIN / "pytest"), *UNIT_ARGS]
        cold = self.harness_part("d", "pytest -m unit, cold (empty plan store)", argv, cache)
        self.record(cold)
        warm = self.harness_part("d-warm", "pytest -m unit, warm (the plan store of the cold run)", argv, cache)
        return [cold, warm]

    def mutants(self) -> PartResult:
        argv = [str(VENV_BIN / "stackprobe"), *MUTATE_ARGS]
        result = self.harness_part("e", "stackprobe mutate (whole catalogue)", argv, self.fresh_cache("e"))
        match = last_match(result.logs[-1], MUTATION_LINE)
        if match:
            killed, total, _, applies, plans, seconds = (int(g) for g in match.groups())
            result.extra.update(
                {"killed": killed, "mutants": total, "applies": applies, "plans": plans, "mutation_seconds": seconds}
            )
            result.note = match.group(0)
        else:
            result.ok = False
            result.status = result.status or f"no 'Mutation score' line in {result.logs[-1]}"
        return result

    def full_suite(self) -> PartResult:
        if FULL_SUITE_FILE.exists() and not self.args.measure_full_suite:
            result = PartResult("h", "full suite (make test)")
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
        # What `make test` runs once set up. Not `make test` itself: its setup step re-runs pip whenever
        # pyproject.toml is newer than the venv stamp, which is not part of the suite (nor offline-safe).
        argv = [str(VENV_BIN / "pytest"), *FULL_SUITE_ARGS]
        result = self.harness_part("h", "full suite (make test)", argv, self.fresh_cache("h"))
        result.note = (result.note + "; " if result.note else "") + "measured in this run"
        return result

    # -- the live session: (u), (f), (f2), then `down` -------------------------------------------
    def live_stack(self) -> Path:
        """The live parts' snapshot of terraform/: other engineers edit the shared tree, and a change between
        (u) and (f) would turn (f) into an incremental apply (or a failure) of a configuration (u) never saw."""
        return self.work / "live" / TF_DIR.name

    def live_var_file(self) -> Path:
        """The copy of prod.tfvars the live parts use: the session is keyed by its path, and (f2) edits it."""
        return self.work / "live" / PROD_VARS.name

    def live_stack_args(self) -> list[str]:
        return [str(self.live_stack()), "--var-file", str(self.live_var_file()), "--teardown-var", TEARDOWN_VAR]

    def up_argv(self) -> list[str]:
        stack = self.live_stack_args()
        return [
            str(VENV_BIN / "stackprobe"),
            "up",
            *stack,
            *PREREQUISITE_ARGS,
            *CONTAINER_ARGS,
            "--ttl",
            str(LIVE_IDLE_TTL),
        ]

    def reuse_argv(self) -> list[str]:
        reuse = [
            "--stackprobe-reuse",
            f"--stackprobe-tf-dir={self.live_stack()}",
            f"--stackprobe-var-file={self.live_var_file()}",
        ]
        return [str(VENV_BIN / "pytest"), *INTEGRATION_ARGS, *reuse]

    def down_argv(self) -> list[str]:
        return [str(VENV_BIN / "stackprobe"), "down", *self.live_stack_args()]

    def live_sessions(self, cache: Path) -> list[dict[str, Any]]:
        """`stackprobe status --json` on `cache`: the live sessions it lists."""
        env = {**os.environ, "STACKPROBE_CACHE_DIR": str(cache)}
        env.pop(COMMAND_LOG_ENV, None)
        done = subprocess.run(
            [str(VENV_BIN / "stackprobe"), "status", "--json"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        try:
            listed = json.loads(done.stdout)
        except ValueError:
            raise SystemExit(
                f"bench: `stackprobe status --json` exit {done.returncode}, no JSON: {done.stderr.strip()[-500:]}"
            ) from None
        return [dict(s) for s in listed]

    def live_session(self, parts: list[str]) -> None:
        """(u), then (f) and (f2) as asked, then `stackprobe down`, also after a failure or Ctrl-C.

        All on one fresh STACKPROBE_CACHE_DIR, on a snapshot of terraform/ taken now, with a copy of its
        prod.tfvars as the var file (the session is keyed by its path; (f2) edits the copy, never terraform/).
        """
        cache = self.fresh_cache("live")
        stack = snapshot_stack(self.live_stack())
        var_file = self.live_var_file()
        shutil.copy2(stack / PROD_VARS.relative_to(TF_DIR), var_file)
        emulators: tuple[int, ...] = ()
        try:
            up = self.harness_part("u", "stackprobe up (cold)", self.up_argv(), cache)
            self.record(up)
            sessions = self.live_sessions(cache)
            emulators = tuple(int(s["emulator_pid"]) for s in sessions)
            describe_session(up, sessions)
            self.record(up)
            for part in ("f", "f2"):
                if part not in parts:
                    continue
                if not (up.ok and sessions):
                    self.record(PartResult(part, part, ok=False, status="not run: (u) left no live session"))
                    continue
                edit = ""
                title = "pytest -m integration --stackprobe-reuse, configuration unchanged"
                try:
                    if part == "f2":
                        before, after = change_variable(var_file, CHANGED_VARIABLE, CHANGED_VARIABLE_STEP)
                        edit = f"{before} -> {after}"
                        self.say(f"(f2) {var_file}: {edit}")
                        title = f"pytest -m integration --stackprobe-reuse, after {edit}"
                    result = self.harness_part(part, title, self.reuse_argv(), cache, also=emulators)
                    result.extra["edit"] = edit
                    describe_session(result, self.live_sessions(cache))
                except (Exception, SystemExit) as exc:  # the other part and the `down` still run
                    self.say(f"({part}) crashed: {exc!r}")
                    result = PartResult(part, title, ok=False, status=f"crashed: {exc!r}")
                self.record(result)
        finally:
            try:
                down = self.live_down(cache, emulators)
            except (Exception, SystemExit) as exc:
                self.say(f"(down) crashed: {exc!r}")
                down = PartResult("down", "stackprobe down", ok=False, status=f"crashed: {exc!r}")
            self.record(down)

    def live_down(self, cache: Path, emulators: tuple[int, ...]) -> PartResult:
        """`stackprobe down` of the bench's live session, then proof that nothing of it is left running.

        When `down` leaves the session (a failed destroy keeps it, so nothing is lost), the bench stops the
        emulator it started, by its pid, and forgets the session with `down --force`.
        """
        result = PartResult("down", "stackprobe down (destroy, prove, stop the emulator)")
        try:
            sessions = self.live_sessions(cache)
        except SystemExit as exc:
            self.say(f"(down) {exc}")
            sessions = [{"emulator_pid": pid} for pid in emulators]
        emulators = tuple(sorted({*emulators, *(int(s["emulator_pid"]) for s in sessions), *emulators_under(cache)}))
        if sessions:
            result = self.harness_part("down", result.title, self.down_argv(), cache, also=emulators)
        else:
            result.note = "no live session was left to end"
        left = self.live_sessions(cache)
        if left or any(emulator_running(pid) for pid in emulators):
            self.say(f"(down) left after `stackprobe down`: {len(left)} session(s); stopping emulators {emulators}")
            result.extra["cleanup"] = "the bench stopped the emulator and ran `down --force`"
            for pid in emulators:
                stop_emulator(pid)
            if left:
                argv = [*self.down_argv(), "--force"]
                run_timed(
                    argv,
                    cwd=REPO,
                    env=self.harness_env(self.logs / "down-force.commands.jsonl", cache),
                    log=self.logs / "down-force.log",
                    timeout=600,
                )
            left = self.live_sessions(cache)
        running = [pid for pid in emulators if emulator_running(pid)]
        result.extra["sessions_left"] = len(left)
        result.extra["emulators_left"] = running
        if left or running:
            result.ok = False
            result.status = f"left running: {len(left)} live session(s), emulator pid(s) {running}"
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
        # The machine is shared: what else ran shows in the load average at the part's end (1, 5, 15 min).
        result.extra["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.say(
            f"({result.part}) {result.seconds:.1f} s, exit {timed.returncode}, {result.invocations} terraform "
            f"invocations, {result.provider_boots} provider boots, peak RSS {result.peak_rss_mib:.0f} MiB"
        )

    # -- driver ---------------------------------------------------------------------------------
    def plan_text(self, parts: list[str]) -> str:
        pytest = str(VENV_BIN / "pytest")

        def harness(name: str, argv: list[str]) -> str:
            return f"STACKPROBE_CACHE_DIR={self.cache_dir(name)} {shlex.join(argv)}"

        tests = ", ".join(p.name for p in sorted((NATIVE / "tests").glob("*.tftest.hcl")))
        full_suite = (
            f"read {FULL_SUITE_FILE}"
            if FULL_SUITE_FILE.exists() and not self.args.measure_full_suite
            else harness("h", [pytest, *FULL_SUITE_ARGS])
        )
        var_file = self.live_var_file()
        described = {
            "a": [
                "stackprobe serve; terraform init / apply / plan -detailed-exitcode / destroy "
                + shlex.join(var_arguments())
            ],
            "a20": ["the same as (a), with -parallelism=20 on apply, plan and destroy"],
            "g": [
                f"stackprobe serve; terraform init; terraform test -no-color {shlex.join(var_arguments())} "
                f"(tests: {tests})"
            ],
            "b": [harness("b", [pytest, *INTEGRATION_ARGS])],
            "u": [
                f"cp -r {TF_DIR} {self.live_stack()}   (a snapshot: the shared tree may change during the run)",
                f"cp {self.live_stack() / PROD_VARS.relative_to(TF_DIR)} {var_file}",
                harness("live", self.up_argv()),
            ],
            "f": [harness("live", self.reuse_argv()) + "   (must run no terraform: $STACKPROBE_COMMAND_LOG)"],
            "f2": [
                f"in {var_file}: {planned_change(PROD_VARS)} (one attribute of one resource)",
                harness("live", self.reuse_argv()) + "   (an incremental apply)",
            ],
            "b4": [harness("b4", [pytest, *INTEGRATION_ARGS, *XDIST_ARGS])],
            "d": [
                harness("d", [pytest, *UNIT_ARGS]) + "   (cold)",
                harness("d", [pytest, *UNIT_ARGS]) + "   (warm: the same cache again; 0 plans)",
            ],
            "e": [harness("e", [str(VENV_BIN / "stackprobe"), *MUTATE_ARGS])],
            "h": [full_suite],
        }
        last_live = max((p for p in parts if p in LIVE_PARTS), key=LIVE_PARTS.index, default=None)
        lines = [f"work directory: {self.work}", f"terraform: {self.binary}"]
        for part in parts:
            lines += [f"({part}) {text}" for text in described[part]]
            if part == last_live:
                lines.append(f"(down) also after a failure: {harness('live', self.down_argv())}")
                lines.append(
                    f"(down) then {harness('live', [str(VENV_BIN / 'stackprobe'), 'status', '--json'])}"
                    " must list nothing, and the emulator's pid must be gone"
                )
        return "\n".join(lines)

    def record(self, result: PartResult) -> None:
        self.results[result.part] = result
        self.save_progress()

    def run(self, parts: list[str]) -> None:
        runners: dict[str, Callable[[], PartResult | list[PartResult] | None]] = {
            "a": self.bare_terraform,
            "a20": lambda: self.bare_terraform("a20", parallelism=20),
            "g": self.native_test,
            "b": lambda: self.pytest_session("b", "pytest -m integration", []),
            "u": lambda: self.live_session(parts),
            "b4": lambda: self.pytest_session("b4", "pytest -m integration -n 4 --dist loadgroup", XDIST_ARGS),
            "d": self.unit_suite,
            "e": self.mutants,
            "h": self.full_suite,
        }
        for part in parts:
            if part not in runners:
                continue  # (f) and (f2) run inside (u)'s live session
            try:
                produced = runners[part]()
            except (Exception, SystemExit) as exc:  # one broken part must not cost the others' figures
                self.say(f"({part}) crashed: {exc!r}")
                produced = self.results.get(part) or PartResult(part, part)
                produced.ok = False
                produced.status = "; ".join(filter(None, [produced.status, f"crashed: {exc!r}"]))
            for result in produced if isinstance(produced, list) else [produced] if produced else []:
                self.record(result)

    def save_progress(self) -> None:
        path = self.work / "results.partial.json"
        path.write_text(json.dumps({k: asdict(v) for k, v in self.results.items()}, indent=2), encoding="utf-8")


def describe_session(result: PartResult, sessions: list[dict[str, Any]]) -> None:
    """What the live session says after a part: its last history line (started / attached / updated)."""
    if not sessions:
        result.extra["session"] = "no live session listed"
        return
    session = sessions[0]
    history = session.get("history") or [""]
    result.extra["session"] = str(history[-1])
    result.extra["emulator_pid"] = session.get("emulator_pid")
    result.extra["digest_matches"] = session.get("digest_matches")


def assignment(name: str) -> re.Pattern[str]:
    """A var file's line that sets `name` to a whole number."""
    return re.compile(rf"^(?P<lead>[ \t]*{re.escape(name)}[ \t]*=[ \t]*)(?P<value>\d+)", re.M)


def planned_change(path: Path) -> str:
    """(f2)'s edit as the dry run describes it, read from `path` (nothing is written)."""
    found = assignment(CHANGED_VARIABLE).search(path.read_text(encoding="utf-8"))
    if found is None:
        return f"{CHANGED_VARIABLE} is not set, so (f2) will stop with an error"
    old = int(found.group("value"))
    return f"{CHANGED_VARIABLE} {old} -> {old + CHANGED_VARIABLE_STEP}"


def change_variable(path: Path, name: str, step: int) -> tuple[str, str]:
    """Raise the number `name` is set to in the var file `path` by `step`; returns ("name old", "new").

    The assignment is edited in place: a second line for the same name would be a redefinition, which
    Terraform refuses.
    """
    text = path.read_text(encoding="utf-8")
    match = assignment(name).search(text)
    if match is None:
        raise SystemExit(f"bench: {path} sets no number for {name}; (f2) needs one to change (see CHANGED_VARIABLE)")
    old = int(match.group("value"))
    new = old + step
    path.write_text(text[: match.start("value")] + str(new) + text[match.end("value") :], encoding="utf-8")
    return f"{name} {old}", f"{new}"


def emulators_under(cache: Path) -> list[int]:
    """The `stackprobe serve` processes whose ready file is under `cache`: the live sessions' emulators that
    this bench's `stackprobe up` started, found even when no session record was written (an interrupted up)."""
    found = []
    prefix = str(cache).encode() + b"/"
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and emulator_running(int(entry.name)):
            with contextlib.suppress(OSError):
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
                if any(part.startswith(prefix) for part in argv):
                    found.append(int(entry.name))
    return found


def emulator_running(pid: int) -> bool:
    """Whether `pid` is still a running `stackprobe serve` (a recycled pid is not)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return False
    return b"stackprobe" in argv and b"serve" in argv and "\nState:\tZ" not in state


def stop_emulator(pid: int, grace: float = 10.0) -> None:
    """Stop the live session's emulator the bench started (its own process group), by its pid."""
    if not emulator_running(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and emulator_running(pid):
        time.sleep(0.2)
    if emulator_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


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


def ratio_text(value: float | None, baseline: float | None, label: str = "a") -> str:
    """`value` as a multiple of the baseline figure of part `label`."""
    if value is None or not baseline:
        return "—"
    return f"{value / baseline:.2f}x ({label})"


def at_most(value: float | None, limit: float | None, unit: str = "s", failed: bool = False) -> tuple[str, str | None]:
    """PASS/MISS text for `value <= limit`, with the margin."""
    if value is None:
        return "n/a", None
    if limit is None:
        return "n/a (its baseline is not in this run)", None
    share = value / limit if limit else float("inf")
    suffix = " s" if unit == "s" else ""
    caveat = " (run failed)" if failed else ""
    if value <= limit:
        return f"PASS by {limit - value:.1f}{suffix} ({share:.0%} of target){caveat}", "PASS"
    return f"MISS by {value - limit:.1f}{suffix} ({share:.0%} of target){caveat}", "MISS"


def none_expected(count: int | None, what: str) -> tuple[str, str | None]:
    """PASS/MISS text for a count that must be 0."""
    if count is None:
        return "n/a", None
    return ("PASS", "PASS") if count == 0 else (f"MISS: {count} {what}", "MISS")


def rss_text(result: PartResult | None) -> str:
    return "—" if result is None or result.peak_rss_mib is None else f"{result.peak_rss_mib:.0f} MiB"


def breakdown(result: PartResult) -> str:
    return ", ".join(f"{name} {count}" for name, count in result.invocation_breakdown.items())


def by_test_file(result: PartResult) -> str:
    """Which test files asked for the part's terraform invocations ("" when none did)."""
    files = ", ".join(f"{name} {count}" for name, count in result.invocations_by_test_file.items())
    return f"from {files}" if files else ""


def build_rows(results: dict[str, PartResult]) -> tuple[list[Row], list[str]]:
    """The table: one row per figure, its ratio to its baseline, and PASS/MISS with the margin where there is a target.

    The baselines: (a) for most figures, (u) for the live-session reruns (f) and (f2).
    """
    rows: list[Row] = []
    notes: list[str] = []

    def add(part: str, figure: str, value: str, ratio: str = "", rss: str = "", target: str = "", **kw: Any) -> None:
        verdict = kw.get("verdict")
        rows.append(Row(part, figure, value, ratio, rss, target, kw.get("result", ""), verdict))

    def wall(part: str, figure: str, r: PartResult, base: float | None, label: str, factor: float | None) -> None:
        """A wall-time row: its ratio to part `label`'s figure, and its target `factor` x that figure (if any)."""
        if factor is None:
            add(part, figure, seconds_text(r.seconds), ratio_text(r.seconds, base, label), rss_text(r))
            return
        limit = base * factor if base else None
        text, verdict = at_most(r.seconds, limit, failed=not r.ok)
        target = f"<= {factor} x ({label})" + (f" = {limit:.1f} s" if limit else "")
        add(
            part,
            figure,
            seconds_text(r.seconds),
            ratio_text(r.seconds, base, label),
            rss_text(r),
            target,
            result=text,
            verdict=verdict,
        )

    def invocations(part: str, r: PartResult, target: str = "", result: str = "", verdict: str | None = None) -> None:
        add(
            part,
            "terraform invocations / provider boots",
            f"{r.invocations} / {r.provider_boots}",
            "",
            "",
            target,
            result=result or breakdown(r),
            verdict=verdict,
        )

    def live_session_row(part: str, r: PartResult) -> None:
        """What the live session's record says the run did (started / attached / updated, and why)."""
        if r.extra.get("session"):
            add(part, "the live session's record after the run", "", result=str(r.extra["session"]))

    def outcome(r: PartResult) -> None:
        load = r.extra.get("load_average_at_end")
        at_end = f" (load average at its end: {' / '.join(str(x) for x in load)})" if load else ""
        if r.status:
            notes.append(f"({r.part}) {r.status}" + (f": {r.note}" if r.note else "") + at_end)
        elif r.note or at_end:
            notes.append(f"({r.part}) {r.note or 'done'}{at_end}.")

    a, g = results.get("a"), results.get("g")
    bare_total = a.seconds if a and a.ok else None
    bare_plan = a.steps.get("plan") if a and a.ok else None
    native_total = g.seconds if g and g.ok else None
    if a is not None:
        for step in ("init", "apply", "plan", "destroy"):
            if step in a.steps:
                add("a", f"terraform {step}", seconds_text(a.steps[step]), ratio_text(a.steps[step], a.seconds))
        add(
            "a", "bare terraform, total", seconds_text(a.seconds), "1.00x (a)" if a.ok else "—", rss_text(a), "baseline"
        )
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
                    result=f"{ratio_text(a20.steps[step], base)}'s {step}",
                )
        wall("a20", "bare terraform -parallelism=20, total", a20, bare_total, "a", None)
        if a20.status:
            notes.append(f"(a20) FAILED: {a20.status}.")
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
        invocations("g", g, result=f"{g.extra.get('run_blocks')} run blocks, each command = apply")
        if g.status:
            notes.append(f"(g) FAILED: {g.status}; ratios to (g) are not computed.")
    for part in ("b", "b4"):
        r = results.get(part)
        if r is None:
            continue
        if part == "b":
            wall("b", "pytest -m integration, one process, cold: wall", r, bare_total, "a", INTEGRATION_VS_BARE)
            add(
                "b",
                "the same, against the native peer",
                seconds_text(r.seconds),
                ratio_text(r.seconds, native_total, "g"),
            )
        else:
            b = results.get("b")
            wall("b4", "pytest -m integration -n 4 --dist loadgroup, cold: wall", r, bare_total, "a", None)
            rows[-1].result = f"{ratio_text(r.seconds, b.seconds if b else None, 'b')}: the xdist lever"
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
            add(tag, f"CPU of terraform and its providers in ({part})", f"{r.terraform_cpu_seconds:.0f} s")
        outcome(r)
    u = results.get("u")
    up_total = u.seconds if u and u.ok else None
    if u is not None:
        add(
            "u",
            "stackprobe up, cold: wall",
            seconds_text(u.seconds),
            ratio_text(u.seconds, bare_total),
            rss_text(u),
            "baseline of (f), (f2)",
            result=u.status,
        )
        invocations("u", u)
        outcome(u)
    f = results.get("f")
    if f is not None:
        wall("f", "pytest --stackprobe-reuse, unchanged: wall", f, up_total, "u", REUSE_UNCHANGED_VS_UP)
        text, verdict = none_expected(f.invocations, "terraform invocations")
        details = [text, breakdown(f), by_test_file(f), f"{f.terraform_processes} terraform processes seen"]
        invocations("f", f, "= 0 terraform invocations", "; ".join(filter(None, details)), verdict)
        live_session_row("f", f)
        outcome(f)
    f2 = results.get("f2")
    if f2 is not None:
        wall(
            "f2",
            f"pytest --stackprobe-reuse, {f2.extra.get('edit') or 'one variable changed'}: wall",
            f2,
            up_total,
            "u",
            REUSE_CHANGED_VS_UP,
        )
        applies = f2.invocation_breakdown.get("apply", 0)
        verdict = "PASS" if applies else "MISS"
        invocations(
            "f2",
            f2,
            ">= 1 apply (the edit was seen)",
            "; ".join(filter(None, [verdict, breakdown(f2), by_test_file(f2)]))
            if f2.invocations is not None
            else "n/a",
            verdict if f2.invocations is not None else None,
        )
        live_session_row("f2", f2)
        outcome(f2)
    down = results.get("down")
    if down is not None:
        add(
            "down",
            "stackprobe down: wall",
            seconds_text(down.seconds),
            ratio_text(down.seconds, up_total, "u"),
            rss_text(down),
            result=breakdown(down),
        )
        left = down.extra.get("sessions_left")
        pids = down.extra.get("emulators_left") or []
        if left is None:
            add("down", "left running after down", "unknown", target="nothing", result="n/a (see notes)")
        else:
            value = "nothing" if not (left or pids) else f"{left} live session(s), emulator pid(s) {pids}"
            verdict = "PASS" if value == "nothing" else "MISS"
            add(
                "down",
                "left running after down (status --json, emulator pid)",
                value,
                target="nothing",
                result=verdict + (f"; {down.extra['cleanup']}" if down.extra.get("cleanup") else ""),
                verdict=verdict,
            )
        outcome(down)
    d, dw = results.get("d"), results.get("d-warm")
    if d is not None:
        wall("d", "pytest -m unit, cold (empty plan store): wall", d, bare_total, "a", UNIT_COLD_VS_BARE)
        invocations("d", d)
        outcome(d)
    if dw is not None:
        wall("d", "pytest -m unit, warm (plan store hit): wall", dw, bare_total, "a", UNIT_WARM_VS_BARE)
        if d is not None and d.seconds:
            rows[-1].result += f"; {ratio_text(dw.seconds, d.seconds, 'd cold')}"
        plans = dw.invocation_breakdown.get("plan", 0) if dw.invocations is not None else None
        text, verdict = none_expected(plans, "plans")
        add(
            "d",
            "terraform plans in the warm run",
            "—" if plans is None else str(plans),
            target="= 0",
            result=text,
            verdict=verdict,
        )
        invocations("d", dw)
        outcome(dw)
    e = results.get("e")
    if e is not None:
        wall("e", "stackprobe mutate: wall (deploy, mutants, destroy)", e, bare_total, "a", None)
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
    h = results.get("h")
    if h is not None:
        text, verdict = at_most(h.seconds, FULL_SUITE_SECONDS, failed=not h.ok)
        add(
            "h",
            "full suite (make test): wall",
            seconds_text(h.seconds),
            ratio_text(h.seconds, bare_total),
            rss_text(h),
            f"<= {FULL_SUITE_SECONDS:.0f} s (10 min less a minute)",
            result=text,
            verdict=verdict,
        )
        notes.append(f"(h) {h.status or h.note}.")
    return rows, notes


def lever_notes(results: dict[str, PartResult]) -> list[str]:
    """What the harness's levers are worth, in this run's own measured costs (estimates, labelled as such)."""
    lines: list[str] = []
    a, b = results.get("a"), results.get("b")
    u, f, f2 = results.get("u"), results.get("f"), results.get("f2")
    if u is not None and u.seconds and u.ok:
        for rerun, what in ((f, "with the configuration unchanged"), (f2, "after one variable changed")):
            if rerun is not None and rerun.seconds:
                lines.append(
                    f"Live session: `pytest -m integration --stackprobe-reuse` {what} took {rerun.seconds:.1f} s "
                    f"with {rerun.invocations} terraform invocations ({breakdown(rerun) or 'none'}), against "
                    f"{u.seconds:.1f} s for the cold `stackprobe up` ({u.invocations}: {breakdown(u)})."
                )
    d, dw = results.get("d"), results.get("d-warm")
    if d is not None and dw is not None and d.seconds and dw.seconds:
        lines.append(
            f"Plan store: the warm `pytest -m unit` ran {dw.invocations} terraform invocations "
            f"({breakdown(dw) or 'none'}) in {dw.seconds:.1f} s; the cold one {d.invocations} ({breakdown(d)}) "
            f"in {d.seconds:.1f} s."
        )
    b4 = results.get("b4")
    if b is not None and b4 is not None and b.seconds and b4.seconds:
        lines.append(
            f"xdist groups (one worker per stack): `-n 4 --dist loadgroup` took {b4.seconds:.1f} s against "
            f"{b.seconds:.1f} s in one process ({b4.seconds / b.seconds:.2f}x; both cold, each on a fresh cache)."
        )
    if a is None or not a.ok:
        return lines
    plan = a.steps.get("plan", 0.0)
    init = a.steps.get("init", 0.0)
    lines.append(
        f"Saved plan applied instead of re-planning: each deploy skips one refresh + plan, ≈ {plan:.1f} s "
        "(the cost of (a)'s plan)."
    )
    if b is not None and b.invocation_breakdown:
        inits = b.invocation_breakdown.get("init", 0)
        init_seconds = b.invocation_seconds.get("init", 0.0)
        if inits:
            lines.append(
                f"Shared init cache: (b) ran {inits} `terraform init` in {init_seconds:.1f} s "
                f"({init_seconds / inits:.1f} s each, from a cold init cache), against {init:.1f} s for (a)'s "
                "one cold init."
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
    g = results.get("g")
    if g is not None and g.seconds and b is not None and b.seconds:
        lines.append(
            f"Shared apply per session: the native peer, one apply per design-card group "
            f"({g.extra.get('run_blocks')} runs), took {g.seconds:.1f} s for {g.extra.get('run_blocks')} groups of "
            f"assertions; (b) took {b.seconds:.1f} s for the reference stack's integration session."
        )
    return lines


def render_text(rows: list[Row]) -> str:
    header = Row("part", "figure", "value", "ratio (baseline)", "peak RSS", "target", "result")
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

    lines = [
        "| Part | Figure | Value | Ratio (baseline) | Peak RSS | Target | Result |",
        "|---|---|---|---|---|---|---|",
    ]
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
    results_path: Path = bench.args.results
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    sys.stdout.write(f"\nwrote {results_path}")
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
    if wanted & {"f", "f2"}:
        wanted.add("u")  # the reruns attach to (u)'s live session
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
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS_MD,
        metavar="FILE",
        help=f"where the Markdown table goes (default: {RESULTS_MD.relative_to(REPO)}; give another file for a "
        "subset run, so the record of the last full run stays)",
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
