"""What a stack expects to exist already, made in the emulator first: as a configuration, or a hook.

A stack written for an existing VPC (or certificate, or hosted zone) cannot be planned on an empty
account. A prerequisites configuration is applied first on the same emulator, its outputs become the
stack's variables, and it is destroyed after the stack (or, in an emulator that ends with the run, left to go
with it); a conftest hook can create the same with boto3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.harness, pytest.mark.xdist_group("prerequisites")]

STACKS = Path(__file__).parent / "stacks" / "prerequisites"
REPO = Path(__file__).resolve().parents[2]


def test_a_prerequisites_configuration_is_applied_first_and_goes_with_the_emulator_the_run_discards(
    tmp_path: Path,
) -> None:
    """The service is destroyed and proven gone; its prerequisites (the VPC it was given) are not destroyed in an
    emulator that ends with the run, and the report says so. A live session's are (the test below)."""
    log = tmp_path / "commands.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stackprobe",
            "verify",
            str(STACKS / "service"),
            "--prerequisites",
            str(STACKS / "network"),
            "--format",
            "json",
            "--quiet",
        ],
        cwd=REPO,
        env={**os.environ, "STACKPROBE_COMMAND_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = json.loads(done.stdout or "{}")
    assert report.get("outcome") == "complete", done.stderr[-3000:]
    teardown = next(c for c in report["checks"] if c["id"] == "lifecycle.clean-teardown")
    assert teardown["status"] == "pass", teardown  # the service's security group is gone
    groups = next(c for c in report["checks"] if c["id"] == "network.no-world-ingress")
    assert any("service" in f["resource"] or "service" in f["evidence"] for f in groups["findings"]), groups
    commands = [json.loads(line)["args"][0] for line in log.read_text().splitlines()]
    assert (commands.count("apply"), commands.count("destroy")) == (2, 1), commands
    note = "Not destroyed: network goes with the emulator this run started and stops (prerequisites:"
    assert any(n.startswith(note) for n in report.get("notes", [])), report.get("notes")


CONFTEST = """
def pytest_stackprobe_prerequisites(aws, spec):
    aws.client("ec2").create_vpc(CidrBlock="10.50.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "existing"}]}])
"""
SERVICE = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}
provider "aws" {
  region = "eu-west-1"
}
data "aws_vpc" "existing" {
  tags = { Name = "existing" }
}
resource "aws_security_group" "service" {
  name   = "service"
  vpc_id = data.aws_vpc.existing.id
}
"""
USER_TEST = """
def test_the_service_runs_in_the_existing_vpc(deployed_stack, aws):
    groups = aws.client("ec2").describe_security_groups(GroupNames=["service"])["SecurityGroups"]
    vpcs = aws.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["existing"]}])["Vpcs"]
    assert groups[0]["VpcId"] == vpcs[0]["VpcId"]
"""


def test_a_conftest_hook_creates_what_the_stack_looks_up(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text(SERVICE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_service.py").write_text(USER_TEST)
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nstackprobe_tf_dir = "infra"\n')
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=environ,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "1 passed" in done.stdout


def test_a_live_session_keeps_its_prerequisites_and_down_ends_both(tmp_path: Path) -> None:
    """up with prerequisites, attach without terraform, then down (which needs not repeat them)."""
    service, network = tmp_path / "service", tmp_path / "network"
    shutil.copytree(STACKS / "service", service)
    shutil.copytree(STACKS / "network", network)
    log = tmp_path / "commands.jsonl"

    def stackprobe(*args: str, logged: bool = False) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k != "STACKPROBE_COMMAND_LOG"}
        if logged:
            environ["STACKPROBE_COMMAND_LOG"] = str(log)
        return subprocess.run(
            [sys.executable, "-m", "stackprobe", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env=environ,
        )

    try:
        up = stackprobe("up", str(service), "--prerequisites", str(network), "--quiet")
        assert up.returncode == 0, up.stderr[-3000:]
        attached = stackprobe(
            "verify",
            str(service),
            "--prerequisites",
            str(network),
            "--reuse",
            "--check",
            "network.no-world-ingress",
            "--format",
            "json",
            "--quiet",
            logged=True,
        )
        report = json.loads(attached.stdout or "{}")
        assert any("no terraform ran" in note for note in report.get("notes", [])), attached.stderr[-3000:]
        assert not log.exists(), log.read_text()
    finally:
        down = stackprobe("down", str(service), "--quiet")
    assert down.returncode == 0 and "holds nothing the stack created" in down.stdout, down.stdout + down.stderr


def test_the_prerequisites_of_a_stack_only_planned_can_end_so_the_emulator_can_be_emptied(tmp_path: Path) -> None:
    """The scenario plans (tests/unit) apply image-classifier's existing VPC to plan against it; left deployed
    for the rest of the session, it refused the emulator to the tests of that xdist worker that need it empty."""
    from stackprobe.errors import StackprobeError
    from stackprobe.lifecycle.ending import DiscardedStack
    from stackprobe.lifecycle.run import Run
    from stackprobe.settings import RunSettings, StackSpec

    run = Run(RunSettings(), tmp_path)
    try:
        spec = StackSpec(tf_dir=STACKS / "service", prerequisites=StackSpec(tf_dir=STACKS / "network"))
        run.prepared(spec).plan_json()
        with pytest.raises(StackprobeError, match="is deployed in it"):
            run.reset_emulator()
        assert spec.prerequisites is not None
        # Ended without a destroy: the emulator goes with the run, and the reset below empties it.
        ending = run.end(spec.prerequisites)
        assert isinstance(ending, DiscardedStack) and "(prerequisites: what the stack was given" in ending.render()
        assert run.deployed() == []
        ec2 = run.reset_emulator().client("ec2")
        assert [vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"] if not vpc.get("IsDefault")] == []
    finally:
        run.close()


def test_a_stack_ended_twice_reports_its_prerequisites_once() -> None:
    """The plugin ends the stack after its last test, and the run's close asks again for how it ended: folding the
    prerequisites' ending in must not change the stack's own report, or the note repeats (a user's session summary
    printed it twice). No deployment: one that applied in this xdist worker's process-wide moto met a security
    group an earlier test had left in a VPC whose id moto gave again (a full run failed so)."""
    from stackprobe.aws.inventory import TeardownReport
    from stackprobe.lifecycle.ending import PREREQUISITES_GIVEN, DiscardedStack, absorb
    from stackprobe.settings import StackSpec

    own = TeardownReport(destroyed=True, seconds=7.0)
    given = DiscardedStack(StackSpec(tf_dir=STACKS / "network"), PREREQUISITES_GIVEN)
    first, again = absorb(own, given), absorb(own, given)
    rendered = first.render()
    assert isinstance(first, TeardownReport) and first.clean, rendered
    assert rendered.count("Not destroyed: network goes with the emulator") == 1, rendered
    assert again.render() == rendered and own.notes == []
