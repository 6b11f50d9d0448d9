"""What a plan or a deployed stack depends on, as one digest: the configuration, its inputs, the tools.

Two things are decided by it without running terraform:
- a live session (`stackprobe up`, `--stackprobe-reuse`) is attached to as it is when its digest is
  unchanged, and updated by an incremental apply when it is not;
- a pre-apply plan is read from the plan store (`stackprobe.lifecycle.plan_store`) when one with the same digest
  was made before, by this run or an earlier one.

The configuration part hashes what the workspace copies (the root and every local module it calls, what
their expressions read from outside them and what `--include` brought, minus state and runtime files and
stackprobe's own generated overrides) except the test tooling and docs that often live beside it
(`tests/`, `pyproject.toml`, `conftest.py`, `*.md`: see `_counts`; a file the configuration reads counts
whatever its name), then the var files' contents and the -var values; teardown variables are not part of
it (they are applied only before destroy). The tool part names the terraform binary (path, size,
modification time), the provider mirror's packages, moto's version and stackprobe's own emulator-facing
code (its moto patches and the overrides it writes), so that upgrading any of them is a change. What the
digest cannot see is said in README: files read through variables or locals that `--include` does not
name, and emulator contents a test seeded before the plan.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from stackprobe.settings import StackSpec
from stackprobe.terraform.workspace import SKIPPED_NAMES, SKIPPED_SUFFIXES, Workspace

# stackprobe's own code that changes what terraform sees or what the emulator answers.
_EMULATOR_FACING = ("backends", "terraform")
# Test tooling that often lives beside the Terraform it tests (`stackprobe_tf_dir = "."`): editing a
# test must not count as changing the stack. Directories anywhere, files at any depth by name.
NOT_CONFIGURATION_DIRS = frozenset({"tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".github"})
NOT_CONFIGURATION_FILES = frozenset({"pyproject.toml", "conftest.py", "pytest.ini", "tox.ini", "setup.cfg"})
NOT_CONFIGURATION_SUFFIXES = (".md", ".pyc")


@dataclass(frozen=True)
class StackDigest:
    configuration: str
    tools: str

    @property
    def value(self) -> str:
        return hashlib.sha256(f"{self.configuration}|{self.tools}".encode()).hexdigest()[:32]

    def difference(self, earlier: StackDigest) -> str:
        """What changed since `earlier`, in words ("" when nothing did)."""
        changed = []
        if self.configuration != earlier.configuration:
            changed.append("the configuration or its variables")
        if self.tools != earlier.tools:
            changed.append("terraform, the provider, moto or stackprobe")
        return " and ".join(changed)


def configuration_files(workspace: Workspace) -> list[Path]:
    """Every file the workspace copied from the configuration (not its generated overrides), in order."""
    generated = {path.resolve() for path in workspace.generated}
    found = []
    for path in sorted(workspace.root.rglob("*")):
        relative = path.relative_to(workspace.root)
        if (
            path.is_file()
            and path.resolve() not in generated
            and not set(relative.parts) & SKIPPED_NAMES
            and not path.name.endswith(SKIPPED_SUFFIXES)
        ):
            found.append(path)
    return found


def configuration_digest(workspace: Workspace, spec: StackSpec) -> str:
    """The copied configuration's files, the var files' contents and the -var values, as one hash."""
    digest = hashlib.sha256()
    for path in configuration_files(workspace):
        relative = path.relative_to(workspace.root)
        if not _counts(relative) and not _is_read(path, workspace):
            continue
        digest.update(str(relative).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for var_file in spec.var_files:
        digest.update(var_file.name.encode() + b"\0")
        # A missing var file is reported by PreparedStack.workspace, with its remedy, not here.
        digest.update(var_file.read_bytes() if var_file.is_file() else b"\0missing")
    digest.update(json.dumps(list(spec.variables)).encode())
    return digest.hexdigest()[:32]


def _is_read(path: Path, workspace: Workspace) -> bool:
    return any(read == path or read in path.parents for read in workspace.reads)


def _counts(relative: Path) -> bool:
    """Whether a copied file can change what terraform does (test tooling and docs beside it cannot)."""
    return not (
        set(relative.parts[:-1]) & NOT_CONFIGURATION_DIRS
        or relative.name in NOT_CONFIGURATION_FILES
        or relative.name.endswith(NOT_CONFIGURATION_SUFFIXES)
    )


def tools_digest(binary: str | None, provider_mirror: Path | None) -> str:
    """terraform, the provider packages, moto and stackprobe's emulator-facing code, as one hash."""
    digest = hashlib.sha256()
    requested = binary or "terraform"
    path = requested if Path(requested).is_file() else shutil.which(requested)
    if path:
        stat = Path(path).resolve().stat()
        digest.update(f"terraform:{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    if provider_mirror is not None:
        for package in sorted(provider_mirror.rglob("*")):
            if package.is_file() or package.is_symlink():
                digest.update(f"{package.relative_to(provider_mirror)}:{package.stat().st_size}".encode())
    digest.update(f"moto:{_version('moto')}".encode())
    digest.update(_stackprobe_code().encode())
    return digest.hexdigest()[:32]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


@cache
def _stackprobe_code() -> str:
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(_version("stackprobe").encode())
    for part in _EMULATOR_FACING:
        for path in sorted((package / part).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()
