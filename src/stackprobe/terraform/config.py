"""Read just enough of a Terraform configuration to prepare it: providers, aliases, backend, modules.

python-hcl2 parses the files; when it cannot (it lags behind Terraform's grammar now and then), a
conservative regular-expression scan takes over for the few facts needed here. Terraform itself
remains the judge of validity: a file neither can read is left for `terraform init` to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

AWS_SOURCE = "hashicorp/aws"


@dataclass
class ModuleConfig:
    """Facts about one directory of .tf files."""

    directory: Path
    aws_local_names: set[str] = field(default_factory=lambda: {"aws"})
    provider_aliases: dict[str, list[str | None]] = field(default_factory=dict)
    has_backend: bool = False
    has_cloud_block: bool = False
    local_module_sources: list[str] = field(default_factory=list)
    variables_without_default: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)

    def aws_provider_blocks(self) -> list[tuple[str, str | None]]:
        """(local name, alias) for every AWS provider block declared in this directory."""
        return [
            (name, alias)
            for name, aliases in self.provider_aliases.items()
            if name in self.aws_local_names
            for alias in aliases
        ]


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@lru_cache(maxsize=1024)
def _parsed(text: str) -> dict[str, Any]:
    """python-hcl2's reading of one file, by content: parsing is slow (a grammar-driven parser), and the
    suite prepares the same reference files for every stack, mutant batch and audit."""
    document: dict[str, Any] = hcl2.loads(text)
    return document


def _parse_hcl(path: Path, module: ModuleConfig) -> None:
    # Read-only below: the cached document is shared by every later reader of the same text.
    document = _parsed(path.read_text(encoding="utf-8"))
    for terraform_block in document.get("terraform", []):
        for required in terraform_block.get("required_providers", []):
            for local_name, spec in required.items():
                if isinstance(spec, dict) and AWS_SOURCE in str(_unquote(spec.get("source", ""))).lower():
                    module.aws_local_names.add(local_name)
        module.has_backend |= bool(terraform_block.get("backend"))
        module.has_cloud_block |= bool(terraform_block.get("cloud"))
    for provider in document.get("provider", []):
        for name, body in provider.items():
            alias = _unquote(body.get("alias")) if isinstance(body, dict) else None
            module.provider_aliases.setdefault(_unquote(name), []).append(alias)
    for block in document.get("module", []):
        for body in block.values():
            source = str(_unquote(body.get("source", "")))
            if source.startswith(("./", "../")):
                module.local_module_sources.append(source)
    for block in document.get("variable", []):
        for name, body in block.items():
            if isinstance(body, dict) and "default" not in body:
                module.variables_without_default.append(_unquote(name))


_PROVIDER_RE = re.compile(r'^\s*provider\s+"?([\w-]+)"?\s*\{', re.MULTILINE)
_ALIAS_RE = re.compile(r'^\s*alias\s*=\s*"([^"]+)"', re.MULTILINE)
_BACKEND_RE = re.compile(r'^\s*backend\s+"[\w-]+"\s*\{', re.MULTILINE)
_MODULE_SOURCE_RE = re.compile(r'^\s*source\s*=\s*"(\.\.?/[^"]*)"', re.MULTILINE)


def _scan_text(path: Path, module: ModuleConfig) -> None:
    """Fallback reader: finds provider blocks (with the alias inside their braces), backends, modules."""
    text = path.read_text(encoding="utf-8", errors="replace")
    for match in _PROVIDER_RE.finditer(text):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        alias = _ALIAS_RE.search(text[match.end() : end])
        module.provider_aliases.setdefault(match.group(1), []).append(alias.group(1) if alias else None)
    module.has_backend |= bool(_BACKEND_RE.search(text))
    module.local_module_sources += _MODULE_SOURCE_RE.findall(text)


def read_module(directory: Path) -> ModuleConfig:
    module = ModuleConfig(directory=directory)
    for path in sorted(directory.glob("*.tf")):
        if path.name.endswith("_override.tf") or path.name == "override.tf":
            continue
        try:
            _parse_hcl(path, module)
        except Exception as exc:  # python-hcl2 raises lark errors of many kinds
            module.parse_errors.append(f"{path.name}: {type(exc).__name__}")
            _scan_text(path, module)
    return module


def read_tree(root: Path) -> dict[Path, ModuleConfig]:
    """The root module and every local module it calls, transitively, keyed by resolved directory."""
    found: dict[Path, ModuleConfig] = {}
    pending = [root.resolve()]
    while pending:
        directory = pending.pop()
        if directory in found or not directory.is_dir():
            continue
        module = read_module(directory)
        found[directory] = module
        pending += [(directory / source).resolve() for source in module.local_module_sources]
    return found
