"""The workspace: a private copy with override files; the user's directory is never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.terraform.workspace import OVERRIDE_NAME, PROVIDER_NAME, WorkspaceError, create_workspace

pytestmark = pytest.mark.harness

ENDPOINT = "http://127.0.0.1:5555"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """envs/prod calls ../../modules/net; legacy/ is another root that must not be copied."""
    root = tmp_path / "repo"
    _write(
        root / "envs" / "prod" / "main.tf",
        """
terraform {
  backend "s3" {}
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region  = var.region
  profile = "prod-admin"
}
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}
variable "region" { type = string }
module "net" { source = "../../modules/net" }
""",
    )
    _write(root / "envs" / "prod" / "terraform.tfstate", "{}")
    _write(root / "envs" / "prod" / ".terraform" / "junk", "x")
    _write(root / "modules" / "net" / "main.tf", 'resource "aws_vpc" "this" { cidr_block = "10.0.0.0/16" }\n')
    _write(root / "modules" / "net" / "templates" / "policy.json", "{}")
    _write(root / "legacy" / "old" / "main.tf", 'resource "aws_vpc" "old" { cidr_block = "10.1.0.0/16" }\n')
    return root


def test_copy_keeps_layout_and_skips_runtime_files(repo: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    workspace = create_workspace(
        repo / "envs" / "prod", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    copied = sorted(str(p.relative_to(workspace.root)) for p in workspace.root.rglob("*") if p.is_file())
    assert "envs/prod/main.tf" in copied
    assert "modules/net/main.tf" in copied
    assert "modules/net/templates/policy.json" in copied
    assert not any("tfstate" in p or ".terraform/" in p or p.startswith("legacy") for p in copied)
    assert workspace.module_dir == workspace.root / "envs" / "prod"
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before, "the source tree was modified"


def test_override_covers_every_alias_and_the_backend(repo: Path, tmp_path: Path) -> None:
    workspace = create_workspace(
        repo / "envs" / "prod", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    override = (workspace.module_dir / OVERRIDE_NAME).read_text()
    assert override.count('provider "aws" {') == 2
    assert 'alias                       = "us_east_1"' in override
    assert "profile                     = null" in override
    assert "max_retries                 = 2" in override
    assert f'sts = "{ENDPOINT}"' in override
    assert 'backend "local" {}' in override
    assert not (workspace.root / "modules" / "net" / OVERRIDE_NAME).exists()


def test_root_without_provider_block_gets_a_provider_file(tmp_path: Path) -> None:
    _write(tmp_path / "src" / "main.tf", 'resource "aws_s3_bucket" "b" { bucket = "x-y-z" }\n')
    workspace = create_workspace(
        tmp_path / "src", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    assert (workspace.module_dir / PROVIDER_NAME).is_file()
    assert not (workspace.module_dir / OVERRIDE_NAME).exists()


def test_child_module_provider_blocks_are_overridden_too(tmp_path: Path) -> None:
    _write(tmp_path / "src" / "main.tf", 'module "legacy" { source = "./mod" }\n')
    _write(tmp_path / "src" / "mod" / "main.tf", 'provider "aws" { region = "eu-west-1" }\n')
    workspace = create_workspace(
        tmp_path / "src", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    assert (workspace.module_dir / "mod" / OVERRIDE_NAME).is_file()


def test_a_file_with_a_syntax_error_still_gets_overrides_and_its_modules(tmp_path: Path) -> None:
    """terraform will report the empty attribute and the stray quote with their lines; the copy must still
    hold the module called after them, or terraform's report would be "Unreadable module directory"."""
    _write(
        tmp_path / "src" / "main.tf",
        'provider "aws" {\n  alias = "west"\n  region = "eu-west-1"\n}\nresource "aws_vpc" "v" {\n  cidr_block = \n}\n'
        'variable "name" {\n  default = "abc\n}\nmodule "net" {\n  source = "./modules/net"\n}\n',
    )
    _write(tmp_path / "src" / "modules" / "net" / "main.tf", 'resource "aws_vpc" "n" {}\n')
    workspace = create_workspace(
        tmp_path / "src", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    assert 'alias                       = "west"' in (workspace.module_dir / OVERRIDE_NAME).read_text()
    assert (workspace.module_dir / "modules" / "net" / "main.tf").is_file()


def test_json_configuration_calls_are_copied(tmp_path: Path) -> None:
    _write(tmp_path / "src" / "main.tf.json", '{"module": {"net": {"source": "../shared/net"}}}')
    _write(tmp_path / "shared" / "net" / "main.tf.json", '{"provider": {"aws": {"region": "eu-west-1"}}}')
    workspace = create_workspace(
        tmp_path / "src", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test"
    )
    assert (workspace.root / "shared" / "net" / "main.tf.json").is_file()
    assert (workspace.root / "shared" / "net" / OVERRIDE_NAME).is_file()
    assert (workspace.module_dir / PROVIDER_NAME).is_file()


def test_missing_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist") as error:
        create_workspace(tmp_path / "nope", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test")
    assert "Remedy:" in str(error.value)


def test_directory_without_tf_files_is_explained(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkspaceError, match=r"holds no \.tf files"):
        create_workspace(tmp_path / "empty", tmp_path / "ws", endpoint=ENDPOINT, access_key="test", secret_key="test")
