"""The plugin in someone else's repository: it taxes nothing it does not use, and behaves there.

Each test runs pytest in a directory of its own (a subprocess, as a user's shell would), with the
plugin loaded from its entry point like any installed plugin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.harness

HOST_STACK = Path(__file__).parent / "stacks" / "host_project"
REAL_LOOKING_KEY = "AKIA" + "Q" * 16  # assembled: no key-shaped literal for secret scanners to flag
USER_TEST = """
import pytest

pytestmark = pytest.mark.integration


def test_the_cluster_is_in_the_stacks_region(deployed_stack, aws):
    arns = aws.client("ecs").list_clusters()["clusterArns"]
    assert any(arn.endswith(":cluster/orders") for arn in arns), (aws, arns)
    assert aws.region == "eu-central-1"


def test_unrelated():
    pass
"""


AWS_ONLY_TEST = """
import pytest


@pytest.mark.integration
def test_the_cluster_is_there_through_aws_alone(aws):
    assert any(arn.endswith(":cluster/orders") for arn in aws.client("ecs").list_clusters()["clusterArns"])
"""


def pytest_in(directory: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=environ,
    )


def test_importing_the_plugin_loads_no_emulator_and_no_aws_sdk() -> None:
    code = "import sys, stackprobe.pytest_plugin; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("moto", "boto3", "botocore", "tftest", "werkzeug"):
        assert f"'{heavy}'" not in loaded, f"importing the plugin imported {heavy}"


def test_an_empty_directory_with_a_missing_profile_collects_nothing_quietly(tmp_path: Path) -> None:
    done = pytest_in(tmp_path, "--co", "-q", AWS_PROFILE="nowhere")
    assert done.returncode == 5, done.stdout + done.stderr  # pytest's own "no tests collected"
    assert "Traceback" not in done.stdout + done.stderr


def test_without_xdist_and_with_strict_markers_nothing_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_user.py").write_text(USER_TEST)
    done = pytest_in(tmp_path, "-p", "no:xdist", "--strict-markers", "--co", "-q", "-W", "error")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "INTERNALERROR" not in output and "Unknown" not in output
    # Only the test that deploys moves last; the rest keep the order they were written in.
    order = [line.split("::")[-1] for line in done.stdout.splitlines() if "::" in line]
    assert order == ["test_unrelated", "test_the_cluster_is_in_the_stacks_region"], order


def test_only_the_plugins_own_markers_are_registered_in_a_host_project(tmp_path: Path) -> None:
    listed = pytest_in(tmp_path, "--markers").stdout
    assert "@pytest.mark.unit:" in listed and "@pytest.mark.integration:" in listed
    for ours in ("harness", "mutants", "regression", "localstack"):
        assert f"@pytest.mark.{ours}:" not in listed


def test_the_header_names_what_it_ignored_from_the_environment(tmp_path: Path) -> None:
    done = pytest_in(
        tmp_path, "--co", AWS_PROFILE="prod-admin", AWS_ACCESS_KEY_ID=REAL_LOOKING_KEY, AWS_ENDPOINT_URL="https://x.io"
    )
    line = next(line for line in done.stdout.splitlines() if "ignored from the environment" in line)
    assert "AWS_PROFILE=prod-admin" in line and "AWS_ENDPOINT_URL=https://x.io" in line
    assert "AWS_ACCESS_KEY_ID (the shape of a real key)" in line and REAL_LOOKING_KEY not in line


@pytest.mark.xdist_group("host-project")
def test_a_users_stack_in_another_region_is_deployed_asserted_and_destroyed(tmp_path: Path) -> None:
    """The whole plugin path in a host project: ini settings, deploy, `aws` in the stack's region, destroy."""
    shutil.copytree(HOST_STACK, tmp_path / "infra")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_user.py").write_text(USER_TEST)
    # An integration test that reads the account through `aws` alone gets the stack deployed for it too, and
    # runs before it is destroyed (it is named to run first: the plugin must still order it after the deploy).
    (tmp_path / "tests" / "test_a_aws_only.py").write_text(AWS_ONLY_TEST)
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nstackprobe_tf_dir = "infra"\n')
    done = pytest_in(tmp_path, "-p", "no:xdist", "--strict-markers", "-q", AWS_PROFILE="nowhere")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout


def test_the_plugin_reads_its_settings_from_setup_cfg_when_the_project_keeps_pytests_there(tmp_path: Path) -> None:
    """No [tool.pytest.ini_options] needed (adding one would make pytest ignore setup.cfg)."""
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nstackprobe_tf_dir = infra\nstackprobe_vars = app=orders\n")
    done = pytest_in(tmp_path, "--co")
    header = done.stdout + done.stderr
    assert f"tf-dir={tmp_path / 'infra'}" in header, header
