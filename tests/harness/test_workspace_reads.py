"""Files a configuration reads from outside its directory come into the workspace copy at the same relative
place, so the same expressions resolve there; `--include` brings what reading the configuration cannot find.

The case behind it: a module read `${path.root}/../lambda-healthcheck/x.zip` through filebase64sha256, the
copy held only the Terraform directory, and terraform failed with a remedy that did not apply.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.lifecycle.prepared import Preparation, PreparedStack
from stackprobe.settings import RunSettings, StackSpec
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.config import read_tree
from stackprobe.terraform.mirror import resolve_provider_source
from stackprobe.terraform.reads import file_reads
from stackprobe.terraform.workspace import Workspace, WorkspaceError, create_workspace

pytestmark = pytest.mark.harness

ENDPOINT = "http://127.0.0.1:5555"  # never called: nothing here reaches the emulator
ZIP = b"PK\x05\x06" + b"\0" * 18  # an empty zip archive
HEALTHCHECK = """
output "hash" {
  description = "The Lambda package's hash, as a function's source_code_hash would take it."
  value       = filebase64sha256("${path.root}/../lambda-healthcheck/handler.zip")
}
"""


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _copy(source: Path, parent: Path, include: tuple[Path, ...] = ()) -> Workspace:
    return create_workspace(source, parent, endpoint=ENDPOINT, access_key="test", secret_key="test", include=include)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """infra/ is the root; its module modules/healthcheck reads a zip beside infra/, as the real case did."""
    root = tmp_path / "repo"
    _write(root / "infra" / "main.tf", 'module "hc" { source = "./modules/healthcheck" }\n')
    _write(root / "infra" / "outputs.tf", 'output "hash" { value = module.hc.hash }\n')
    _write(root / "infra" / "modules" / "healthcheck" / "main.tf", HEALTHCHECK)
    _write(root / "lambda-healthcheck" / "handler.zip", ZIP)
    _write(root / "unrelated" / "big.bin", b"not read by the configuration")
    return root


def test_a_zip_read_above_the_root_is_brought_and_terraform_resolves_it(repo: Path, tmp_path: Path) -> None:
    """A real `terraform plan` in the copy (no resources: the emulator is never called) computes the hash."""
    workspace = _copy(repo / "infra", tmp_path / "ws")

    assert workspace.module_dir == workspace.root / "infra"
    assert (workspace.root / "lambda-healthcheck" / "handler.zip").read_bytes() == ZIP
    assert not (workspace.root / "unrelated").exists(), "only what the configuration reads is brought"
    config = _write(tmp_path / "cli.tfrc", resolve_provider_source().cli_config())
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    binary = find_binary().path
    for command in (["init", "-backend=false"], ["plan"]):
        done = subprocess.run(
            [binary, *command, "-input=false", "-no-color"],
            cwd=workspace.module_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"terraform {command[0]} in {workspace.module_dir}:\n{done.stdout}{done.stderr}"
    assert base64.b64encode(hashlib.sha256(ZIP).digest()).decode() in done.stdout


def test_a_directory_read_through_a_variable_comes_with_include(tmp_path: Path) -> None:
    """`file("${var.dir}/...")` cannot be resolved by reading: no error, nothing brought, until --include names it."""
    root = tmp_path / "repo"
    _write(
        root / "stack" / "main.tf",
        'variable "policies" { default = "../shared/policies" }\n'
        'output "read" { value = file("${var.policies}/read.json") }\n',
    )
    _write(root / "shared" / "policies" / "read.json", "{}")

    without = _copy(root / "stack", tmp_path / "without")
    with_include = _copy(root / "stack", tmp_path / "with", include=(root / "shared" / "policies",))

    assert not (without.module_dir / "../shared").exists()
    assert (with_include.module_dir / "../shared/policies/read.json").read_text() == "{}"
    assert with_include.module_dir == with_include.root / "stack", "the common root rose to hold shared/"


def test_a_missing_file_names_the_expression_the_path_and_include(repo: Path, tmp_path: Path) -> None:
    (repo / "lambda-healthcheck" / "handler.zip").unlink()

    with pytest.raises(WorkspaceError) as missing:
        _copy(repo / "infra", tmp_path / "ws")

    message = str(missing.value)
    where = repo / "infra" / "modules" / "healthcheck" / "main.tf"
    assert f"{where}:4: `filebase64sha256(" in message, "the attribute's line, not the block's"
    assert f"reads {repo / 'lambda-healthcheck' / 'handler.zip'}, which does not exist" in message
    assert "--include PATH" in message


def test_an_include_that_does_not_exist_is_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=f"--include {tmp_path / 'nope'} does not exist"):
        _copy(repo / "infra", tmp_path / "ws", include=(tmp_path / "nope",))


def test_the_cli_exits_2_naming_an_include_that_does_not_exist(repo: Path, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_", "TF_VAR_"))}
    environ["STACKPROBE_CACHE_DIR"] = str(tmp_path / "cache")
    command = [sys.executable, "-m", "stackprobe", "verify", str(repo / "infra"), "--include", str(tmp_path / "nope")]
    done = subprocess.run(
        [*command, "--quiet", "--format", "json"], capture_output=True, text=True, timeout=300, env=environ, check=False
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--include {tmp_path / 'nope'} does not exist" in "\n".join(json.loads(done.stdout)["errors"])


def test_the_digest_follows_a_brought_file_and_an_included_one(repo: Path, tmp_path: Path) -> None:
    """A changed zip must change the digest, or a live session would not apply it and a stored plan would
    be read for a configuration that changed."""
    _write(repo / "notes" / "template.md", "read through --include")
    spec = StackSpec(tf_dir=repo / "infra", include=(repo / "notes",))
    backend = AwsBackend("moto", ENDPOINT, "eu-west-1", "123456789012")

    def digest() -> str:
        work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
        return PreparedStack(spec, backend, work, Preparation(RunSettings())).digest().configuration

    first = digest()
    assert digest() == first
    _write(repo / "lambda-healthcheck" / "handler.zip", ZIP + b"\0")
    second = digest()
    assert second != first
    _write(repo / "notes" / "template.md", "changed")
    assert digest() != second, "an included file counts whatever its name (a .md is otherwise left out)"
    _write(repo / "unrelated" / "big.bin", b"changed")
    assert digest() == digest()


def test_what_reading_finds_and_what_it_leaves(tmp_path: Path) -> None:
    """Calls nested in templates and heredocs are found; a read terraform may never evaluate (guarded, in a
    block repeated by count or for_each, in a module called that way) is brought but not required; what
    needs evaluating (a variable, a local) and absolute paths are left alone."""
    module = tmp_path / "root"
    _write(module / "maybe" / "main.tf", 'output "x" { value = file("${path.module}/inside.txt") }\n')
    _write(
        module / "main.tf",
        """
locals {
  policy = jsonencode({ url = "https://x/${file("a.txt")}" })
  script = <<-EOT
    // a comment in a script is text, not HCL: ${templatefile("${path.module}/t.tpl", { x = 1 })}
  EOT
  maybe  = fileexists("${path.module}/b.txt") ? file("${path.module}/b.txt") : ""
  dir    = "${path.cwd}/../site"
  skip   = [file(var.x), file("/etc/hostname"), file("~/.ssh/id.pub"), each.file("c")]
}
data "archive_file" "lambda" {
  type        = "zip"
  source_dir  = "../src"
  output_path = "${path.module}/build/lambda.zip"
}
resource "aws_lambda_function" "optional" {
  count            = var.create ? 1 : 0
  source_code_hash = filebase64sha256("${path.module}/optional.zip")
}
module "maybe" {
  source   = "./maybe"
  for_each = toset([])
}
""",
    )

    found: dict[str, tuple[bool, int | None]] = {}
    # A path named twice is required if either read requires it.
    for read in file_reads(read_tree(module), module.resolve()):
        required, _ = found.get(read.path.relative_to(tmp_path).as_posix(), (False, None))
        found[read.path.relative_to(tmp_path).as_posix()] = (required or read.required, read.line)

    assert found == {
        "root/a.txt": (True, 3),
        "root/t.tpl": (True, 5),
        "root/b.txt": (False, 7),
        "site": (False, 8),
        "src": (True, 13),
        "root/build/lambda.zip": (False, 14),
        "root/optional.zip": (False, 18),
        "root/maybe/inside.txt": (False, 1),
    }
