"""Where a Terraform address is declared: (root module directory, address) -> (file relative to the root, line).

Findings carry the Terraform address of what they judged (`module.database.aws_db_instance.this[0]`); a CI
annotation needs a file and a line. The declaring block is found among the top-level blocks that
stackprobe.terraform.config reads (the same reader as the workspace copy and the source checks): each
block's line, and each module call's literal `source`. Only real top-level blocks count, never text that
looks like one in a comment, a string, a heredoc or a nested block.

How an address resolves:
- instance keys (`[0]`, `["logs"]`) are dropped: every instance is declared by the same block;
- each `module.NAME` follows that call's `source` when it is a local path (`./`, `../`), as Terraform does,
  so a resource in a local child module is located in the child's own file;
- a module whose source is not local (registry, git, ...) is not on disk: what it declares is located at
  the module call, with a note;
- `.tf.json` files carry no line numbers the reader can give: a block there is located at line 1 of its
  file, with a note;
- an address that cannot be found, or a finding with no address, is located at the nearest enclosing module
  call that was found, else at the root module's main file, line 1, with a note saying why. A finding is
  never dropped for want of a location.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from stackprobe.terraform.config import Block, read_blocks

_NAME_AT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_LOCAL_SOURCE = ("./", "../")
# The top-level blocks an address can name.
_DECLARING = ("resource", "data", "module", "variable", "output", "provider")


@dataclass(frozen=True)
class Declaration:
    """One top-level block: `resource "T" "N"`, `data "T" "N"`, `module "M"` (with its `source`),
    `variable "V"`, `output "O"`, or `provider "P"` (with its `alias`, as `source`)."""

    kind: str
    labels: tuple[str, ...]
    path: Path
    line: int
    source: str | None = None
    # False for .tf.json, where `line` is 1 rather than the block's own line.
    line_known: bool = True


@dataclass(frozen=True)
class SourceLocation:
    """A file relative to the root module (POSIX separators; may start with `../` for a module outside it)
    and a 1-based line. `note` says why the location is not the block itself; None when it is."""

    path: str
    line: int
    note: str | None = None


@dataclass(frozen=True)
class Address:
    """A Terraform address without instance keys: the module path, then a resource (or nothing, for a module)."""

    modules: tuple[str, ...]
    # "resource", "data", "variable" (`var.V`), "output" (`output.O`), "provider" (`provider.P[.ALIAS]`),
    # or None for an address naming a module call
    mode: str | None
    type: str | None
    name: str | None


def _segments(address: str) -> list[str]:
    """Dot-separated names with their instance keys removed; a key may be a quoted string with dots in it."""
    names: list[str] = []
    i = 0
    while i < len(address):
        match = _NAME_AT.match(address, i)
        if match is None:
            raise ValueError(f"unexpected {address[i:]!r} in Terraform address {address!r}")
        names.append(match.group(0))
        i = match.end()
        if i < len(address) and address[i] == "[":
            i = _skip_key(address, i)
        if i < len(address):
            if address[i] != ".":
                raise ValueError(f"unexpected {address[i:]!r} in Terraform address {address!r}")
            i += 1
            if i == len(address):
                raise ValueError(f"Terraform address {address!r} ends with a dot")
    return names


def _skip_key(address: str, start: int) -> int:
    """The index just past an instance key `[0]` or `["a.b"]` that starts at `start`."""
    i = start + 1
    if i < len(address) and address[i] == '"':
        i += 1
        while i < len(address) and address[i] != '"':
            i += 2 if address[i] == "\\" else 1
        i += 1
    else:
        while i < len(address) and address[i].isdigit():
            i += 1
    if i >= len(address) or address[i] != "]":
        raise ValueError(f"unterminated instance key in Terraform address {address!r}")
    return i + 1


def parse_address(address: str) -> Address:
    """`module.a["x"].module.b.data.aws_iam_policy_document.p[0]` -> modules (a, b), data, type, name."""
    names = _segments(address.strip())
    modules: list[str] = []
    i = 0
    while i < len(names) and names[i] == "module":
        if i + 1 >= len(names):
            raise ValueError(f"Terraform address {address!r} ends after `module`")
        modules.append(names[i + 1])
        i += 2
    rest = names[i:]
    if not rest and modules:
        return Address(tuple(modules), None, None, None)
    if len(rest) == 2 and rest[0] in ("var", "output"):
        return Address(tuple(modules), "variable" if rest[0] == "var" else "output", None, rest[1])
    if rest and rest[0] == "provider" and len(rest) in (2, 3):
        return Address(tuple(modules), "provider", rest[1], rest[2] if len(rest) == 3 else None)
    mode = "resource"
    if rest and rest[0] == "data":
        mode, rest = "data", rest[1:]
    if len(rest) != 2:
        raise ValueError(f"{address!r} is not a Terraform resource, data source or module address")
    return Address(tuple(modules), mode, rest[0], rest[1])


def _declaration(block: Block, path: Path) -> Declaration:
    named = {"module": "source", "provider": "alias"}.get(block.type)
    value = block.attributes.get(named) if named else None
    return Declaration(
        block.type,
        block.labels,
        path,
        block.line or 1,
        value if isinstance(value, str) else None,
        line_known=block.line is not None,
    )


def file_declarations(path: Path) -> list[Declaration]:
    """The top-level blocks of one configuration file that an address can name."""
    return [_declaration(block, path) for block in read_blocks(path) if block.type in _DECLARING]


class SourceIndex:
    """Locates addresses in one root module and the local modules it calls (each directory read once)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._declarations: dict[Path, list[Declaration]] = {}

    def declarations(self, directory: Path) -> list[Declaration]:
        """Every block declared in one module directory: .tf files, then .tf.json, then override files (an
        override file amends a block declared elsewhere, so the block's own declaration comes first)."""
        directory = directory.resolve()
        if directory not in self._declarations:
            files = sorted(directory.glob("*.tf")) + sorted(directory.glob("*.tf.json"))
            files.sort(key=lambda p: p.name == "override.tf" or p.name.endswith(("_override.tf", "_override.tf.json")))
            self._declarations[directory] = [found for path in files for found in file_declarations(path)]
        return self._declarations[directory]

    def _find(self, directory: Path, kind: str, labels: tuple[str, ...]) -> Declaration | None:
        return next((d for d in self.declarations(directory) if d.kind == kind and d.labels == labels), None)

    def _relative(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()

    def _where(self, directory: Path) -> str:
        return "the root module" if directory == self.root else self._relative(directory)

    def _at(self, declaration: Declaration, note: str | None = None) -> SourceLocation:
        if not declaration.line_known:
            json_note = f"{declaration.path.name} is JSON syntax: its blocks are located at line 1"
            note = f"{note}; {json_note}" if note else json_note
        return SourceLocation(self._relative(declaration.path), declaration.line, note)

    def root_file(self) -> SourceLocation:
        """The root module's main file (main.tf, else its first configuration file), line 1."""
        candidates = [self.root / "main.tf", *sorted(self.root.glob("*.tf")), *sorted(self.root.glob("*.tf.json"))]
        path = next((p for p in candidates if p.is_file()), None)
        return SourceLocation(self._relative(path) if path else ".", 1)

    def _fallback(self, call: Declaration | None, why: str) -> SourceLocation:
        if call is not None:
            return self._at(call, f"{why}; located at the call of the module that holds it")
        return SourceLocation(self.root_file().path, 1, f"{why}; located at the root module")

    def locate(self, address: str | None) -> SourceLocation:
        """The file and first line of the block that declares `address`, or the nearest enclosing place."""
        if not address:
            return self._fallback(None, "the finding names no Terraform address")
        try:
            parsed = parse_address(address)
        except ValueError as exc:
            return self._fallback(None, str(exc))
        directory, call, chain = self.root, None, ""
        for name in parsed.modules:
            chain = f"{chain}module.{name}"
            found = self._find(directory, "module", (name,))
            if found is None:
                return self._fallback(call, f"`{chain}` is not declared in {self._where(directory)}")
            call = found
            source = found.source or ""
            if not source.startswith(_LOCAL_SOURCE):
                if parsed.mode is None and name == parsed.modules[-1]:
                    return self._at(found)
                where = f"from {source!r}" if source else "with no literal source"
                note = f"`{address}` is declared inside `{chain}`, a module {where} that is not on disk"
                return self._at(found, note)
            directory = (found.path.parent / source).resolve()
            chain += "."
        if parsed.mode is None:
            assert call is not None  # an address naming a module has at least one module segment
            return self._at(call)
        if parsed.mode == "provider":
            return self._provider(directory, call, parsed)
        labels = (
            (parsed.name or "",) if parsed.mode in ("variable", "output") else (parsed.type or "", parsed.name or "")
        )
        declaration = self._find(directory, parsed.mode, labels)
        if declaration is None:
            kind = {"data": "data source"}.get(parsed.mode, parsed.mode)
            quoted = " ".join(f'"{label}"' for label in labels)
            return self._fallback(call, f"{kind} {quoted} is not declared in {self._where(directory)}")
        return self._at(declaration)

    def _provider(self, directory: Path, call: Declaration | None, parsed: Address) -> SourceLocation:
        """The provider block with that name and alias (its alias is read like a module's source)."""
        blocks = [d for d in self.declarations(directory) if d.kind == "provider" and d.labels == (parsed.type,)]
        chosen = next((d for d in blocks if d.source == parsed.name), None)
        if chosen is not None:
            return self._at(chosen)
        alias = f' with alias "{parsed.name}"' if parsed.name else " without an alias"
        why = f'provider "{parsed.type}"{alias} is not declared in {self._where(directory)}'
        return self._fallback(call, why)


def locate(root: Path, address: str | None) -> SourceLocation:
    """Where `address` is declared, relative to `root` (one-off; use SourceIndex for many addresses)."""
    return SourceIndex(root).locate(address)
