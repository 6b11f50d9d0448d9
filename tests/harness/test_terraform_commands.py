"""Which terraform commands the runner issues: each one boots the provider, so one saved is CPU saved.

A stand-in `terraform` (a shell script) records its arguments and answers as terraform would, so the
command sequence is checked without paying for real ones.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.errors import TerraformFailed
from stackprobe.terraform.binary import TerraformBinary
from stackprobe.terraform.mirror import ProviderSource
from stackprobe.terraform.runner import TerraformRunner
from stackprobe.terraform.workspace import create_workspace

pytestmark = pytest.mark.harness

SHOWN = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "aws_sqs_queue.q",
            "mode": "managed",
            "type": "aws_sqs_queue",
            "change": {"actions": ["update"], "before": {"x": 1}, "after": {"x": 2}},
        }
    ],
}


def _runner(tmp_path: Path, plan_exit: int) -> tuple[TerraformRunner, Path]:
    """A runner whose terraform exits `plan_exit` from plan and prints SHOWN from show."""
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / "terraform"
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >> {calls}\n"
        f'case "$1" in plan) exit {plan_exit};; show) cat {tmp_path / "shown.json"};; esac\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "shown.json").write_text(json.dumps(SHOWN))
    source = tmp_path / "config"
    source.mkdir()
    (source / "main.tf").write_text('resource "aws_sqs_queue" "q" {}\n')
    backend = AwsBackend(name="moto", endpoint="http://127.0.0.1:1", region="eu-west-1", account_id="123456789012")
    workspace = create_workspace(source, tmp_path / "work", endpoint=backend.endpoint, access_key="x", secret_key="y")
    runner = TerraformRunner(
        workspace, TerraformBinary(str(script), "terraform", (1, 11, 4)), backend, ProviderSource(None), tmp_path
    )
    return runner, calls


def _commands(calls: Path) -> list[str]:
    return [line.split()[0] for line in calls.read_text().splitlines()]


def test_an_empty_second_plan_is_not_shown(tmp_path: Path) -> None:
    runner, calls = _runner(tmp_path, plan_exit=0)

    assert runner.pending_changes({}) is None
    assert _commands(calls) == ["plan"]
    assert "-detailed-exitcode" in calls.read_text()


def test_a_second_plan_with_changes_is_shown_and_parsed(tmp_path: Path) -> None:
    runner, calls = _runner(tmp_path, plan_exit=2)

    plan = runner.pending_changes({})

    assert plan is not None
    assert [change.address for change in plan.changes()] == ["aws_sqs_queue.q"]
    assert _commands(calls) == ["plan", "show"]


def test_a_failing_second_plan_still_fails(tmp_path: Path) -> None:
    runner, _ = _runner(tmp_path, plan_exit=1)
    with pytest.raises(TerraformFailed, match="exit 1"):
        runner.pending_changes({})
