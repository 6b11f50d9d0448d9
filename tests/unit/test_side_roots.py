"""The configurations beside the stack are valid Terraform: the account bootstrap and the prerequisites.

`terraform/bootstrap` is applied once per account (state bucket, GitHub OIDC provider, CI roles);
`terraform/prerequisites/*` create on the emulator what an account holds before the stack. The stack's own
quality gates (tests/harness/test_terraform_quality.py) validate terraform/ itself, whose validation does
not descend into these directories. existing-network is also applied by the image-classifier scenario's plan.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from scenario_specs import TERRAFORM

from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.mirror import resolve_provider_source

pytestmark = pytest.mark.unit

ROOTS = [TERRAFORM / "bootstrap", *sorted(p for p in (TERRAFORM / "prerequisites").iterdir() if p.is_dir())]


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_the_configuration_is_valid(root: Path, tmp_path: Path) -> None:
    binary = find_binary()
    copy = tmp_path / "root"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
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
        [binary.path, "validate", "-json", "-no-color"], cwd=copy, env=env, capture_output=True, text=True, timeout=300
    )
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)[:3000]
