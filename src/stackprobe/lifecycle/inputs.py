"""The root module's required variables, checked before anything is applied.

Terraform asks for a variable with no default only when it plans; by then a run may have applied a
prerequisites configuration and created stand-ins, all for a stack that could never plan. This reads the
configuration instead: every `variable` of the root module without a `default`, against what the run gives
it (var files, `*.auto.tfvars` and `terraform.tfvars` beside the configuration, -var values, `TF_VAR_`
environment variables, and the outputs a prerequisites configuration declares), and names each one missing
with the file and line that declares it and the exact line that would give it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stackprobe.errors import StackprobeError
from stackprobe.settings import StackSpec
from stackprobe.terraform.config import configuration_files, parse_body, read_blocks


@dataclass(frozen=True)
class Declared:
    """A root-module variable with no default: terraform will ask for it."""

    name: str
    path: Path
    line: int | None


class MissingVariables(StackprobeError):
    """The root module requires variables the run gives no value for."""


def required_variables(tf_dir: Path) -> list[Declared]:
    """Variables of the root module at `tf_dir` that have no default, in file order."""
    found = []
    for path in configuration_files(tf_dir):
        for block in read_blocks(path):
            if block.type == "variable" and block.labels and "default" not in block.attributes:
                found.append(Declared(block.labels[0], path, block.line))
    return found


def _assigned_in(path: Path) -> set[str]:
    return set(parse_body(path.read_text(encoding="utf-8", errors="replace")).attributes) if path.is_file() else set()


def declared_outputs(tf_dir: Path) -> set[str]:
    """The names of the outputs a root module declares (read from its files; no terraform)."""
    return {
        block.labels[0]
        for path in configuration_files(tf_dir)
        for block in read_blocks(path)
        if block.type == "output" and block.labels
    }


def given_variables(spec: StackSpec, environ: Mapping[str, str]) -> set[str]:
    """The names the run gives a value: var files (the spec's, then terraform's automatic ones), -var,
    TF_VAR_ environment variables, and the outputs of the prerequisites configuration."""
    automatic: Iterable[Path] = [spec.tf_dir / "terraform.tfvars", *sorted(spec.tf_dir.glob("*.auto.tfvars"))]
    given = {name for path in [*spec.var_files, *automatic] for name in _assigned_in(path)}
    given |= {name for name, _ in spec.variables}
    given |= {key.removeprefix("TF_VAR_") for key in environ if key.startswith("TF_VAR_")}
    if spec.prerequisites is not None:
        given |= declared_outputs(spec.prerequisites.tf_dir)
    return given


def check_required_variables(spec: StackSpec, environ: Mapping[str, str] | None = None) -> None:
    """Raise MissingVariables naming each required variable the run does not give (see the module docstring)."""
    given = given_variables(spec, os.environ if environ is None else environ)
    missing = [declared for declared in required_variables(spec.tf_dir) if declared.name not in given]
    if not missing:
        return
    where = "; ".join(
        f"{d.name} (declared at {d.path.name}:{d.line})" if d.line else f"{d.name} ({d.path.name})" for d in missing
    )
    cli = " ".join(f"--var {d.name}=VALUE" for d in missing)
    ini = ", ".join(f'"{d.name}=VALUE"' for d in missing)
    files = ", ".join(str(p) for p in spec.var_files) or "none"
    raise MissingVariables(
        f"{spec.name} requires {len(missing)} variable(s) the run gives no value for: {where}",
        f"give them on the command line ({cli}), in the pytest configuration (stackprobe_vars = [{ini}]), or in a "
        f"var file (--var-file; given now: {files}).",
    )
