"""Host mode: LocalStack's open-source runtime in a venv of its own, run as a subprocess on loopback.

Why a separate venv: `localstack-core` 2026.3.0 only runs on CPython 3.13 and pins dependencies that
clash with the harness's own (moto, boto3), so it cannot live in the test environment. The venv is
created on first use under the stackprobe cache dir, guarded by a file lock so that concurrent
pytest-xdist workers install it once, and reused afterwards. It is built with uv where uv is found, else
with pip (stackprobe.backends.tool_venv); the installer's output goes to a log file that every installation
error names.

Why the environment below: out of the box the runtime's gateway listens on every interface even when
GATEWAY_LISTEN says 127.0.0.1 (its default twisted server drops the host), its DNS server binds
0.0.0.0:53 and, in a container, rewrites /etc/resolv.conf; it also fetches a TLS certificate and sends
usage events. None of that belongs in a test run, so each is switched off, and
`non_loopback_listeners()` reads /proc to prove that what is left listens on loopback only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from stackprobe.backends import tool_venv
from stackprobe.child_process import OWN_PROCESS_GROUP
from stackprobe.errors import BackendError

LOG = logging.getLogger("stackprobe.localstack")

LOCALSTACK_CORE_VERSION = "2026.3.0"
PYTHON_SERIES = (3, 13)
# Two install steps, in this order: the runtime, then pins. Left alone, the runtime extra resolves to the
# newest cbor2/cryptography/pyOpenSSL (6.3, 50, 26.4 when this was written), newer than 2026.3.0 was
# released against; the pins are the combination verified to start and serve with it.
INSTALL_STEPS: tuple[tuple[str, ...], ...] = (
    (f"localstack-core[runtime]=={LOCALSTACK_CORE_VERSION}",),
    ("cbor2<6", "pyopenssl==25.3.0", "cryptography>=45.0.7,<47", "service_identity"),
)
PYTHON_OVERRIDE_VARIABLE = "STACKPROBE_LOCALSTACK_PYTHON"
INSTALL_STEP_TIMEOUT = 900.0
# How long a second worker waits for the first one's install before giving up with a message.
INSTALL_LOCK_WAIT = 1800.0
START_TIMEOUT = 120.0
# Seconds between SIGTERM and SIGKILL. Short on purpose: the runtime's hypercorn server waits out idle
# keep-alive connections (boto3 clients keep theirs open) for about 15 s before it exits, and a kill
# loses nothing, since PERSISTENCE=0 and the data dir is discarded anyway.
STOP_GRACE = 5.0
READY_MARKER = "Ready."  # the line the runtime prints once it serves (localstack.constants.READY_MARKER_OUTPUT)

# The runtime's configuration for a test run. Each line is there for a reason:
RUNTIME_SETTINGS: Mapping[str, str] = {
    # Its DNS server otherwise binds 0.0.0.0:53 (always 0.0.0.0 when it thinks it runs in a container,
    # falling back to sudo when it cannot bind), and in a container it also rewrites /etc/resolv.conf
    # to point at itself (restored at a clean shutdown only). "0" is the documented off switch.
    "DNS_ADDRESS": "0",
    "SKIP_SSL_CERT_DOWNLOAD": "1",  # otherwise it fetches a certificate from the internet at start
    "DISABLE_EVENTS": "1",  # no usage analytics leave the machine
    "PERSISTENCE": "0",  # every start is an empty account
    "EAGER_SERVICE_LOADING": "0",  # services load on first request: start in seconds, not a minute
    "DEBUG": "0",
    # The default server (twisted) ignores the host of GATEWAY_LISTEN for IPv4 and binds 0.0.0.0
    # (localstack/runtime/server/twisted.py: `TCP4ServerEndpoint(reactor, port)`, no interface);
    # hypercorn binds exactly the GATEWAY_LISTEN addresses.
    "GATEWAY_SERVER": "hypercorn",
    # Queue URLs as http://<LOCALSTACK_HOST>/<account>/<name>. The default puts the region into the host
    # name (sqs.<region>.localhost.localstack.cloud), which needs DNS; "path" adds /queue/<region>, which
    # the Terraform AWS provider rejects ("SQS Queue URL ... is in the incorrect format").
    "SQS_ENDPOINT_STRATEGY": "off",
}
# Only these survive from the caller's environment: LocalStack needs no AWS identity of any kind,
# and a real one must never reach a process that could forward requests.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")

# A launcher that runs the runtime exactly as `python -m localstack.runtime.main` does, plus a
# watchdog: when the harness dies without stopping it (SIGKILL, a crashed xdist worker), the
# LocalStack process group ends itself instead of holding its port and memory forever.
_LAUNCHER = """
import os, runpy, signal, sys, threading, time
parent = int(sys.argv[1])
def watch():
    while os.getppid() == parent:
        time.sleep(1.0)
    os.killpg(0, signal.SIGTERM)
    time.sleep(10.0)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True, name="stackprobe-watchdog").start()
sys.argv = ["localstack.runtime.main"]
runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
"""


# -- the interpreter ------------------------------------------------------------------------------


def find_python313(environ: Mapping[str, str] | None = None) -> Path:
    """A CPython 3.13 interpreter: $STACKPROBE_LOCALSTACK_PYTHON, `python3.13` on PATH, then pyenv/uv.

    Each candidate is run once: a pyenv shim is on PATH even when 3.13 is not selected, and it fails
    with "command not found" rather than being absent, so existing is not enough.
    """
    env = os.environ if environ is None else environ
    candidates: list[str] = []
    override = env.get(PYTHON_OVERRIDE_VARIABLE)
    if override:
        candidates.append(override)
    on_path = shutil.which("python3.13", path=env.get("PATH"))
    if on_path:
        candidates.append(on_path)
    pyenv_root = Path(env.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += [str(p) for p in sorted(pyenv_root.glob("versions/3.13*/bin/python3.13"), reverse=True)]
    uv_root = Path(env.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python")
    candidates += [str(p) for p in sorted(uv_root.glob("cpython-3.13*/bin/python3.13"), reverse=True)]
    candidates += ["/usr/bin/python3.13", "/usr/local/bin/python3.13"]
    tried: list[str] = []
    for candidate in dict.fromkeys(candidates):
        if not Path(candidate).exists():
            continue
        resolved = _interpreter(candidate)
        if resolved is not None:
            return resolved
        tried.append(candidate)
    raise BackendError(
        "LocalStack host mode needs a CPython 3.13 interpreter, and none was found",
        "install one (`pyenv install 3.13`, `uv python install 3.13`, or the python3.13 package of your "
        f"distribution) or point ${PYTHON_OVERRIDE_VARIABLE} at it; alternatively start LocalStack yourself "
        "and pass --stackprobe-endpoint, or use --stackprobe-backend=moto.",
        detail=(
            "localstack-core "
            + LOCALSTACK_CORE_VERSION
            + " runs on 3.13 only. Looked for python3.13 on PATH, under $PYENV_ROOT (or ~/.pyenv)/versions, "
            "under uv's python dir and in /usr/bin, /usr/local/bin"
            + (f"; these exist but did not run as 3.13: {', '.join(tried)}" if tried else "")
            + "."
        ),
    )


def _interpreter(candidate: str) -> Path | None:
    probe = f"import sys; print(sys.version_info[:2] == {PYTHON_SERIES} and sys.implementation.name == 'cpython'); "
    probe += "print(sys.executable)"
    try:
        done = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2 or lines[0] != "True":
        return None
    return Path(lines[1])


# -- the venv -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostRuntime:
    """Where host mode's venv lives, and the files that go with it."""

    cache_dir: Path

    @property
    def name(self) -> str:
        return f"localstack-venv-{LOCALSTACK_CORE_VERSION}"

    @property
    def venv(self) -> Path:
        return self.cache_dir / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def install_log(self) -> Path:
        return self.cache_dir / f"{self.name}.install.log"

    @property
    def lock_file(self) -> Path:
        return self.cache_dir / f"{self.name}.lock"

    @property
    def marker(self) -> Path:
        # Written last: a venv without it was left half-built by an interrupted install.
        return self.venv / ".stackprobe-complete.json"

    def expected_marker(self) -> dict[str, object]:
        return {"localstack_core": LOCALSTACK_CORE_VERSION, "steps": [list(step) for step in INSTALL_STEPS]}

    def ready(self) -> bool:
        try:
            recorded = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return False
        return bool(recorded == self.expected_marker() and self.python.exists())


def ensure_runtime(cache_dir: Path) -> Path:
    """The venv python of host mode, installing it first when needed (once, across processes)."""
    runtime = HostRuntime(cache_dir)
    if runtime.ready():
        return runtime.python
    with _exclusive(runtime.lock_file, runtime):
        if runtime.ready():  # another worker finished while this one waited
            return runtime.python
        started = time.monotonic()
        _install(runtime)
        LOG.info(
            "installed LocalStack %s into %s in %.0f s",
            LOCALSTACK_CORE_VERSION,
            runtime.venv,
            time.monotonic() - started,
        )
    return runtime.python


@contextlib.contextmanager
def _exclusive(path: Path, runtime: HostRuntime) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + INSTALL_LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise BackendError(
                        f"Waited {INSTALL_LOCK_WAIT:.0f} s for another process to finish installing LocalStack "
                        f"into {runtime.venv}",
                        f"check whether process {holder} is still installing (its output goes to "
                        f"{runtime.install_log}); if it is gone, delete {path} and run again.",
                    ) from None
                time.sleep(1.0)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(runtime: HostRuntime) -> None:
    installer = tool_venv.find_installer()
    build = tool_venv.VenvBuild(
        venv=runtime.venv,
        interpreter=find_python313(),
        steps=INSTALL_STEPS,
        log=runtime.install_log,
        title=f"stackprobe: installing LocalStack {LOCALSTACK_CORE_VERSION} for host mode",
        check=("-c", "import localstack.runtime.main, localstack.services.s3.provider"),
        timeout=INSTALL_STEP_TIMEOUT,
    )
    try:
        build.run(installer)
    except tool_venv.BuildFailed as failed:
        raise BackendError(
            f"Installing LocalStack {LOCALSTACK_CORE_VERSION} for host mode failed at "
            f"`{' '.join(failed.command[:6])}…` ({failed.failure})",
            f"read {runtime.install_log}; check that the package index is reachable ({installer.index_settings()}), "
            "then run again: the half-built venv was removed and is rebuilt on the next run. Or start LocalStack "
            "yourself and pass --stackprobe-endpoint.",
            detail="Last lines of the log: " + " | ".join(_tail(runtime.install_log, 8)),
        ) from None
    runtime.marker.write_text(json.dumps(runtime.expected_marker()))


# -- the process ----------------------------------------------------------------------------------


class HostLocalStack:
    """One LocalStack runtime process (and its process group) on 127.0.0.1:<port>."""

    def __init__(self, python: Path, work_dir: Path, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.python = python
        self.work_dir = work_dir
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.data_dir: Path | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environ(self) -> dict[str, str]:
        assert self.data_dir is not None
        env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
        env.update(RUNTIME_SETTINGS)
        env.update(
            {
                # Both halves are needed: GATEWAY_LISTEN is where it binds, LOCALSTACK_HOST is the host
                # it writes into URLs it returns (queue URLs, presigned URLs) and must be reachable too.
                "GATEWAY_LISTEN": f"{self.host}:{self.port}",
                "LOCALSTACK_HOST": f"{self.host}:{self.port}",
                "LOCALSTACK_VOLUME_DIR": str(self.data_dir / "volume"),
                "FILESYSTEM_ROOT": str(self.data_dir / "filesystem"),
                # Where it keeps its state (e.g. CloudWatch's metrics.db): when it believes it runs in a
                # container (/.dockerenv) it uses $TMPDIR/localstack and empties that at shutdown, so two
                # runtimes sharing /tmp (xdist workers, `stackprobe parity`) would wipe each other's state.
                "TMPDIR": str(self.data_dir / "tmp"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start the runtime and wait for its health endpoint; returns the endpoint URL."""
        if not self.port:
            self.port = free_port(self.host)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(tempfile.mkdtemp(prefix="localstack-host-", dir=self.work_dir))
        for sub in ("volume", "filesystem", "tmp"):
            (self.data_dir / sub).mkdir()
        self.log_path = self.data_dir / "localstack.log"
        self._log = self.log_path.open("wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(self.python), "-c", _LAUNCHER, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.environ(),
            cwd=self.data_dir,
            process_group=OWN_PROCESS_GROUP,  # see stackprobe.child_process
        )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._start_error(f"the LocalStack process exited with status {self.process.returncode}")
            if self._ready():
                LOG.info("LocalStack host mode ready on %s in %.1f s", self.endpoint, time.monotonic() - started)
                return self.endpoint
            time.sleep(0.25)
        self.stop()
        raise self._start_error(f"/_localstack/health did not answer within {timeout:.0f} s")

    def _ready(self) -> bool:
        """Health answers *and* the runtime printed its ready marker.

        The health endpoint answers a moment before the runtime's own ready monitor has seen the port;
        a SIGTERM in that gap leaves the monitor waiting out its 15 s timeout before shutdown goes on.
        """
        if not health_answers(self.endpoint, timeout=2.0):
            return False
        return self.log_path is not None and READY_MARKER in _tail(self.log_path, 200)

    def _start_error(self, what: str) -> BackendError:
        tail = self.log_tail(15)
        return BackendError(
            f"LocalStack host mode did not start on {self.endpoint}: {what}",
            f"read the log at {self.log_path}; a busy port or a broken venv are the usual causes (delete "
            f"{self.python.parent.parent} to have it reinstalled), or use --stackprobe-backend=moto.",
            detail=("Last lines of the log: " + " | ".join(tail.splitlines())) if tail else "",
        )

    def alive(self, timeout: float = 5.0) -> bool:
        return self.process is not None and self.process.poll() is None and health_answers(self.endpoint, timeout)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """End the whole process group: SIGTERM, then SIGKILL after `grace` seconds."""
        process, self.process = self.process, None
        if process is not None:
            _end_group(process, grace)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.data_dir is not None:
            # The account's files go; the log stays next to them for a post-mortem.
            for sub in ("volume", "filesystem", "tmp"):
                shutil.rmtree(self.data_dir / sub, ignore_errors=True)

    def restart(self) -> str:
        """Start again on the same port, so terraform state and clients still point at it."""
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None:
            return ""
        return "\n".join(_tail(self.log_path, lines))

    def group_pids(self) -> list[int]:
        """Every live process in the runtime's process group (the runtime may spawn helpers)."""
        if self.process is None:
            return []
        return process_group_members(self.process.pid)

    def listeners(self) -> list[Listener]:
        return listening_sockets(self.group_pids())

    def non_loopback_listeners(self) -> list[Listener]:
        return [listener for listener in self.listeners() if not listener.loopback]


def _end_group(process: subprocess.Popen[bytes], grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        LOG.info("LocalStack (pid %s) still shutting down after %.0f s; killing its process group", process.pid, grace)
    # Helpers may outlive the leader: whatever is left in the group goes now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def health_answers(endpoint: str, timeout: float = 2.0) -> bool:
    """True when `endpoint` answers /_localstack/health with LocalStack's JSON (a services map)."""
    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}/_localstack/health", timeout=timeout) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(body, dict) and isinstance(body.get("services"), dict)


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


# -- what it listens on ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket or a bound UDP socket, as /proc/net reports it."""

    protocol: str
    address: str
    port: int

    @property
    def loopback(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1" or self.address.startswith("::ffff:127.")

    def __str__(self) -> str:
        return f"{self.protocol} {self.address}:{self.port}"


def process_group_members(pgid: int) -> list[int]:
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def listening_sockets(pids: list[int]) -> list[Listener]:
    """The sockets these processes listen on (TCP LISTEN, bound UDP), from /proc (Linux only)."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found: list[Listener] = []
    for protocol, listening_state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        with contextlib.suppress(OSError):
            for row in Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]:
                parts = row.split()
                if len(parts) > 9 and parts[3] == listening_state and parts[9] in inodes:
                    address, port = _decode_address(parts[1])
                    found.append(Listener(protocol, address, port))
    return sorted(set(found), key=str)


def _decode_address(field: str) -> tuple[str, int]:
    hex_ip, hex_port = field.split(":")
    raw = bytes.fromhex(hex_ip)
    # /proc/net prints each 32-bit word in host byte order.
    words = [raw[i : i + 4][:: -1 if sys.byteorder == "little" else 1] for i in range(0, len(raw), 4)]
    packed = b"".join(words)
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, packed), int(hex_port, 16)
