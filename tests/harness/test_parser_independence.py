"""stackprobe beside checkov: nothing stackprobe reads may depend on which package owns the `hcl2` module name.

checkov depends on `bc-python-hcl2`, a fork that installs a module named `hcl2` over python-hcl2's and parses
into another shape. Before stackprobe read HCL itself, that silently dropped every local module from the
workspace copy, and terraform stopped with "Unreadable module directory" on valid stacks (issue 16). Since
then the source checks and the SARIF locator read through the same reader (stackprobe.terraform.config),
and no stackprobe module imports an `hcl2` package at all.

The test builds that environment for real: a throwaway venv holding checkov's pin of the fork, with
stackprobe and its dependencies from this interpreter appended after the venv's own site-packages (so the
fork's `hcl2` is the one imported, exactly as when both are installed into one environment). It prepares
the same stack there and here, and requires the same copy, the same source-check findings and SARIF
locations, and a `terraform init` that finds every module.
pip's own cache keeps the wheel, so a rerun costs about 2 s of venv and install plus one init.

Rerun: .venv/bin/pytest tests/harness/test_parser_independence.py -q -p no:randomly
"""

from __future__ import annotations

import ast
import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import stackprobe
from stackprobe.backends.base import AwsBackend
from stackprobe.checks import run_check
from stackprobe.checks.base import CheckContext
from stackprobe.checks.source import provider_credentials
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.locations import SourceIndex
from stackprobe.terraform.mirror import resolve_provider_source
from stackprobe.terraform.workspace import create_workspace

pytestmark = pytest.mark.harness

# What checkov 3.3.30 requires (`Requires-Dist: bc-python-hcl2==0.4.3`); its `hcl2.__version__` is 0.4.3.
CONFLICTING_PACKAGE = "bc-python-hcl2==0.4.3"
CONFLICTING_VERSION = "0.4.3"
ENDPOINT = "http://127.0.0.1:5555"
SOURCE = Path(stackprobe.__file__).resolve().parent
# Addresses the SARIF renderer locates: in a child module, in a grandchild, and an aliased provider.
ADDRESSES = ("module.app.aws_s3_bucket.data", "module.app.module.net.aws_vpc.this", "provider.amazon.us_east_1")

# Run inside the conflicting venv: report which hcl2 is imported, then prepare the stack and list the copy,
# run the credentials check on the stack and locate ADDRESSES (the same calls as _read_here).
PREPARE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import hcl2
    from stackprobe.backends.base import AwsBackend
    from stackprobe.checks import run_check
    from stackprobe.checks.base import CheckContext
    from stackprobe.checks.source import provider_credentials
    from stackprobe.terraform.locations import SourceIndex
    from stackprobe.terraform.workspace import create_workspace

    source, parent = Path(sys.argv[1]), Path(sys.argv[2])
    workspace = create_workspace(source, parent, endpoint=sys.argv[3], access_key="test", secret_key="test")
    backend = AwsBackend(name="moto", endpoint=sys.argv[3], region="eu-west-1", account_id="123456789012")
    result = run_check(provider_credentials, CheckContext(backend=backend, source_dir=source))
    index = SourceIndex(source)
    print(json.dumps({
        "hcl2_version": getattr(hcl2, "__version__", None),
        "hcl2_file": hcl2.__file__,
        "module_dir": str(workspace.module_dir),
        "files": sorted(str(p.relative_to(workspace.root)) for p in workspace.root.rglob("*") if p.is_file()),
        "findings": [[f.address, f.passed, f.evidence] for f in result.findings],
        "locations": [list(vars(index.locate(address)).values()) for address in sys.argv[4].split(",")],
    }))
    """
)


def _read_here(stack: Path) -> tuple[list[list[object]], list[list[object]]]:
    """What PREPARE reports as findings and locations, read in this interpreter."""
    backend = AwsBackend(name="moto", endpoint=ENDPOINT, region="eu-west-1", account_id="123456789012")
    result = run_check(provider_credentials, CheckContext(backend=backend, source_dir=stack))
    index = SourceIndex(stack)
    findings: list[list[object]] = [[f.address, f.passed, f.evidence] for f in result.findings]
    return findings, [list(vars(index.locate(address)).values()) for address in ADDRESSES]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def stack_with_local_modules(tmp_path: Path) -> Path:
    """envs/prod calls ../../modules/app, which calls ../net (with a provider block of its own); the AWS
    provider is required under another local name; legacy/ is another root that must not be copied."""
    repo = tmp_path / "repo"
    _write(
        repo / "envs" / "prod" / "main.tf",
        """
terraform {
  backend "s3" {
    bucket = "state"
    key    = "prod.tfstate"
  }
  required_providers {
    amazon = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "amazon" {
  region = "eu-west-1"
}

provider "amazon" {
  alias  = "us_east_1"
  region = "us-east-1"
}

module "app" {
  source = "../../modules/app"
  name   = "prod"
  providers = {
    amazon = amazon
  }
}
""",
    )
    _write(
        repo / "modules" / "app" / "main.tf",
        """
terraform {
  required_providers {
    amazon = { source = "hashicorp/aws" }
  }
}
variable "name" { type = string }
module "net" {
  source = "../net"
  cidr   = "10.0.0.0/16"
}
resource "aws_s3_bucket" "data" {
  provider = amazon
  bucket   = "${var.name}-data"
}
""",
    )
    _write(
        repo / "modules" / "net" / "main.tf",
        """
variable "cidr" { type = string }
provider "aws" {
  alias  = "net"
  region = "eu-west-1"
}
resource "aws_vpc" "this" {
  provider   = aws.net
  cidr_block = var.cidr
}
""",
    )
    _write(repo / "legacy" / "main.tf", 'resource "aws_vpc" "old" { cidr_block = "10.1.0.0/16" }\n')
    return repo / "envs" / "prod"


@pytest.fixture
def python_beside_checkovs_hcl2(tmp_path: Path) -> Path:
    """A venv's python where `import hcl2` is checkov's fork and stackprobe with its dependencies comes from
    this interpreter (a .pth file appends this interpreter's site-packages and stackprobe's source after the
    venv's own site-packages, so the fork wins the name as it does when installed over python-hcl2)."""
    venv = tmp_path / "checkov-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    # This interpreter's pip installs into the venv (`--python`): no pip bootstrap in the venv, and the
    # wheel comes from pip's cache after the first run.
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", CONFLICTING_PACKAGE]
    installed = subprocess.run(install, capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        pytest.skip(f"{CONFLICTING_PACKAGE} could not be installed ({' '.join(install)}): {installed.stderr[-500:]}")
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    source_root = Path(stackprobe.__file__).resolve().parents[1]
    lines = [f"import site; site.addsitedir({directory!r})" for directory in site.getsitepackages()]
    (venv_site / "zz_stackprobe_from_main_env.pth").write_text("\n".join([*lines, str(source_root)]) + "\n")
    return python


def _copied(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_local_modules_are_copied_and_initialised_beside_checkovs_hcl2(
    python_beside_checkovs_hcl2: Path, stack_with_local_modules: Path, tmp_path: Path
) -> None:
    command = [str(python_beside_checkovs_hcl2), "-c", PREPARE, str(stack_with_local_modules), str(tmp_path / "ws")]
    command += [ENDPOINT, ",".join(ADDRESSES)]
    rerun = " ".join(command[:2]) + " '<PREPARE>' " + " ".join(command[3:])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"preparing beside checkov's hcl2 failed ({rerun}):\n{done.stderr}"
    beside_checkov = json.loads(done.stdout)
    # The environment is the one of issue 16, or the test proves nothing.
    assert beside_checkov["hcl2_version"] == CONFLICTING_VERSION, beside_checkov
    assert str(python_beside_checkovs_hcl2.parents[1]) in beside_checkov["hcl2_file"], beside_checkov

    alone = create_workspace(
        stack_with_local_modules, tmp_path / "alone", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    assert beside_checkov["files"] == _copied(alone.root)
    assert {"modules/app/main.tf", "modules/net/main.tf", "modules/net/stackprobe_override.tf"} <= set(
        beside_checkov["files"]
    )
    assert not any(name.startswith("legacy") for name in beside_checkov["files"])

    # The source checks and the SARIF locator read the same way beside the fork, and read something.
    findings, locations = _read_here(stack_with_local_modules)
    assert (beside_checkov["findings"], beside_checkov["locations"]) == (findings, locations)
    assert [address for address, _, _ in findings] == [
        "provider.amazon",
        "provider.amazon.us_east_1",
        "module.app.module.net.provider.aws.net",
    ]
    assert locations == [
        ["../../modules/app/main.tf", 12, None],
        ["../../modules/net/main.tf", 7, None],
        ["main.tf", 19, None],
    ]

    # terraform reads every module of the copy made beside checkov (a missing one is "Unreadable module
    # directory"), and installs the provider from the machine's mirror.
    module_dir = Path(beside_checkov["module_dir"])
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text(resolve_provider_source().cli_config())
    environment = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1"}
    init = [find_binary().path, "init", "-input=false", "-no-color", "-backend=false"]
    initialised = subprocess.run(init, cwd=module_dir, env=environment, capture_output=True, text=True, check=False)
    assert initialised.returncode == 0, (
        f"cd {module_dir} && {' '.join(init)}:\n{initialised.stdout}{initialised.stderr}"
    )
    manifest = json.loads((module_dir / ".terraform" / "modules" / "modules.json").read_text())
    assert sorted(entry["Key"] for entry in manifest["Modules"]) == ["", "app", "app.net"]


def test_no_stackprobe_module_imports_an_hcl2_package() -> None:
    """Whichever distribution owns `hcl2`, stackprobe reads HCL only with stackprobe.terraform.config."""
    importing = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(name.split(".")[0] == "hcl2" for name in names):
                importing.append(str(path.relative_to(SOURCE)))
    assert importing == []
