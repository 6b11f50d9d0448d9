"""Bad input and bad luck: each ends in a clear error, a destroy, and an empty emulator.

These tests run real terraform against the embedded moto, so each costs tens of seconds; they use
small purpose-built stacks under tests/harness/stacks/.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackprobe.aws.inventory import TeardownReport
from stackprobe.errors import BackendError, TerraformFailed
from stackprobe.lifecycle.deployment import state_resources
from stackprobe.lifecycle.run import Run, sigterm_as_interrupt
from stackprobe.lifecycle.verify import verify
from stackprobe.report.model import RunOutcome
from stackprobe.settings import RunSettings, StackSpec

pytestmark = pytest.mark.harness

STACKS = Path(__file__).parent / "stacks"


@pytest.fixture
def private_run(tmp_path: Path) -> Iterator[Run]:
    """A run with its own emulator port, so a test may stop or restart it."""
    run = Run(RunSettings(), tmp_path)
    yield run
    run.close()


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a terminal.

    A job a non-interactive shell starts in the background (`make test &`, `nohup`) inherits SIGINT
    ignored, and Python then never installs its handler: a simulated Ctrl-C would do nothing and the
    test would fail for a reason that has nothing to do with the harness.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _spec(name: str) -> StackSpec:
    return StackSpec(tf_dir=(STACKS / name).resolve())


def test_invalid_hcl_reports_terraforms_parse_error(private_run: Run) -> None:
    stack = private_run.deployment(_spec("invalid_hcl"))
    with pytest.raises(TerraformFailed) as error:
        stack.prepared.runner()
    context = stack.failure_context(error.value)
    assert "Argument or block definition required" in context or "Unclosed configuration block" in context
    assert "Reproduce: stackprobe verify" in context
    ending = stack.end()
    assert isinstance(ending, TeardownReport) and ending.clean and not stack.armed


@pytest.mark.parametrize("command", ["audit", "verify"])
def test_the_reproduce_line_names_the_command_the_user_ran(tmp_path: Path, command: str) -> None:
    """`stackprobe audit DIR` that fails says `Reproduce: stackprobe audit DIR`, not verify."""
    spec = _spec("invalid_hcl")
    report = verify(spec, RunSettings(), tmp_path, title=command, checks=[])
    assert report.outcome == RunOutcome.NOT_RUN
    assert f"Reproduce: stackprobe {command} {spec.tf_dir}" in "\n".join(report.errors)


def test_apply_failing_half_way_is_destroyed(private_run: Run) -> None:
    spec = _spec("fails_halfway")
    stack = private_run.deployment(spec)
    with pytest.raises(TerraformFailed) as error:
        stack.apply()
    assert "sg-0123456789abcdef0" in error.value.output
    # Something was created before the failure: that is what makes the destroy meaningful.
    assert "aws_s3_bucket.data" in state_resources(stack.state())
    context = stack.failure_context(error.value)
    assert "Last requests served by the emulator" in context
    report = stack.end()
    assert isinstance(report, TeardownReport)
    assert report.destroyed, report.error
    assert report.leftovers == {}, report.render()


def test_emulator_dying_mid_apply_is_reported_and_cleaned(private_run: Run) -> None:
    spec = _spec("slow")
    stack = private_run.deployment(spec)
    stack.prepared.runner()
    assert private_run.emulator is not None
    emulator = private_run.emulator
    stack.prepared.runner().on_output = None  # type: ignore[union-attr]
    fired = threading.Event()

    def watch(line: str) -> None:
        if "aws_sqs_queue.slow: Creating..." in line and not fired.is_set():
            fired.set()
            threading.Thread(target=emulator.stop, daemon=True).start()

    stack.prepared.runner().on_output = watch  # type: ignore[union-attr]
    with pytest.raises(BackendError, match="stopped answering during apply"):
        stack.apply()
    report = stack.end()
    assert isinstance(report, TeardownReport)
    assert emulator.alive(), "teardown restarts the emulator to finish destroy"
    assert report.destroyed, report.error
    assert report.leftovers == {}, report.render()


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_during_apply_still_destroys(private_run: Run) -> None:
    spec = _spec("slow")
    stack = private_run.deployment(spec)
    stack.prepared.runner()
    fired = threading.Event()

    def watch(line: str) -> None:
        if "aws_sqs_queue.slow: Creating..." in line and not fired.is_set():
            fired.set()
            # What a terminal does on Ctrl-C: SIGINT to the process, which Python turns into
            # KeyboardInterrupt in the main thread (where the apply is waiting).
            threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGINT)).start()

    stack.prepared.runner().on_output = watch  # type: ignore[union-attr]
    with pytest.raises(KeyboardInterrupt):
        stack.apply()
    assert fired.is_set()
    report = stack.end()
    assert isinstance(report, TeardownReport)
    assert report.destroyed, report.error
    assert report.leftovers == {}, report.render()


def test_sigterm_takes_the_ctrl_c_path() -> None:
    """CI runners and `timeout` send SIGTERM: it must become the KeyboardInterrupt the destroy path handles."""
    before = signal.getsignal(signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt, match="signal 15"), sigterm_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 1) if hasattr(signal, "sigtimedwait") else None
    # Outside the context the previous handler is back, exactly.
    assert signal.getsignal(signal.SIGTERM) is before


def test_protections_the_stack_has_no_switch_for_are_lifted_and_the_teardown_is_clean(private_run: Run) -> None:
    """Deletion protection (enforced by the API), an object in a bucket without force_destroy, and a log group
    destroy must skip: the teardown lifts each itself, says so, and leaves nothing behind."""
    spec = _spec("protected")
    deployment = private_run.deployment(spec)
    deployment.apply()
    table = deployment.backend.client("dynamodb").describe_table(TableName="protected-orders")["Table"]
    assert table["DeletionProtectionEnabled"] is True, "checks must see the protection as deployed"

    report = private_run.end(spec)

    assert isinstance(report, TeardownReport)
    assert report.clean, report.render()
    lifted = "\n".join(report.lifted)
    for what in ("aws_dynamodb_table.orders: deletion_protection_enabled", "aws_s3_bucket.records: force_destroy"):
        assert what in lifted, lifted
    assert "aws_cloudwatch_log_group.audit: skip_destroy" in lifted, lifted
    assert not (spec.tf_dir / "terraform.tfstate").exists(), "the user's directory was written to"
