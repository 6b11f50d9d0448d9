"""Quality gates for every Terraform root: fmt, validate, and checkov with zero unsuppressed failures.

checkov pins its own dependency tree, which conflicts with the harness's, so it runs from its own
virtual environment, built once under the stackprobe cache directory (with uv where it is found, else pip)
and reused afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stackprobe.backends.tool_venv import BuildFailed, VenvBuild, find_installer
from stackprobe.settings import default_cache_dir
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.mirror import resolve_provider_source

pytestmark = [pytest.mark.harness, pytest.mark.xdist_group("terraform-quality")]

REPO = Path(__file__).resolve().parents[2]
ROOTS = [REPO / "terraform", *sorted(p.parent for p in (REPO / "terraform" / "legacy").glob("*/main.tf"))]
CHECKOV_VERSION = "3.3.30"


def test_terraform_fmt_is_clean() -> None:
    binary = find_binary()
    result = subprocess.run(
        [binary.path, "fmt", "-check", "-recursive", "-diff", str(REPO / "terraform")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform` to fix:\n{result.stdout[-3000:]}"


@pytest.mark.parametrize("root", ROOTS, ids=[str(r.relative_to(REPO)) for r in ROOTS])
def test_terraform_validate(root: Path, tmp_path: Path) -> None:
    binary = find_binary()
    copy = tmp_path / "root"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "legacy"))
    config = tmp_path / "cli.tfrc"
    config.write_text(resolve_provider_source().cli_config())
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    init = subprocess.run(
        [binary.path, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-2000:]
    result = subprocess.run(
        [binary.path, "validate", "-json", "-no-color"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)[:3000]


def _checkov() -> Path:
    """checkov in its own venv under the cache dir: built once, under a lock for xdist workers, with uv where uv
    is found and pip otherwise (stackprobe.backends.tool_venv); its install log lies beside it."""
    cache = default_cache_dir()
    build = VenvBuild(
        venv=cache / f"checkov-venv-{CHECKOV_VERSION}",
        interpreter=Path(sys.executable),
        steps=[(f"checkov=={CHECKOV_VERSION}",)],
        log=cache / f"checkov-venv-{CHECKOV_VERSION}.install.log",
        title=f"stackprobe tests: installing checkov {CHECKOV_VERSION}",
    )
    executable = build.venv / "bin" / "checkov"
    lock = cache / f"{build.venv.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if not executable.exists():
            installer = find_installer()
            try:
                build.run(installer)
            except BuildFailed as failed:
                tail = build.log.read_text(errors="replace")[-500:]
                pytest.skip(f"checkov {CHECKOV_VERSION} could not be installed with {installer.name}: {failed}; {tail}")
    return executable


def test_checkov_has_no_unsuppressed_failure_on_the_reference_stack() -> None:
    """Every checkov finding on terraform/ is fixed or suppressed inline with its justification."""
    checkov = _checkov()
    result = subprocess.run(
        [
            str(checkov),
            "-d",
            str(REPO / "terraform"),
            "--framework",
            "terraform",
            "--skip-path",
            "legacy",
            "--output",
            "json",
            "--quiet",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        # Without PYTHONDONTWRITEBYTECODE (set on some machines), so that the first run leaves checkov's bytecode
        # in its venv: uv compiles none at install, and every later run would compile again (2.5 CPU-s).
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONWARNINGS": "ignore"},
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {result.returncode}): {result.stderr[-2000:]}", pytrace=False)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    summary = [r.get("summary", {}) for r in reports]
    assert not failed, "\n".join(
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for c in failed
    )
    assert sum(s.get("passed", 0) for s in summary) > 100, summary
