"""A required variable nobody gives is found before anything is applied, named with where it is declared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackprobe.lifecycle.inputs import MissingVariables, check_required_variables, required_variables
from stackprobe.settings import StackSpec
from stackprobe.terraform.runner import COMMAND_LOG_ENV

pytestmark = pytest.mark.harness

STACKS = Path(__file__).parent / "stacks"
NEEDS = STACKS / "needs_variable"


def test_required_variables_are_those_without_a_default() -> None:
    [declared] = required_variables(NEEDS)
    assert (declared.name, declared.path.name, declared.line) == ("bucket_name", "main.tf", 16)


@pytest.mark.parametrize(
    "given",
    [
        {"variables": (("bucket_name", "x"),)},
        {"var_files": ("vars.tfvars",)},
        {"environ": {"TF_VAR_bucket_name": "x"}},
        {"auto": "terraform.tfvars"},
        {"auto": "x.auto.tfvars"},
    ],
    ids=["var", "var-file", "TF_VAR", "terraform.tfvars", "auto.tfvars"],
)
def test_every_way_terraform_takes_a_variable_counts(tmp_path: Path, given: dict[str, object]) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text((NEEDS / "main.tf").read_text())
    (tmp_path / "vars.tfvars").write_text('bucket_name = "x"\n')
    if "auto" in given:
        (stack / str(given["auto"])).write_text('bucket_name = "x"\n')
    files = tuple(tmp_path / str(name) for name in given.get("var_files", ()))  # type: ignore[attr-defined]
    spec = StackSpec(tf_dir=stack, var_files=files, variables=given.get("variables", ()))  # type: ignore[arg-type]
    check_required_variables(spec, environ=given.get("environ", {}))  # type: ignore[arg-type]


def test_a_missing_variable_names_its_declaration_and_the_lines_that_give_it() -> None:
    with pytest.raises(MissingVariables) as missing:
        check_required_variables(StackSpec(tf_dir=NEEDS), environ={})
    message = str(missing.value)
    assert "bucket_name (declared at main.tf:16)" in message
    assert "--var bucket_name=VALUE" in message and 'stackprobe_vars = ["bucket_name=VALUE"]' in message


def test_the_cli_stops_before_applying_the_prerequisites(tmp_path: Path) -> None:
    """exit 2 naming the variable, and no terraform command at all: the prerequisites were never applied."""
    log = tmp_path / "commands.jsonl"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_", "TF_VAR_"))}
    environ.update({COMMAND_LOG_ENV: str(log), "STACKPROBE_CACHE_DIR": str(tmp_path / "cache")})
    command = [sys.executable, "-m", "stackprobe", "verify", str(NEEDS), "--prerequisites", str(STACKS / "tiny")]
    done = subprocess.run(
        [*command, "--quiet", "--format", "json"], capture_output=True, text=True, timeout=300, env=environ
    )

    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert "bucket_name (declared at main.tf:16)" in "\n".join(report["errors"])
    assert not log.exists(), log.read_text()


def test_a_container_name_no_planned_task_definition_has_stops_before_the_apply(tmp_path: Path) -> None:
    """`--container apii=...` against a stack whose task definition's container is `app`: exit 2 after the
    plan, naming the containers that exist, and no `terraform apply` ever ran."""
    log = tmp_path / "commands.jsonl"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_", "TF_VAR_"))}
    environ.update({COMMAND_LOG_ENV: str(log), "STACKPROBE_CACHE_DIR": str(tmp_path / "cache")})
    stack = STACKS / "stand_ins_external"
    command = [sys.executable, "-m", "stackprobe", "verify", str(stack), "--var-file", str(stack / "env/author.tfvars")]
    command += ["--container", "apii=python -m http.server", "--quiet", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environ)

    assert done.returncode == 2, done.stdout + done.stderr
    [error] = json.loads(done.stdout)["errors"]
    assert "No container of the planned task definitions is named 'apii'" in error, error
    assert "app (task definition app)" in error and "--container app=COMMAND" in error, error
    verbs = [json.loads(line)["args"][0] for line in log.read_text().splitlines()]
    assert "plan" in verbs and "apply" not in verbs, verbs
