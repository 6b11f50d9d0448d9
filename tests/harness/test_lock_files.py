"""`terraform init` against the machine's provider mirror: committed lock files, constraints, broken files.

Real init, no apply (each init costs about 2 s): a lock file recorded on another platform is retried once
without its checksums and says so; a locked version or a constraint the mirror cannot supply fails with the
versions the mirror holds and the remedy; a syntax error names the user's file and line, each diagnostic once.
Rerun: .venv/bin/pytest tests/harness/test_lock_files.py -q -p no:randomly
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackprobe.backends.base import AwsBackend
from stackprobe.errors import TerraformFailed
from stackprobe.terraform.binary import find_binary
from stackprobe.terraform.init_failure import (
    error_diagnostics,
    lock_checksum_mismatches,
    locked_versions,
    without_hashes,
)
from stackprobe.terraform.mirror import ProviderSource, resolve_provider_source
from stackprobe.terraform.runner import TerraformRunner
from stackprobe.terraform.workspace import create_workspace

pytestmark = pytest.mark.harness

BACKEND = AwsBackend(name="moto", endpoint="http://127.0.0.1:1", region="eu-west-1", account_id="123456789012")
# A laptop's single checksum (darwin_arm64's h1 of some release): it can never match a linux mirror package.
LAPTOP_HASH = "h1:Ijt7pOlB7Tr7maGQIqtsLFbl7pSMIj06TVdkoSBcYOw="
VERSIONS_TF = """
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "%s"
    }
  }
}
"""


def _lock(version: str, constraint: str, *hashes: str) -> str:
    listed = "".join(f'    "{h}",\n' for h in hashes)
    return (
        '# This file is maintained automatically by "terraform init".\n\n'
        'provider "registry.terraform.io/hashicorp/aws" {\n'
        f'  version     = "{version}"\n  constraints = "{constraint}"\n'
        + (f"  hashes = [\n{listed}  ]\n" if hashes else "")
        + "}\n"
    )


@pytest.fixture
def mirror() -> ProviderSource:
    source = resolve_provider_source()
    if source.mirror is None:
        pytest.skip("no filesystem provider mirror on this machine: these tests are about one")
    return source


@pytest.fixture
def mirrored_aws_version(mirror: ProviderSource) -> str:
    versions = list(mirror.versions("hashicorp/aws"))
    assert versions, f"the mirror {mirror.mirror} holds no hashicorp/aws"
    return versions[-1]


def _runner(source_dir: Path, work: Path, cache: Path, mirror: ProviderSource) -> TerraformRunner:
    workspace = create_workspace(source_dir, work, endpoint=BACKEND.endpoint, access_key="test", secret_key="test")
    return TerraformRunner(workspace, find_binary(), BACKEND, mirror, cache)


def _inits(runner: TerraformRunner) -> int:
    return sum(1 for record in runner.transcript.commands if record.args[0] == "init")


def test_a_lock_file_from_another_platform_is_retried_without_its_checksums(
    tmp_path: Path, mirror: ProviderSource, mirrored_aws_version: str
) -> None:
    source = tmp_path / "stack"
    source.mkdir()
    (source / "versions.tf").write_text(VERSIONS_TF % "~> 5.0")
    committed = _lock(mirrored_aws_version, "~> 5.0", LAPTOP_HASH)
    (source / ".terraform.lock.hcl").write_text(committed)

    runner = _runner(source, tmp_path / "work", tmp_path / "cache", mirror)
    runner.init()

    assert _inits(runner) == 2, "one failed init, one retry"
    [note] = runner.init_notes
    assert f"hashicorp/aws {mirrored_aws_version} package" in note
    assert "recorded on another platform" in note and "retried without them" in note
    assert f"terraform providers lock -fs-mirror={mirror.mirror}" in note
    assert (source / ".terraform.lock.hcl").read_text() == committed, "the user's lock file was changed"
    retried = locked_versions((runner.workspace.module_dir / ".terraform.lock.hcl").read_text())
    assert list(retried.values()) == [mirrored_aws_version]
    assert LAPTOP_HASH not in (runner.workspace.module_dir / ".terraform.lock.hcl").read_text()

    # The same configuration again, in a workspace of its own: initialised afresh (its modules are local, so
    # nothing is cached), retried again, and the note comes with it again.
    again = _runner(source, tmp_path / "again", tmp_path / "cache", mirror)
    again.init()
    assert again.init_notes == runner.init_notes
    assert not (tmp_path / "cache" / "init").exists(), "an init with only local modules was cached"


def test_a_lock_file_selecting_a_version_the_mirror_lacks_fails_with_the_remedy(
    tmp_path: Path, mirror: ProviderSource, mirrored_aws_version: str
) -> None:
    source = tmp_path / "stack"
    source.mkdir()
    (source / "versions.tf").write_text(VERSIONS_TF % "~> 5.0")
    (source / ".terraform.lock.hcl").write_text(_lock("5.31.0", "~> 5.0", LAPTOP_HASH))

    runner = _runner(source, tmp_path / "work", tmp_path / "cache", mirror)
    with pytest.raises(TerraformFailed) as failure:
        runner.init()

    message = str(failure.value)
    assert "selects hashicorp/aws 5.31.0" in message, message
    assert f"holds {mirrored_aws_version} (" in message, message
    assert "terraform providers mirror -platform=" in message and 'version = "5.31.0"' in message, message
    assert 'remove the `provider "registry.terraform.io/hashicorp/aws"` block' in message, message
    assert _inits(runner) == 1, "a different version must not be retried"
    assert runner.init_notes == []


def test_a_constraint_the_mirror_cannot_satisfy_names_the_versions_it_holds(
    tmp_path: Path, mirror: ProviderSource, mirrored_aws_version: str
) -> None:
    source = tmp_path / "stack"
    source.mkdir()
    (source / "versions.tf").write_text(VERSIONS_TF % "~> 3.0")

    runner = _runner(source, tmp_path / "work", tmp_path / "cache", mirror)
    with pytest.raises(TerraformFailed) as failure:
        runner.init()

    error = failure.value
    assert error.problem == (
        f"No version of hashicorp/aws in the provider mirror {mirror.mirror} satisfies `~> 3.0`: "
        f"it holds {mirrored_aws_version} ({', '.join(mirror.versions('hashicorp/aws')[mirrored_aws_version])})"
    )
    assert f'{source} requires aws version "~> 3.0"' in error.detail
    assert "change the constraint" in error.remedy and "terraform providers mirror -platform=" in error.remedy
    assert "no available releases match the given constraints ~> 3.0" in error.output


def test_a_syntax_error_names_the_users_file_and_line_once(tmp_path: Path, mirror: ProviderSource) -> None:
    source = tmp_path / "stack"
    (source / "modules" / "net").mkdir(parents=True)
    (source / "main.tf").write_text('module "net" {\n  source = "./modules/net"\n}\n')
    (source / "vars.tf").write_text('variable "name" {\n  default = "abc\n}\n')
    (source / "modules" / "net" / "main.tf").write_text('resource "aws_vpc" "v" { cidr_block = "10.0.0.0/16" }\n')

    runner = _runner(source, tmp_path / "work", tmp_path / "cache", mirror)
    with pytest.raises(TerraformFailed) as failure:
        runner.init()

    error = failure.value
    assert error.problem.endswith(f"({source / 'vars.tf'} line 2)"), error.problem
    assert "Unreadable module directory" not in error.output
    # Verbatim: the location line and the source excerpt keep terraform's indentation.
    assert '\n  on vars.tf line 2, in variable "name":\n   2:   default = "abc\n' in error.detail, error.detail
    assert error.detail.count("Error: Unterminated template string") == 1


# -- the pieces, without terraform -----------------------------------------------------------------------

CHECKSUM_FAILURE = """Initializing provider plugins...
- Reusing previous version of hashicorp/aws from the dependency lock file

Error: Failed to install provider

Error while installing hashicorp/aws v5.100.0: the local package for
registry.terraform.io/hashicorp/aws 5.100.0 doesn't match any of the
checksums previously recorded in the dependency lock file (this might be
because the available checksums are for packages targeting different
platforms); for more information:
https://developer.hashicorp.com/terraform/language/files/dependency-lock#checksum-verification
"""


def test_a_registry_package_that_does_not_match_is_never_retried(tmp_path: Path) -> None:
    """From the registry, a checksum mismatch is what the lock file exists to stop."""
    lock = _lock("5.100.0", "~> 5.0", LAPTOP_HASH)
    assert lock_checksum_mismatches(CHECKSUM_FAILURE, lock, ProviderSource(mirror=None)) == {}


def test_a_mismatch_beside_another_error_is_not_retried(tmp_path: Path) -> None:
    (tmp_path / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64").mkdir(parents=True)
    source = ProviderSource(mirror=tmp_path, namespaces=("hashicorp",))
    lock = _lock("5.100.0", "~> 5.0", LAPTOP_HASH)
    assert lock_checksum_mismatches(CHECKSUM_FAILURE, lock, source) == {
        "registry.terraform.io/hashicorp/aws": "5.100.0"
    }
    other = CHECKSUM_FAILURE + "\nError: Unsupported block type\n\n  on main.tf line 3:\n   3: nope {\n"
    assert lock_checksum_mismatches(other, lock, source) == {}
    assert lock_checksum_mismatches(CHECKSUM_FAILURE, _lock("5.99.0", "~> 5.0", LAPTOP_HASH), source) == {}


def test_only_the_mismatching_providers_lose_their_hashes() -> None:
    random = 'provider "registry.terraform.io/hashicorp/random" {\n  version = "3.6.0"\n'
    random += '  hashes = [\n    "h1:keep",\n  ]\n}\n'
    lock = _lock("5.100.0", "~> 5.0", LAPTOP_HASH, "zh:00ff") + random
    stripped = without_hashes(lock, {"hashicorp/aws"})
    assert LAPTOP_HASH not in stripped and "zh:00ff" not in stripped
    assert '"h1:keep"' in stripped
    assert locked_versions(stripped) == locked_versions(lock)


def test_diagnostics_are_read_from_boxed_output_once_each() -> None:
    boxed = (
        '╷\n│ Error: Unsupported argument\n│ \n│   on main.tf line 4, in resource "aws_vpc" "v":\n'
        '│    4:   nope = 1\n│ \n│ An argument named "nope" is not expected here.\n╵\n'
    )
    [diagnostic] = error_diagnostics(boxed + boxed)
    assert (diagnostic.summary, diagnostic.file, diagnostic.line) == ("Unsupported argument", "main.tf", 4)
    assert diagnostic.text.splitlines()[3] == "   4:   nope = 1"


def test_the_init_cache_key_follows_a_provider_blocks_own_version(tmp_path: Path, mirror: ProviderSource) -> None:
    """A configuration that downloads modules reuses a cached init only when everything init reads is the same:
    the deprecated `version` argument of a provider block too (a pin edited once must not stick)."""
    source = tmp_path / "stack"
    source.mkdir()
    (source / "main.tf").write_text(
        'module "vpc" {\n  source = "terraform-aws-modules/vpc/aws"\n}\n\n'
        'provider "aws" {\n  region  = "eu-west-1"\n  version = "~> 3.0"\n}\n'
    )
    pinned = _runner(source, tmp_path / "one", tmp_path / "cache", mirror)
    (source / "main.tf").write_text((source / "main.tf").read_text().replace('"~> 3.0"', '"~> 5.0"'))
    edited = _runner(source, tmp_path / "two", tmp_path / "cache", mirror)

    assert pinned._downloads_modules() and edited._downloads_modules()
    assert pinned._init_key() != edited._init_key()
