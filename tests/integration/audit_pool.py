"""Many `stackprobe` commands, each in a process of its own, forked from one process that paid their start-up once.

Not a test module: the corpus and the legacy audits run their audits through it.

    python tests/integration/audit_pool.py SPEC.json

SPEC.json maps a name to `{"argv": [...], "stdout": FILE, "stderr": FILE}`, where argv is what follows `python`
on a command line: `["-m", "stackprobe", "audit", DIR, ...]`, or a script and its arguments. The pool imports
what an audit imports and has moto decode the service models an audit reads, then forks one child per command,
all at once; each child runs its command exactly as `python ARGV...` would (`runpy`, as the interpreter does),
with its own embedded emulator, and writes to its own files. The pool prints `{name: [exit status, seconds]}`
as JSON.

Why: every `stackprobe audit` process paid about 7 CPU-s before its first terraform command (imports, moto's
service modules and their models), measured against a forked child of a warmed process (10.5 against 17.5
CPU-s of Python for the same audit); the corpus alone starts 16 of them at once on two cores. What the children
share is read-only start-up state: no emulator, thread or socket exists in the pool when it forks.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON_EXIT_ON_UNCAUGHT = 1


def warm_up() -> None:
    """Import what an audit imports, and decode once the service models its inventory and checks read: moto's
    (its request routing and its region lists) and the client side's (the loader every session shares)."""
    import moto.backends
    import moto.core.routing
    import moto.core.utils
    from moto.core.base_backend import AccountSpecificBackend

    import stackprobe.checks
    import stackprobe.cli
    import stackprobe.lifecycle.verify  # noqa: F401 - imported for its import cost, paid once
    from stackprobe.aws.inventory import COLLECTIONS
    from stackprobe.backends.base import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, boto3_session
    from stackprobe.backends.compat import apply_patches
    from stackprobe.backends.moto import MOTO_SETTINGS

    for key, value in MOTO_SETTINGS.items():
        os.environ.setdefault(key, value)
    apply_patches()
    regions = AccountSpecificBackend.get_session()
    regions.get_available_partitions()
    # Clients are only built, never called: no socket is opened, whatever the endpoint.
    session = boto3_session(DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, "us-east-1")
    for service in sorted({collection.service for collection in COLLECTIONS}):
        try:
            moto.backends.get_backend(service.replace("-", ""))  # type: ignore[call-overload]
            moto.core.utils.get_service_model(service)
            moto.core.routing.get_service_router(service)  # type: ignore[attr-defined]
            regions.get_available_regions(service)
            client = session.client(service, endpoint_url="http://127.0.0.1:9")
            client.can_paginate(next(iter(client.meta.method_to_api_mapping)))  # loads the paginators
        except Exception:
            continue  # a head start only: the child loads whatever this could not


def run_command(argv: list[str], stdout: str, stderr: str) -> int:
    """In a forked child: `python ARGV...` with its output to the two files; its exit status."""
    for fd, path in ((1, stdout), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    code = 0
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else PYTHON_EXIT_ON_UNCAUGHT)
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
    except BaseException:
        import traceback

        traceback.print_exc()
        code = PYTHON_EXIT_ON_UNCAUGHT
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def main(spec_path: str) -> int:
    spec: dict[str, dict[str, Any]] = json.loads(Path(spec_path).read_text())
    warm_up()
    # What the warm-up decoded is never freed: out of the collector's sight, so that no child traverses it
    # again (nor copies its pages by touching their headers), as the gc module's documentation advises
    # before a fork without exec.
    gc.freeze()
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    children: dict[int, str] = {}
    for name, command in spec.items():
        pid = os.fork()
        if pid == 0:  # the child never returns into the pool's loop
            os._exit(run_command(command["argv"], command["stdout"], command["stderr"]))
        children[pid] = name
    ended: dict[str, tuple[int, float]] = {}
    try:
        while children:
            pid, status = os.wait()
            ended[children.pop(pid)] = (os.waitstatus_to_exitcode(status), time.monotonic() - started)
    finally:
        for pid in children:  # interrupted: each child ends its own run on SIGTERM
            os.kill(pid, signal.SIGTERM)
        for pid in list(children):
            os.waitpid(pid, 0)
    print(json.dumps(ended))
    return 0


@dataclass
class Ended:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # from the pool's fork to this command's end


def run_pool(commands: dict[str, list[str]], out: Path, timeout: float) -> dict[str, Ended]:
    """Run `commands` (name: argv after `python`) through the pool, niced, and how each ended.

    Called from a test: the pool is a subprocess of its own, since a test process has threads and an emulator.
    On a timeout the pool's whole process group is stopped (each child ends its run on SIGTERM).
    """
    from stackprobe.child_process import OWN_PROCESS_GROUP
    from stackprobe.testing import in_background

    out.mkdir(parents=True, exist_ok=True)
    spec = {
        name: {"argv": argv, "stdout": str(out / f"{name}.out"), "stderr": str(out / f"{name}.err")}
        for name, argv in commands.items()
    }
    (out / "pool.json").write_text(json.dumps(spec, indent=1))
    pool = subprocess.Popen(
        in_background([sys.executable, __file__, str(out / "pool.json")]),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        process_group=OWN_PROCESS_GROUP,
    )
    try:
        stdout, stderr = pool.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(pool.pid, signal.SIGTERM)
        pool.communicate()
        raise
    if pool.returncode != 0:
        raise RuntimeError(f"the audit pool failed (exit {pool.returncode}):\n{stderr[-3000:]}")
    ended: dict[str, tuple[int, float]] = json.loads(stdout)
    return {
        name: Ended(
            ended[name][0], Path(command["stdout"]).read_text(), Path(command["stderr"]).read_text(), ended[name][1]
        )
        for name, command in spec.items()
    }


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
