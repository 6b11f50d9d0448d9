"""The files a configuration reads from disk, found by reading its expressions (no terraform runs).

The workspace copy holds the root module and the local modules it calls; a configuration also reads files
beside them (a Lambda zip in `../lambda`, a template two directories up). The copy brings those along at
the same relative place, so the same expressions resolve in it, and it needs to know which they are:
- the first argument of `file()` and its family and of `templatefile()`, and `source_file` and
  `source_dir` of `archive_file` (data source or resource): terraform stops when one is missing, so a
  missing one is reported before init when terraform is sure to evaluate it. It may not when the
  expression is conditional or tolerates a failure (`fileexists(p) ? file(p) : ""`, `try(file(p), "")`),
  or when it stands in a block repeated by `count` or `for_each` (a `create = false` toggle), or in a
  module called only that way: those are brought when they exist, never an error;
- the directory of `fileset()` (a missing one is an empty set, not an error);
- any other string made of `path.module`, `path.root` or `path.cwd` and a literal path (a Lambda's
  `filename`, an S3 object's `source`, a local that a call reads later): brought when it exists, never
  an error (an `output_path` names a file the apply writes).

Paths resolve as terraform resolves them: `path.module` to the module's directory, `path.root` and
`path.cwd` and any relative path to the root module's (terraform runs there). `..` is resolved lexically,
as the copy (which holds no symlinked directories) will resolve it. An argument built from a variable, a
local or another call cannot be resolved without evaluating the configuration: it is skipped, and
`--include` brings what it reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackprobe.terraform.config import (
    LOCAL_SOURCE_PREFIXES,
    Block,
    Expression,
    Template,
    Value,
    configuration_files,
    find_calls,
    parse_json,
    parse_native,
)

READ_FUNCTIONS = frozenset(
    {
        "file",
        "filebase64",
        "filebase64sha256",
        "filebase64sha512",
        "filemd5",
        "filesha1",
        "filesha256",
        "filesha512",
        "templatefile",
    }
)
DIRECTORY_FUNCTIONS = frozenset({"fileset"})
ARCHIVE_SOURCES = ("source_file", "source_dir")
# An expression that asks whether a file exists, tolerates a failing read, or chooses (`a ? b : c`; a `?` in
# a string counts too: the error is then terraform's own) may not evaluate its read.
_GUARDS = re.compile(r"(?<![\w.])(?:fileexists|try|can)\s*\(|\?")
# Arguments that repeat a block, perhaps zero times.
REPEATERS = ("count", "for_each")
_LITERAL = re.compile(r'"([^"\\$%]+)"')
_FROM_PATH = re.compile(r'"\$\{\s*path\.(module|root|cwd)\s*\}([^"\\$%{}]*)"|path\.(module|root|cwd)')
# A string naming a path below path.module/root/cwd, anywhere in an expression.
_PATH_STRING = re.compile(r'"\$\{\s*path\.(?:module|root|cwd)\s*\}/[^"\\$%{}]*"')


@dataclass(frozen=True)
class FileRead:
    """A path an expression of the configuration reads, resolved in the source tree."""

    path: Path
    written: str  # the call or string as written, e.g. `filebase64sha256("${path.root}/../x.zip")`
    file: Path
    line: int | None
    required: bool  # terraform stops when the path is missing

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else str(self.file)


@dataclass(frozen=True)
class _Module:
    """Where an expression stands: its file's path and text, its module's directory and the root's."""

    file: Path
    text: str
    directory: Path
    root: Path

    def resolve(self, argument: str) -> Path | None:
        """The absolute path an argument names, when it is a literal or `path.*` plus a literal; None when
        it needs evaluating (variables, locals, calls) or is absolute (read where it is, not copied)."""
        argument = argument.strip()
        if literal := _LITERAL.fullmatch(argument):
            relative, base = literal.group(1), self.root
        elif from_path := _FROM_PATH.fullmatch(argument):
            relative = (from_path.group(2) or "").lstrip("/") or "."
            base = self.directory if "module" in (from_path.group(1), from_path.group(3)) else self.root
        else:
            return None
        if Path(relative).is_absolute() or relative.startswith("~"):  # terraform expands `~` to the home
            return None
        return Path(os.path.abspath(base / relative))

    def line(self, written: str, after: int | None) -> int | None:
        """The line of `written` at or after line `after` (the block's); `after` when it is not found as
        written (a JSON file's strings are escaped)."""
        start = 0
        for _ in range((after or 1) - 1):
            start = self.text.find("\n", start) + 1
        found = self.text.find(written, start)
        return after if found < 0 else self.text.count("\n", 0, found) + 1


def file_reads(modules: Iterable[Path], root: Path) -> list[FileRead]:
    """The paths the expressions of these module directories read, in file order (see the module docstring);
    `root` is the root module's directory, and the directories are resolved, as read_tree gives them."""
    parsed: dict[Path, list[tuple[_Module, Sequence[Block]]]] = {}
    for directory in modules:
        for path in configuration_files(directory):
            text = path.read_text(encoding="utf-8", errors="replace")
            read: Sequence[Block] = parse_json(text) if path.name.endswith(".json") else parse_native(text)
            parsed.setdefault(directory, []).append((_Module(path, text, directory, root), read))
    always = _always_evaluated(parsed, root)
    found: list[FileRead] = []
    for directory, files in parsed.items():
        for where, blocks in files:
            for block in blocks:
                found += _block_reads(block, where, block.line, conditional=directory not in always)
    return found


def _always_evaluated(parsed: Mapping[Path, list[tuple[_Module, Sequence[Block]]]], root: Path) -> set[Path]:
    """The module directories reached from the root through calls without `count` or `for_each`."""
    found: set[Path] = set()
    pending = [root]
    while pending:
        directory = pending.pop()
        if directory in found or directory not in parsed:
            continue
        found.add(directory)
        for _, blocks in parsed[directory]:
            for block in blocks:
                source = block.attributes.get("source")
                if block.type != "module" or not isinstance(source, str) or _repeated(block):
                    continue
                if source.startswith(LOCAL_SOURCE_PREFIXES):
                    pending.append((directory / source).resolve())
    return found


def _repeated(block: Block) -> bool:
    return any(name in block.attributes for name in REPEATERS)


def _block_reads(block: Block, where: _Module, line: int | None, *, conditional: bool) -> Iterator[FileRead]:
    conditional = conditional or _repeated(block)
    archive = block.type in ("data", "resource") and block.labels[:1] == ("archive_file",)
    for name, value in block.attributes.items():
        if archive and name in ARCHIVE_SOURCES:
            written = value.text if isinstance(value, Expression) else f'"{value}"' if isinstance(value, str) else ""
            path = where.resolve(written)
            if path is not None:
                required = not conditional and not _GUARDS.search(written)
                yield FileRead(path, f"{name} = {written}", where.file, where.line(written, line), required)
        for text, template in _expressions(value, json=where.file.name.endswith(".json")):
            yield from _expression_reads(text, template, where, line, conditional=conditional)
    for nested in block.blocks:
        yield from _block_reads(nested, where, nested.line or line, conditional=conditional)


def _expressions(value: Value, *, json: bool) -> Iterator[tuple[str, bool]]:
    """The texts of the expressions in a value, and whether each is a template's content (a JSON string)."""
    if isinstance(value, Expression):
        yield value.text, json and isinstance(value, Template)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item, json=json)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item, json=json)


def _expression_reads(
    text: str, template: bool, where: _Module, line: int | None, *, conditional: bool
) -> Iterator[FileRead]:
    evaluated = not conditional and not _GUARDS.search(text)
    for call in find_calls(text, READ_FUNCTIONS | DIRECTORY_FUNCTIONS, template=template):
        path = where.resolve(call.arguments[0]) if call.arguments else None
        if path is not None:
            required = evaluated and call.name in READ_FUNCTIONS
            yield FileRead(path, call.text, where.file, where.line(call.text, line), required)
    # A JSON string is a template's content, without the quotes the pattern expects around it.
    for match in _PATH_STRING.finditer(f'"{text}"' if template else text):
        path = where.resolve(match.group(0))
        if path is not None:
            yield FileRead(path, match.group(0), where.file, where.line(match.group(0), line), required=False)
