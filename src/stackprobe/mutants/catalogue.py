"""The mutant catalogue: single, realistic defects to plant in a configuration (data only).

A mutant is files to drop into the workspace (an `*_override.tf` merges into existing blocks; any other
`.tf` file adds resources) and/or variable values. It names the checks expected to kill it. A mutant
with `plan_error` is expected to be refused by Terraform itself (a variable validation or a
precondition) before anything is applied; the text is the error that proves it. A mutant marked
`planned_only` is one AWS refuses to apply (and so does the emulator, patched to refuse it too): it is
planned on the deployed stack, never applied, and its killers, plan-level checks, read that plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackprobe.errors import StackprobeError

TERRAFORM_KILLER = "terraform"


@dataclass(frozen=True)
class Mutant:
    id: str
    description: str
    killers: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()
    variables: tuple[tuple[str, Any], ...] = ()
    plan_error: str = ""
    slow: bool = False
    planned_only: bool = False
    # Resource attributes the mutant changes (e.g. `module.storage.aws_s3_bucket_policy.this.policy`):
    # two mutants that change the same one cannot share a batch, whatever their files are called.
    changes: tuple[str, ...] = ()

    @property
    def plan_stage(self) -> bool:
        return bool(self.plan_error)

    def touches(self) -> set[str]:
        """What a batch must not share between mutants: files, variables, and killer checks."""
        return (
            {f"file:{path}" for path, _ in self.files}
            | {f"var:{name}" for name, _ in self.variables}
            | {f"check:{killer}" for killer in self.killers}
            | {f"change:{item}" for item in self.changes}
        )


@dataclass
class Catalogue:
    path: Path
    mutants: list[Mutant] = field(default_factory=list)

    def by_id(self, mutant_id: str) -> Mutant:
        for mutant in self.mutants:
            if mutant.id == mutant_id:
                return mutant
        raise KeyError(mutant_id)


def _mutant(entry: dict[str, Any], path: Path) -> Mutant:
    try:
        files = entry.get("files") or {}
        variables = entry.get("variables") or {}
        return Mutant(
            id=str(entry["id"]),
            description=" ".join(str(entry["description"]).split()),
            killers=tuple(entry.get("killers") or ([TERRAFORM_KILLER] if entry.get("plan_error") else [])),
            files=tuple((str(k), str(v)) for k, v in files.items()),
            # Kept as parsed: tftest passes maps and lists to -var as JSON, which Terraform accepts.
            variables=tuple((str(k), v) for k, v in variables.items()),
            plan_error=str(entry.get("plan_error") or ""),
            slow=bool(entry.get("slow", False)),
            planned_only=bool(entry.get("planned_only", False)),
            changes=tuple(str(c) for c in entry.get("changes") or ()),
        )
    except KeyError as exc:
        raise StackprobeError(
            f"Mutant entry in {path} lacks {exc}",
            "give every mutant an `id`, a `description` and `killers` (or a `plan_error`).",
        ) from exc


def load_catalogue(path: Path) -> Catalogue:
    if not path.is_file():
        raise StackprobeError(
            f"The mutant catalogue {path} does not exist",
            "pass --catalogue FILE (the reference stack's is terraform/mutants.yaml).",
        )
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    catalogue = Catalogue(path=path, mutants=[_mutant(e, path) for e in entries])
    ids = [m.id for m in catalogue.mutants]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise StackprobeError(f"Duplicate mutant ids in {path}: {', '.join(duplicates)}", "make every id unique.")
    return catalogue
