"""A configuration that names something of another account: the emulator's answers give it away.

The provider retries some "not found" answers for minutes (eventual consistency), so a stack written
for one account (a certificate, a policy, a key of its own) sat in that loop and then failed without
saying what was missing. The request log keeps each error answer's code, message and the ARNs the
request named; the watch stops terraform once one call keeps failing for an ARN of another account.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from stackprobe.backends.base import AwsBackend
from stackprobe.backends.moto import EmbeddedMoto
from stackprobe.backends.request_log import RequestLog, RequestRecord
from stackprobe.errors import TerraformFailed
from stackprobe.lifecycle.external import REPEATS, ExternalResourceMissing, Watch, missing_dependency
from stackprobe.lifecycle.prepared import Preparation, PreparedStack
from stackprobe.settings import RunSettings, StackSpec

pytestmark = pytest.mark.harness

FOREIGN_POLICY = "arn:aws:iam::999999999999:policy/platform-shared-read"


@pytest.fixture(scope="module")
def moto() -> Iterator[EmbeddedMoto]:
    server = EmbeddedMoto()
    server.start()
    yield server
    server.stop()


def attach_foreign_policy(backend: AwsBackend, times: int) -> None:
    iam = backend.client("iam")
    role = f"app-{time.monotonic_ns()}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    for _ in range(times):
        with pytest.raises(ClientError):
            iam.attach_role_policy(RoleName=role, PolicyArn=FOREIGN_POLICY)


def test_an_error_answer_keeps_its_code_message_and_the_arns_the_request_named(moto: EmbeddedMoto) -> None:
    assert moto.backend is not None
    attach_foreign_policy(moto.backend, 1)
    [record] = [r for r in moto.request_log.tail(5) if r.operation == "AttachRolePolicy"]
    assert record.status == 404 and record.error.startswith("NoSuchEntity")
    assert record.arns == (FOREIGN_POLICY,)
    assert FOREIGN_POLICY in record.line()


def test_a_call_that_keeps_failing_for_another_accounts_arn_is_named(moto: EmbeddedMoto) -> None:
    assert moto.backend is not None
    since = time.time()
    attach_foreign_policy(moto.backend, REPEATS - 1)
    assert missing_dependency(moto.request_log, since, moto.backend.account_id) is None, "one retry too early"
    attach_foreign_policy(moto.backend, 1)
    found = missing_dependency(moto.request_log, since, moto.backend.account_id)
    assert found is not None and (found.arn, found.operation) == (FOREIGN_POLICY, "AttachRolePolicy")


def own_account_log(arn: str) -> RequestLog:
    log = RequestLog()
    for _ in range(REPEATS * 2):
        log.add(RequestRecord(time.time(), "POST", "h", "/", "GetRole", 404, 0.0, "NoSuchEntity: gone", (arn,)))
    return log


def test_the_emulators_own_account_is_called_missing_only_where_the_configuration_writes_the_arn() -> None:
    own = "arn:aws:iam::123456789012:role/being-created"
    # The stack may be creating it (a read right after a create): not the watch's to stop.
    assert missing_dependency(own_account_log(own), 0.0, "123456789012") is None
    found = missing_dependency(own_account_log(own), 0.0, "123456789012", {own: "main.tf:7"})
    assert found is not None and (found.arn, found.where) == (own, "main.tf:7")
    assert "(named at main.tf:7)" in str(found.error_for("stack")) and "--no-stand-ins" in str(found.error_for("stack"))


def test_with_stand_ins_off_an_own_account_certificate_stops_terraform_naming_it_and_its_line() -> None:
    """The listener's CertificateNotFound is retried by the provider for minutes; the watch stops it at its
    fifth answer (the message says so) and names the ARN and the var file line that wrote it."""
    stack = Path(__file__).parent / "stacks" / "own_account_certificate"
    certificate = (stack / "terraform.tfvars").read_text().split('"')[1]
    command = [sys.executable, "-m", "stackprobe", "verify", str(stack), "--no-stand-ins", "--format", "json"]
    command += ["--quiet", "--skip-check", "lifecycle.idempotent"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    reproduce = " ".join(command).replace(sys.executable, "python")
    report = json.loads(done.stdout or "{}")
    assert done.returncode == 1 and report.get("errors"), f"{reproduce}\n{done.stderr[-3000:]}"
    error = report["errors"][0]
    assert f"refers to {certificate} (named at terraform.tfvars:1)" in error, error
    assert "so terraform was stopped" in error and "CreateListener" in error, error
    # What the stopped apply created (the load balancer, the target group) is destroyed all the same.
    teardown = next(c for c in report["checks"] if c["id"] == "lifecycle.clean-teardown")
    assert teardown["status"] == "pass", teardown


class BlockingRunner:
    """A terraform stand-in: its apply waits until interrupted, then fails as terraform would."""

    def __init__(self) -> None:
        self.interrupted = threading.Event()

    def interrupt(self) -> None:
        self.interrupted.set()

    def apply_plan(self, plan: object) -> None:
        if not self.interrupted.wait(30):
            raise AssertionError("the watch never stopped terraform")
        raise TerraformFailed("`terraform apply` failed (exit 1)", "read terraform's error above")


def test_the_stack_stops_terraform_and_says_what_is_missing(moto: EmbeddedMoto, tmp_path: Path) -> None:
    assert moto.backend is not None
    stack = PreparedStack(StackSpec(tf_dir=tmp_path), moto.backend, tmp_path, Preparation(RunSettings()), emulator=moto)
    runner = BlockingRunner()
    stack.runner = lambda: runner  # type: ignore[assignment,method-assign,return-value]
    threading.Thread(target=attach_foreign_policy, args=(moto.backend, REPEATS), daemon=True).start()

    with pytest.raises(ExternalResourceMissing) as stopped:
        stack.watched(lambda: runner.apply_plan(None))

    message = str(stopped.value)
    assert FOREIGN_POLICY in message and "AttachRolePolicy" in message
    assert "--prerequisites" in message and "pytest_stackprobe_prerequisites" in message


def test_the_watch_lets_a_healthy_command_finish(moto: EmbeddedMoto) -> None:
    stops: list[bool] = []
    with Watch(moto.request_log, time.time(), "123456789012", lambda: stops.append(True)) as watch:
        time.sleep(1.5)
    assert watch.found is None and stops == []
