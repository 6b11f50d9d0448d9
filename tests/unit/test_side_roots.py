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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scenario_specs import TERRAFORM

from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.mirror import resolve_provider_source

pytestmark = pytest.mark.unit

# `terraform init`'s result, and `validate -json`'s when init succeeded.
Validation = tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str] | None]
ROOTS = [TERRAFORM / "bootstrap", *sorted(p for p in (TERRAFORM / "prerequisites").iterdir() if p.is_dir())]


@pytest.fixture(scope="module")
def validations(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Validation]:
    """Each root's `terraform validate -json`, all at once: each is a few seconds of one core (the provider's
    schema), and `pytest -m unit` would otherwise wait for them one after another."""
    work = tmp_path_factory.mktemp("side-roots")
    config = work / "cli.tfrc"
    config.write_text(resolve_provider_source().cli_config())
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    with ThreadPoolExecutor(max_workers=len(ROOTS)) as pool:
        futures = {root: pool.submit(_validate, root, work / root.name, env) for root in ROOTS}
        return {root: future.result() for root, future in futures.items()}


def _validate(root: Path, copy: Path, env: dict[str, str]) -> Validation:
    """`terraform init` then, if it succeeded, `validate -json`, in a copy of `root`."""
    binary = find_binary()
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    init = subprocess.run(
        [binary.path, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if init.returncode != 0:
        return init, None
    validate = subprocess.run(
        [binary.path, "validate", "-json", "-no-color"], cwd=copy, env=env, capture_output=True, text=True, timeout=300
    )
    return init, validate


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_the_configuration_is_valid(root: Path, validations: dict[Path, Validation]) -> None:
    init, validate = validations[root]
    assert validate is not None, f"terraform init failed in {root}:\n{init.stdout[-2000:]}{init.stderr[-2000:]}"
    report = json.loads(validate.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)[:3000]
