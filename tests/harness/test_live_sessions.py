"""Live sessions, as a user drives them: keep a stack, attach to it, change it, stop it.

One small stack (tests/harness/stacks/live) is kept running for the module by `stackprobe verify
--keep-stack`; the tests attach to it, change it and end it with `stackprobe down`, each step as the
CLI or the plugin would take it. Whether terraform ran is read from the command log every terraform
invocation is appended to ($STACKPROBE_COMMAND_LOG), not inferred from timing. Sessions that cannot
be used (a dead emulator, a port another process took, a second run) are refused with the remedy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stackprobe.backends.moto import DetachedFacts, EmbeddedMoto, pid_exists
from stackprobe.lifecycle.digest import StackDigest
from stackprobe.lifecycle.live import LiveSession, LiveSessionError, LiveSessions, open_live
from stackprobe.settings import Lifetime, RunSettings, StackSpec, default_cache_dir
from stackprobe.terraform.runner import COMMAND_LOG_ENV

pytestmark = [pytest.mark.harness, pytest.mark.xdist_group("live-sessions")]

LIVE_STACK = Path(__file__).parent / "stacks" / "live"
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600


def stackprobe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`stackprobe ARGS` as a user runs it (the command is printed when an assertion on it fails)."""
    return subprocess.run(
        [sys.executable, "-m", "stackprobe", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )


def commands_run(log: Path) -> list[str]:
    """The terraform subcommands the command log recorded (empty when terraform never ran)."""
    if not log.is_file():
        return []
    return [json.loads(line)["args"][0] for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSpec]:
    """A copy of the live stack, kept running by `stackprobe verify --keep-stack` for the module."""
    tf_dir = tmp_path_factory.mktemp("live") / "stack"
    shutil.copytree(LIVE_STACK, tf_dir)
    kept = stackprobe("verify", str(tf_dir), "--keep-stack", "--quiet", "--format", "json")
    report = json.loads(kept.stdout or "{}")
    assert kept.returncode in (0, 1), f"stackprobe verify {tf_dir} --keep-stack: exit {kept.returncode}\n{kept.stderr}"
    assert any("Kept running" in note for note in report.get("notes", [])), report.get("notes")
    yield StackSpec(tf_dir=tf_dir)
    stackprobe("down", str(tf_dir), "--force", "--quiet")  # whatever a failed test left


@pytest.fixture
def command_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "commands.jsonl"
    monkeypatch.setenv(COMMAND_LOG_ENV, str(log))
    return log


def _open(spec: StackSpec, tmp_path: Path, create: bool = False) -> Any:
    return open_live(spec, RunSettings(lifetime=Lifetime.REUSE), tmp_path, create=create)


def test_a_kept_stack_is_listed_alive_with_its_digest_matching(live_stack: StackSpec) -> None:
    listed = stackprobe("status", str(live_stack.tf_dir), "--json")
    [session] = json.loads(listed.stdout)
    assert session["alive"] is True and session["digest_matches"] is True, session
    assert pid_exists(int(session["emulator_pid"]))


def test_attaching_to_an_unchanged_stack_runs_no_terraform(
    live_stack: StackSpec, command_log: Path, tmp_path: Path
) -> None:
    opened = _open(live_stack, tmp_path)
    try:
        buckets = [b["Name"] for b in opened.run.backend.client("s3").list_buckets()["Buckets"]]
        assert "live-session-data" in buckets
        assert opened.how.startswith("attached")
        assert opened.drift().idempotent  # recorded when the stack was kept: still no terraform
    finally:
        opened.deployment.end()
        opened.run.close()
    assert commands_run(command_log) == []


def test_a_changed_variable_is_an_incremental_apply_of_only_what_changed(
    live_stack: StackSpec, command_log: Path, tmp_path: Path
) -> None:
    main = live_stack.tf_dir / "main.tf"
    main.write_text(main.read_text().replace('default     = "platform"', 'default     = "data-team"'))
    opened = _open(live_stack, tmp_path)
    try:
        assert opened.how.startswith("updated"), opened.how
        changed = {change.address for change in opened.deployed.plan.changes()}
        assert changed == {"aws_s3_bucket.data"}, changed
        tags = opened.run.backend.client("s3").get_bucket_tagging(Bucket="live-session-data")["TagSet"]
        assert {"Key": "Owner", "Value": "data-team"} in tags
    finally:
        opened.deployment.end()
        opened.run.close()
    assert "apply" in commands_run(command_log) and "destroy" not in commands_run(command_log)
    listed = json.loads(stackprobe("status", str(live_stack.tf_dir), "--json").stdout)
    assert listed[0]["digest_matches"] is True


def test_a_second_run_is_refused_naming_the_first(live_stack: StackSpec) -> None:
    sessions = LiveSessions(default_cache_dir())
    with (
        sessions.hold(live_stack, "pytest"),
        pytest.raises(LiveSessionError, match=rf"in use by pid {os.getpid()} \(pytest") as refused,
        sessions.hold(live_stack, "verify --reuse"),
    ):
        pass
    assert "without --stackprobe-reuse" in str(refused.value)


def test_down_destroys_proves_and_forgets(live_stack: StackSpec) -> None:
    [session] = json.loads(stackprobe("status", str(live_stack.tf_dir), "--json").stdout)
    down = stackprobe("down", str(live_stack.tf_dir), "--quiet")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "the emulator holds nothing the stack created" in down.stdout
    assert json.loads(stackprobe("status", str(live_stack.tf_dir), "--json").stdout) == []
    deadline = time.monotonic() + 15
    while pid_exists(int(session["emulator_pid"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_exists(int(session["emulator_pid"])), "the emulator still runs after down"


def _recorded(spec: StackSpec, facts: DetachedFacts) -> LiveSession:
    """A session record as `up` writes it, pointing at `facts` (no apply needed to test the refusals)."""
    sessions = LiveSessions(default_cache_dir())
    now = time.time()
    session = LiveSession(
        spec, sessions.directory(spec), "moto", "eu-west-1", facts, StackDigest("c", "t"), now, now, now, 60.0
    )
    sessions.save(session)
    return session


@pytest.fixture
def unusable_spec(tmp_path: Path) -> Iterator[StackSpec]:
    tf_dir = tmp_path / "stack"
    shutil.copytree(LIVE_STACK, tf_dir)
    spec = StackSpec(tf_dir=tf_dir)
    yield spec
    directory = LiveSessions(default_cache_dir()).directory(spec)
    shutil.rmtree(directory, ignore_errors=True)


def test_a_dead_emulator_is_refused_with_the_remedy_and_forgotten_by_down_force(
    unusable_spec: StackSpec, tmp_path: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _recorded(unusable_spec, DetachedFacts("http://127.0.0.1:9", gone.pid, "token"))

    with pytest.raises(LiveSessionError, match="has exited") as refused:
        _open(unusable_spec, tmp_path, create=True)
    assert f"stackprobe down {unusable_spec.tf_dir} --force" in str(refused.value)
    assert LiveSessions(default_cache_dir()).load(unusable_spec) is not None, "never recreated over silently"

    plain = stackprobe("down", str(unusable_spec.tf_dir), "--quiet")
    assert plain.returncode == 2 and "--force" in plain.stderr
    forced = stackprobe("down", str(unusable_spec.tf_dir), "--force", "--quiet")
    assert forced.returncode == 0 and "was gone" in forced.stdout
    assert LiveSessions(default_cache_dir()).load(unusable_spec) is None


def test_a_port_another_server_took_is_refused(unusable_spec: StackSpec, tmp_path: Path) -> None:
    other = EmbeddedMoto()
    backend = other.start()
    try:
        _recorded(unusable_spec, DetachedFacts(backend.endpoint, os.getpid(), "the-old-servers-token"))
        with pytest.raises(LiveSessionError, match="answers as something else"):
            _open(unusable_spec, tmp_path)
    finally:
        other.stop()


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_up_destroys_stops_the_emulator_and_records_nothing(tmp_path: Path) -> None:
    tf_dir = tmp_path / "stack"
    shutil.copytree(LIVE_STACK, tf_dir)
    main = tf_dir / "main.tf"
    # A queue makes the apply last long enough to interrupt (the provider waits on its attributes).
    main.write_text(main.read_text() + '\nresource "aws_sqs_queue" "slow" {\n  name = "live-session-slow"\n}\n')
    # A cache of its own: if the signal ever lands after the apply, what `up` records stays out of the user's.
    cache = tmp_path / "cache"
    environ = {**os.environ, "STACKPROBE_CACHE_DIR": str(cache)}
    up = subprocess.Popen(
        [sys.executable, "-m", "stackprobe", "up", str(tf_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
        # As a terminal's foreground process has it: a suite started in the background by a non-interactive shell
        # (`make test &`, `nohup`) passes SIGINT on ignored, and Python then installs no handler for it.
        preexec_fn=_sigint_as_in_a_terminal,
    )
    try:
        seen = []
        assert up.stdout is not None
        for line in up.stdout:
            seen.append(line)
            if "aws_sqs_queue.slow: Creating..." in line:
                up.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends to the foreground process
                break
        rest = up.communicate(timeout=TIMEOUT)[0]
        output = "".join(seen) + rest
        assert up.returncode == 130, output
        assert "interrupted; what was applied has been destroyed" in output
        directory = LiveSessions(cache).directory(StackSpec(tf_dir=tf_dir))
        assert not directory.exists(), "a half-made session was left behind"
        serving = subprocess.run(["pgrep", "-f", f"stackprobe serve .*{directory}"], capture_output=True, check=False)
        assert serving.stdout == b"", "the detached emulator still runs"
    finally:
        stackprobe("down", str(tf_dir), "--force", "--quiet", env=environ)  # whatever a failed run left


def test_live_sessions_refuse_a_backend_they_cannot_keep(tmp_path: Path) -> None:
    settings = replace(RunSettings(lifetime=Lifetime.REUSE), backend="localstack")
    with pytest.raises(LiveSessionError, match="detached moto"):
        open_live(StackSpec(tf_dir=tmp_path), settings, tmp_path, create=True)


HOST_TEST = """
import pytest

pytestmark = pytest.mark.integration


def test_the_live_bucket_is_there(deployed_stack, aws):
    assert "live-session-data" in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]
"""


def test_up_then_pytest_reuse_attach_whatever_order_and_form_the_variables_take(tmp_path: Path) -> None:
    """`stackprobe up DIR --var b=2 --var a=1`, then pytest with `stackprobe_vars = ["a=1", "b=2"]` and
    --stackprobe-reuse: one live session, attached to (no terraform ran), not a second one started."""
    tf_dir = tmp_path / "stack"
    shutil.copytree(LIVE_STACK, tf_dir)
    (tf_dir / "ab.tf").write_text('variable "a" {\n  type = string\n}\n\nvariable "b" {\n  type = string\n}\n')
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_live.py").write_text(HOST_TEST)
    (project / "pytest.ini").write_text(
        f"[pytest]\nstackprobe_tf_dir = {tf_dir}\nstackprobe_vars =\n    a=1\n    b=2\n"
    )
    log = tmp_path / "commands.jsonl"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    environ.update({"STACKPROBE_CACHE_DIR": str(tmp_path / "cache"), COMMAND_LOG_ENV: str(log)})
    up = stackprobe("up", str(tf_dir), "--var", "b=2", "--var", "a=1", "--quiet", env=environ)
    assert up.returncode == 0, f"stackprobe up {tf_dir} --var b=2 --var a=1: exit {up.returncode}\n{up.stderr}"
    log.unlink()
    try:
        attached = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--stackprobe-reuse", "-rA"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env=environ,
        )
        output = attached.stdout + attached.stderr
        assert attached.returncode == 0, output
        assert "Live session: attached: the configuration is unchanged, so no terraform ran" in output, output
        assert commands_run(log) == [], "attaching ran terraform"
        # --keep-stack with a session running attaches too (it used to fail every test), and the header says so.
        kept = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--keep-stack"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env=environ,
        )
        assert kept.returncode == 0, kept.stdout + kept.stderr
        assert "stackprobe: attaching to the live session of stack at http://127.0.0.1:" in kept.stdout, kept.stdout
        assert commands_run(log) == [], "attaching with --keep-stack ran terraform"
        listed = json.loads(stackprobe("status", "--json", env=environ).stdout)
        assert len(listed) == 1, listed
    finally:
        down = stackprobe("down", str(tf_dir), "--quiet", env=environ)
    assert down.returncode == 0, down.stdout + down.stderr


def test_a_failed_keep_stack_apply_still_writes_every_report_asked_for(tmp_path: Path) -> None:
    """`verify --keep-stack` whose apply fails: exit 2, each --output written and naming the failure, nothing
    left running (the session is not recorded, its emulator stopped)."""
    tf_dir = tmp_path / "stack"
    shutil.copytree(Path(__file__).parent / "stacks" / "fails_halfway", tf_dir)
    outputs = [tmp_path / name for name in ("report.md", "report.json", "report.xml", "report.sarif")]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    environ["STACKPROBE_CACHE_DIR"] = str(tmp_path / "cache")
    arguments = [argument for path in outputs for argument in ("--output", str(path))]
    done = stackprobe("verify", str(tf_dir), "--keep-stack", "--quiet", *arguments, env=environ)

    assert done.returncode == 2, done.stdout + done.stderr
    for path in outputs:
        assert path.is_file(), f"{path.name} was not written"
        assert "does not exist" in path.read_text() or "InvalidGroup" in path.read_text(), path.read_text()[:2000]
    assert json.loads(path.with_suffix(".json").read_text())["outcome"] == "not run"
    assert json.loads(stackprobe("status", "--json", env=environ).stdout) == []
