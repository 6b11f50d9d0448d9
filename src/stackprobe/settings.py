"""Run settings shared by the pytest plugin and the CLI, resolved once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from stackprobe.errors import StackprobeError

DEFAULT_REGION = "eu-west-1"
# Declared requirements of a configuration, beside its .tf files (see stackprobe.checks.requirements).
REQUIREMENTS_FILE = "stackprobe-requirements.yaml"


def default_cache_dir() -> Path:
    """Per-user cache: terraform init results, the plan store, live sessions ($STACKPROBE_CACHE_DIR overrides)."""
    override = os.environ.get("STACKPROBE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(base) / "stackprobe"


class Lifetime(StrEnum):
    """What becomes of the stack under test when the run ends."""

    EPHEMERAL = "ephemeral"  # destroyed, and the emulator proven to hold nothing it created
    KEEP = "keep"  # kept running in a new live session (--keep-stack)
    REUSE = "reuse"  # attached to its live session, or one is started; kept running (--reuse)


@dataclass
class RunSettings:
    """Everything a run needs besides the configuration itself."""

    backend: str = "moto"
    region: str = DEFAULT_REGION
    terraform_binary: str | None = None
    provider_mirror: str | None = None
    moto_port: int = 0
    endpoint: str | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    work_dir: Path | None = None
    apply_timeout: float = 1800.0
    parallelism: int = 10
    lifetime: Lifetime = Lifetime.EPHEMERAL
    # Where pre-apply plans are kept by digest (see stackprobe.plan_store); None: no plan store.
    plan_store: Path | None = None
    # Seconds without a request after which a live session's detached emulator stops itself (0: never).
    idle_ttl: float = 8 * 3600.0


@dataclass(frozen=True)
class CheckSettings:
    """How checks judge a deployed stack and probe it live, as the user configured it."""

    # Where local container commands run from (default: the Terraform directory).
    app_dir: Path | None = None
    # (container name, COMMAND or docker:IMAGE): how to run each container of the task definitions locally.
    container_commands: tuple[tuple[str, str], ...] = ()
    # production | staging | development, as declared; None decides from tags, variables and var files.
    environment: str | None = None
    # Names the subset when the stack is a backend's reduced variant (see stackprobe.testing.assert_check).
    reduced_stack: str | None = None


@dataclass(frozen=True)
class StackSpec:
    """A configuration to deploy: the directory, its variable files and -var values."""

    tf_dir: Path
    var_files: tuple[Path, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    # Applied just before destroy, e.g. a test-only switch that lifts deletion protection. Checks see
    # the stack exactly as configured; only teardown sees these.
    teardown_variables: tuple[tuple[str, str], ...] = ()
    # A configuration applied first, on the same emulator: what this one expects to exist already (an
    # existing VPC, a certificate, a hosted zone). Its outputs become this one's variables of the same
    # name (a -var the user gave wins); it is destroyed after this one.
    prerequisites: StackSpec | None = None

    @property
    def name(self) -> str:
        suffix = "+".join(p.stem for p in self.var_files)
        return f"{self.tf_dir.name}{'[' + suffix + ']' if suffix else ''}"

    def cli_arguments(self) -> str:
        """How to say this spec on the stackprobe command line (used in reproduce hints)."""
        parts = [str(self.tf_dir)]
        parts += [f"--var-file {p}" for p in self.var_files]
        parts += [f"--var {k}={v}" for k, v in self.variables]
        parts += [f"--teardown-var {k}={v}" for k, v in self.teardown_variables]
        if self.prerequisites is not None:
            parts.append(f"--prerequisites {self.prerequisites.tf_dir}")
        return " ".join(parts)


def load_requirements(tf_dir: Path) -> dict[str, Any]:
    """The configuration's declared requirements, or {} when it declares none."""
    path = tf_dir / REQUIREMENTS_FILE
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise StackprobeError(f"{path} is not a mapping", "write it as `name: value` lines.")
    return loaded
