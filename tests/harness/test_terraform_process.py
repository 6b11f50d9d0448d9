"""How terraform is run: its environment, and the CPU each command costs (what the benchmark counts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stackprobe.child_process import OWN_PROCESS_GROUP
from stackprobe.terraform.runner import (
    COMMAND_LOG_ENV,
    GO_GC_PERCENT,
    CommandRecord,
    _log_command,
    _wait_with_cpu,
    terraform_environ,
)
from stackprobe.testing import BACKGROUND_NICENESS, in_background

pytestmark = pytest.mark.harness

PINNED = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "TF_LOG": "trace", "TF_WORKSPACE": "other", "PATH": "/bin"}


def test_terraform_gets_the_cli_config_and_a_lazier_go_collector(tmp_path: Path) -> None:
    env = terraform_environ(PINNED, tmp_path / "cli.tfrc")

    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "cli.tfrc")
    assert env["GOGC"] == GO_GC_PERCENT
    # A user's TF_LOG or workspace must not change what the harness runs or what it parses.
    assert "TF_LOG" not in env and "TF_WORKSPACE" not in env
    assert env["AWS_ENDPOINT_URL"] == PINNED["AWS_ENDPOINT_URL"]


def test_a_gogc_the_user_chose_is_kept(tmp_path: Path) -> None:
    env = terraform_environ({**PINNED, "GOGC": "off"}, tmp_path / "cli.tfrc")
    assert env["GOGC"] == "off"


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], text=True)


def test_wait_reports_the_exit_code_and_the_cpu_the_command_used() -> None:
    returncode, busy = _wait_with_cpu(_python("import sys; sum(range(3 * 10**7)); sys.exit(3)"), timeout=60)
    _, idle = _wait_with_cpu(_python("import time; time.sleep(1)"), timeout=60)

    assert returncode == 3
    # The same interpreter start-up in both; only the busy one spends its wall time computing.
    assert busy > 3 * idle, (busy, idle)


def test_wait_times_out_like_popen() -> None:
    process = _python("import time; time.sleep(30)")
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            _wait_with_cpu(process, timeout=0.3)
    finally:
        process.kill()
        process.wait()


def test_command_log_line_carries_cpu_and_the_test_that_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "commands.jsonl"
    monkeypatch.setenv(COMMAND_LOG_ENV, str(log))

    _log_command(CommandRecord(["plan", "-no-color"], 12.5, 0, "", cpu_seconds=20.25))

    entry = json.loads(log.read_text())
    assert entry["args"] == ["plan", "-no-color"]
    assert entry["cpu_seconds"] == 20.25
    assert entry["test"].startswith("tests/harness/test_terraform_process.py::")


@pytest.mark.skipif(
    shutil.which("nice") is None, reason="no `nice` on this machine: in_background leaves commands as they are"
)
def test_background_work_runs_at_a_lower_priority_and_its_children_too() -> None:
    """The legacy audits and the parity run beside the deployed stack: their terraform must yield to its."""
    report_child = "import os, subprocess, sys; subprocess.run([sys.executable, '-c', 'import os; print(os.nice(0))'])"
    done = subprocess.run(
        in_background([sys.executable, "-c", report_child]), capture_output=True, text=True, check=True
    )

    assert int(done.stdout) == min(os.nice(0) + BACKGROUND_NICENESS, 19)


def test_supervised_children_get_a_group_of_their_own_but_stay_in_the_callers_session() -> None:
    """Own group: Ctrl-C and killpg reach only them. Same session: the caller's nice level still applies
    (a new session is a new scheduler autogroup on Linux, where it does not)."""
    show = "import os; print(os.getsid(0), os.getpgid(0), os.nice(0))"
    child = subprocess.Popen(
        in_background([sys.executable, "-c", show]),  # unchanged where there is no `nice`
        stdout=subprocess.PIPE,
        text=True,
        process_group=OWN_PROCESS_GROUP,
    )
    out, _ = child.communicate(timeout=30)
    session, group, nice = (int(word) for word in out.split())

    assert (session, group) == (os.getsid(0), child.pid)
    if shutil.which("nice"):
        assert nice == min(os.nice(0) + BACKGROUND_NICENESS, 19)


# The one child meant to outlive the run that starts it: a live session's detached emulator, which a
# terminal's Ctrl-C must not reach (see stackprobe.backends.moto.DetachedMoto).
DETACHED = {"backends/moto.py"}


def test_no_supervised_child_is_started_in_a_session_of_its_own() -> None:
    source = Path(__file__).resolve().parents[2] / "src" / "stackprobe"
    offenders = {str(p.relative_to(source)) for p in source.rglob("*.py") if "start_new_session=True" in p.read_text()}
    assert offenders == DETACHED, "use process_group=OWN_PROCESS_GROUP (stackprobe.child_process says why)"


def test_a_command_reaped_by_the_thread_that_interrupted_it_ends_with_its_exit_code() -> None:
    """The external-dependency watch stops terraform from another thread, whose `Popen.wait` reaps it: the
    thread that was waiting for the command must then read that exit code, not fail with ChildProcessError."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], text=True)
    process.kill()
    process.wait()  # what `_stop` does in the interrupting thread
    assert _wait_with_cpu(process, timeout=5) == (-9, 0.0)
