"""An isolated copy of the configuration under test, with the emulator wired in by override files.

Nothing is ever written into the user's directory. The copy keeps the relative layout between the
root and every local module it calls (so `source = "../modules/x"` still resolves), skips state,
`.terraform` and unrelated Terraform roots. It also brings what the configuration reads from outside
those directories (`filebase64sha256("${path.root}/../lambda/x.zip")`: see stackprobe.terraform.reads)
and what `--include` names, at the same place relative to the same common root, so the same expressions
resolve in the copy; a file an expression reads that does not exist is reported here, before init, with
the expression's file and line. Then the copy gets two kinds of generated files. Which modules are
called, and where the provider blocks are, comes from `stackprobe.terraform.config`, which reads HCL
itself and so gives the same answer whichever `hcl2` package is installed (checkov's fork included):
- `stackprobe_override.tf` next to every AWS provider block (the trick `tflocal` uses): dummy
  credentials, skip flags, path-style S3, few retries, loopback endpoints. Override files merge into
  the original blocks, so the stack keeps its production provider block, aliases included;
- a `backend "local"` override when the root declares a remote backend, so state stays in the copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stackprobe.errors import StackprobeError
from stackprobe.terraform.config import ModuleConfig, configuration_files, read_tree
from stackprobe.terraform.reads import file_reads

OVERRIDE_NAME = "stackprobe_override.tf"
PROVIDER_NAME = "stackprobe_provider.tf"
# Pins of provider versions the mirror holds, written by init with --provider-fallback
# (stackprobe.terraform.fallback); its name starts like the others so a copy never takes one from the user's tree.
PINS_NAME = "stackprobe_versions_override.tf"
SKIPPED_NAMES = {".terraform", ".git", ".tftest-cache", "__pycache__", ".venv", "node_modules"}
SKIPPED_SUFFIXES = (".tfstate", ".tfstate.backup", ".tfplan")
# The provider retries an unimplemented call (HTTP 500/501) for ten minutes or more by default; two
# retries turn an emulator gap into an error within seconds.
EMULATOR_MAX_RETRIES = 2
# Services whose endpoints are written explicitly. Writing any `endpoints` block replaces a user's
# own block entirely (override semantics for nested blocks); every other service then follows the
# global AWS_ENDPOINT_URL the runner sets, which the guard checks is loopback.
EXPLICIT_ENDPOINTS = ("sts", "iam", "s3")


class WorkspaceError(StackprobeError):
    """The configuration directory cannot be prepared."""


@dataclass
class Workspace:
    """Where terraform runs: `module_dir` inside a private copy rooted at `root`."""

    source_dir: Path
    root: Path
    module_dir: Path
    modules: dict[Path, ModuleConfig] = field(default_factory=dict)
    generated: list[Path] = field(default_factory=list)
    # Files the configuration's expressions read, directories brought for them, and what --include
    # brought, as paths in the copy: the digest counts the files there whatever their names (a template
    # may well be a `.md`).
    reads: list[Path] = field(default_factory=list)

    @property
    def state_path(self) -> Path:
        return self.module_dir / "terraform.tfstate"


def _common_root(directories: list[Path]) -> Path:
    return Path(os.path.commonpath([str(d) for d in directories]))


def _copy_tree(source: Path, target: Path, needed: set[Path]) -> None:
    """Copy `source` to `target`, skipping runtime files and sub-directories that are other roots."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name in SKIPPED_NAMES or entry.name.endswith(SKIPPED_SUFFIXES):
            continue
        if entry.name.endswith("_override.tf") and entry.name.startswith("stackprobe"):
            continue
        destination = target / entry.name
        if entry.is_dir():
            resolved = entry.resolve()
            # A sub-directory holding .tf files that the root never calls is another configuration
            # (e.g. legacy/ next to modules/): copying it is waste and can confuse readers of the copy.
            if configuration_files(resolved) and resolved not in needed:
                continue
            _copy_tree(entry, destination, needed)
        elif entry.is_file():
            shutil.copy2(entry, destination)


def provider_override(local_name: str, alias: str | None, endpoint: str, *, access_key: str, secret_key: str) -> str:
    lines = [f'provider "{local_name}" {{']
    if alias:
        lines.append(f'  alias                       = "{alias}"')
    lines += [
        f'  access_key                  = "{access_key}"',
        f'  secret_key                  = "{secret_key}"',
        "  token                       = null",
        "  profile                     = null",
        "  shared_config_files         = null",
        "  shared_credentials_files    = null",
        "  allowed_account_ids         = null",
        "  forbidden_account_ids       = null",
        "  skip_credentials_validation = true",
        "  skip_metadata_api_check     = true",
        "  skip_region_validation      = true",
        # false on purpose: moto answers GetCallerIdentity, and a real account id keeps ARNs and
        # security-group references stable between plans.
        "  skip_requesting_account_id  = false",
        "  s3_use_path_style           = true",
        "  use_fips_endpoint           = false",
        "  use_dualstack_endpoint      = false",
        f"  max_retries                 = {EMULATOR_MAX_RETRIES}",
        "  endpoints {",
        *[f'    {service} = "{endpoint}"' for service in EXPLICIT_ENDPOINTS],
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


HEADER = "# Generated by stackprobe for a run against a local AWS emulator. Never commit this file.\n"


def _included(include: Sequence[Path]) -> list[Path]:
    """The --include paths, absolute; one that does not exist is refused (a typo would otherwise surface as
    terraform's error about a file it cannot read)."""
    included = [Path(os.path.abspath(path.expanduser())) for path in include]
    for path in included:
        if not path.exists():
            raise WorkspaceError(
                f"--include {path} does not exist",
                "name an existing file or directory the configuration reads (a relative path is taken from the "
                "current directory, or from the ini file's for `stackprobe_include`), or drop it.",
            )
    return included


def _existing_reads(modules: Sequence[Path], source_dir: Path) -> list[Path]:
    """What the configuration's expressions read that exists; a missing file terraform would stop on is an
    error now, before init, where the expression and the resolved path can still be named together."""
    reads = file_reads(modules, source_dir)
    for read in reads:
        if read.required and not read.path.exists():
            raise WorkspaceError(
                f"{read.where}: `{read.written}` reads {read.path}, which does not exist",
                "make it before the run (terraform stops on it too; a zip is usually made by a build step): "
                "stackprobe then brings it into its copy at the same relative place. A file the configuration "
                "finds through a variable or a local is not seen by reading it: bring it with `--include PATH` "
                "(ini `stackprobe_include`).",
            )
    return sorted({read.path for read in reads if read.path.exists()})


def _bring(source: Path, target: Path, needed: set[Path]) -> None:
    if source.is_dir():
        _copy_tree(source, target, needed)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _bring_reads(reads: list[Path], root: Path, common: Path, needed: set[Path]) -> list[Path]:
    """Copy what is read from outside the copied directories. Returns what the digest counts whatever its
    name: every file read, and each directory brought; a directory read inside the copy
    (`fileset(path.module, "*.json")`) counts as its module's files do, test tooling excluded."""
    counted = []
    for path in reads:
        target = root / path.relative_to(common)
        if not target.exists():
            _bring(path, target, needed)
        elif target.is_dir():
            continue
        counted.append(target)
    return counted


def create_workspace(
    source_dir: Path,
    parent: Path,
    *,
    endpoint: str,
    access_key: str,
    secret_key: str,
    include: Sequence[Path] = (),
) -> Workspace:
    """Copy `source_dir` (the local modules it calls, what they read and what `include` names) under
    `parent`, then write the overrides."""
    source_dir = source_dir.expanduser().resolve()
    if not source_dir.is_dir():
        raise WorkspaceError(
            f"The Terraform directory {source_dir} does not exist",
            "pass the directory that holds your root module's .tf files (e.g. `stackprobe verify terraform/`).",
        )
    if not configuration_files(source_dir):
        raise WorkspaceError(
            f"The directory {source_dir} holds no .tf files",
            "pass the directory of the root module (the one you run `terraform plan` in).",
        )
    modules = read_tree(source_dir)
    included = _included(include)
    reads = _existing_reads(list(modules), source_dir)
    # The common root rises above the configuration when it reads (or --include names) something above it.
    common = _common_root([*modules, *reads, *included])
    root = parent / "src"
    if root.exists():
        shutil.rmtree(root)
    needed = set(modules)
    # Copy each top-most needed directory once; nested ones come along with their parent.
    for directory in sorted(modules, key=lambda d: len(d.parts)):
        if any(directory != other and other in directory.parents for other in needed):
            continue
        _copy_tree(directory, root / directory.relative_to(common), needed)
    counted = _bring_reads(reads, root, common, needed)
    for path in included:
        _bring(path, root / path.relative_to(common), needed)
    workspace = Workspace(
        source_dir=source_dir,
        root=root,
        module_dir=root / source_dir.relative_to(common),
        modules={root / d.relative_to(common): m for d, m in modules.items()},
        reads=[*counted, *(root / path.relative_to(common) for path in included)],
    )
    write_overrides(workspace, endpoint=endpoint, access_key=access_key, secret_key=secret_key)
    return workspace


def write_overrides(workspace: Workspace, *, endpoint: str, access_key: str, secret_key: str) -> None:
    """(Re)write the generated files; called again when the emulator endpoint changes."""
    for path in workspace.generated:
        path.unlink(missing_ok=True)
    workspace.generated = []
    for directory, module in workspace.modules.items():
        blocks = module.aws_provider_blocks()
        is_root = directory == workspace.module_dir
        if blocks:
            text = "".join(
                provider_override(name, alias, endpoint, access_key=access_key, secret_key=secret_key)
                for name, alias in blocks
            )
            path = directory / OVERRIDE_NAME
        elif is_root:
            # No provider block to override: an override of a block that does not exist is an error,
            # so the root gets an ordinary provider file instead (the implicit default provider).
            name = "aws" if "aws" in module.aws_local_names else sorted(module.aws_local_names)[0]
            text = provider_override(name, None, endpoint, access_key=access_key, secret_key=secret_key)
            path = directory / PROVIDER_NAME
        else:
            continue
        if is_root and (module.has_backend or module.has_cloud_block):
            text += 'terraform {\n  backend "local" {}\n}\n'
        path.write_text(HEADER + text, encoding="utf-8")
        workspace.generated.append(path)
