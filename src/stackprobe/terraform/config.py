"""Read just enough of a Terraform configuration to prepare it: providers, aliases, backend, module calls.

A small reader of HCL's structure does this, and no HCL library is used. Why:
- The workspace copy must not depend on which distribution owns the `hcl2` module name. checkov depends on
  `bc-python-hcl2`, a fork (0.4.x) that installs `hcl2` over python-hcl2's and returns another shape
  (`source` becomes a list, `required_providers` entries too). With it, every module call went unseen, the
  copy left `modules/*` out, and terraform stopped with "Unreadable module directory" on valid stacks.
  Detecting the fork and reading both shapes would tie the harness to two libraries' output formats, and
  python-hcl2 itself changed its output between majors (strings now keep their quotes).
- Asking terraform was considered. `.terraform/modules/modules.json` exists only after an init, and that
  init needs the module directories already in place (it is what the copy is for); running it in the
  user's directory would write there. `terraform-config-inspect` is a Go program that is neither shipped
  with Terraform nor installable from PyPI, so it would be one more binary to find offline.
- What is needed is small and fixed since HCL 2 (Terraform 0.12): top-level blocks, their labels, literal
  string attributes and object constructors (`aws = { source = "hashicorp/aws" }`). A lexer
  that knows strings, template interpolations, heredocs and comments, plus a parser of bodies that skips
  any expression it does not need, reads that exactly, about ten times faster than python-hcl2 (0.1 s for
  the reference stack's 240 kB), and never raises.
`.tf.json` files are read with the json module into the same blocks.

Terraform remains the judge of validity: a malformed file is read as far as it can be (a quoted string
that runs to the end of its line ends there, as Terraform reports it; a block that never closes ends with
the file), and `terraform init` reports the error with its file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

AWS_SOURCE = "hashicorp/aws"
DEFAULT_REGISTRY = "registry.terraform.io/"
LOCAL_SOURCE_PREFIXES = ("./", "../")

# A literal value: a string without interpolation, an object constructor of literal values, or None for
# anything else (references, function calls, lists, numbers, templates, heredocs).
Value = str | dict[str, Any] | None


@dataclass(frozen=True)
class Block:
    """One block: `type "label" ... { attributes and nested blocks }`."""

    type: str
    labels: tuple[str, ...]
    attributes: dict[str, Value]
    blocks: tuple[Block, ...]

    def nested(self, block_type: str) -> list[Block]:
        return [block for block in self.blocks if block.type == block_type]


@dataclass
class ModuleConfig:
    """Facts about one directory of .tf and .tf.json files."""

    directory: Path
    aws_local_names: set[str] = field(default_factory=lambda: {"aws"})
    provider_aliases: dict[str, list[str | None]] = field(default_factory=dict)
    has_backend: bool = False
    has_cloud_block: bool = False
    # Every module call: name -> its literal `source` (None when it is not a literal string).
    module_sources: dict[str, str | None] = field(default_factory=dict)
    # required_providers entries: local name -> {"source": ..., "version": ...} as written (None if absent).
    provider_requirements: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Provider local names implied by resource and data types (`aws_s3_bucket` -> `aws`).
    implied_providers: set[str] = field(default_factory=set)
    # Input variables declared here (`variable "name" {}`).
    variables: set[str] = field(default_factory=set)

    @property
    def local_module_sources(self) -> list[str]:
        """Sources of the module calls that are directories beside this one (`./x`, `../x`)."""
        return [s for s in self.module_sources.values() if s is not None and s.startswith(LOCAL_SOURCE_PREFIXES)]

    def aws_provider_blocks(self) -> list[tuple[str, str | None]]:
        """(local name, alias) for every AWS provider block declared in this directory."""
        return [
            (name, alias)
            for name, aliases in self.provider_aliases.items()
            if name in self.aws_local_names
            for alias in aliases
        ]

    def init_inputs(self) -> dict[str, Any]:
        """What `terraform init` reads from this directory: provider requirements, module calls, backend."""
        return {
            "requirements": self.provider_requirements,
            "implied": sorted(self.implied_providers),
            "modules": self.module_sources,
            "backend": [self.has_backend, self.has_cloud_block],
        }


# -- lexer -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "ident", "string", "punct", "value" (numbers, heredocs, other literals), "newline", "eof"
    text: str | None  # the name, the punctuation, or a string's literal value (None for a template)


# One lexeme at a position, for everything but strings, heredocs and block comments (`"`, `/` and `<` are
# left to the lexer's own branches, which fall back to punctuation).
_LEXEME = re.compile(
    r"(?P<space>[ \t\r\ufeff]+)|(?P<newline>\n)|(?P<comment>(?:#|//)[^\n]*)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_-]*)|(?P<number>[0-9][0-9A-Za-z.]*)"
    r"|(?P<punct>==|!=|>=|=>|&&|\|\||\.\.\.|[^\s\"/<])"
)
_STRING_RUN = re.compile(r'[^"\\\n$%]+')
_INTERPOLATION_RUN = re.compile(r'[^"{}]+')
_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _string(text: str, start: int) -> tuple[str | None, int]:
    """The literal value (None when it holds an interpolation or is unterminated) of the quoted string whose
    opening quote is at `start`, and the index just past it. A string ends at its line's end if it is not
    closed there: HCL strings cannot span lines, so a stray quote spoils one line, not the rest of the file."""
    chars: list[str] = []
    templated = False
    i = start + 1
    while i < len(text):
        if run := _STRING_RUN.match(text, i):
            chars.append(run.group(0))
            i = run.end()
            continue
        char = text[i]
        if char == '"':
            return (None if templated else "".join(chars)), i + 1
        if char == "\n":
            return None, i
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped in ("", "\n"):
                return None, i + 1
            chars.append(_ESCAPES.get(escaped, escaped))
            i += 2
        elif text.startswith(("$${", "%%{"), i):  # escaped: a literal `${`, not an interpolation
            chars.append(text[i + 1 : i + 3])
            i += 3
        elif text.startswith(("${", "%{"), i):
            templated = True
            i = _interpolation_end(text, i + 2)
        else:
            chars.append(char)
            i += 1
    return None, i


def _interpolation_end(text: str, start: int) -> int:
    """The index just past the `}` that closes an interpolation whose body starts at `start`. An
    interpolation is an expression: it may hold strings and braces of its own, and span lines."""
    depth = 0
    i = start
    while i < len(text):
        if run := _INTERPOLATION_RUN.match(text, i):
            i = run.end()
            continue
        char = text[i]
        if char == '"':
            _, i = _string(text, i)
            continue
        if char == "{":
            depth += 1
        elif depth == 0:
            return i + 1
        else:
            depth -= 1
        i += 1
    return i


def _tokens(text: str) -> Iterator[_Token]:
    i = 0
    while i < len(text):
        if lexeme := _LEXEME.match(text, i):
            kind, i = lexeme.lastgroup, lexeme.end()
            if kind == "newline":
                yield _Token("newline", None)
            elif kind == "ident":
                yield _Token("ident", lexeme.group(0))
            elif kind == "number":
                yield _Token("value", None)
            elif kind == "punct":
                yield _Token("punct", lexeme.group(0))
            continue
        char = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            if "\n" in text[i:end]:  # a comment across lines ends whatever stood before it
                yield _Token("newline", None)
            i = end
        elif char == '"':
            value, i = _string(text, i)
            yield _Token("string", value)
        elif text.startswith("<<", i) and (heredoc := _HEREDOC.match(text, i)):
            marker, i = heredoc.group(1), heredoc.end()
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line, i = text[i:end], end
                if line.strip() == marker:
                    break
                i += 1
            yield _Token("value", None)
        else:
            operator = "<=" if text.startswith("<=", i) else char
            yield _Token("punct", operator)
            i += len(operator)
    yield _Token("eof", None)


# -- parser ------------------------------------------------------------------------------------------

_OPENING = ("(", "[", "{")
_CLOSING = (")", "]", "}")


class _Parser:
    """Bodies of blocks and attributes; an expression is read only when it is a literal or an object."""

    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.at = 0

    def _peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def _is(self, token: _Token, *puncts: str) -> bool:
        return token.kind == "punct" and token.text in puncts

    def _ends_expression(self, token: _Token, in_object: bool) -> bool:
        return token.kind in ("newline", "eof") or self._is(token, "}") or (in_object and self._is(token, ","))

    def body(self, closed_by_brace: bool) -> tuple[dict[str, Value], list[Block]]:
        attributes: dict[str, Value] = {}
        blocks: list[Block] = []
        while True:
            token = self._peek()
            if token.kind == "eof":
                return attributes, blocks
            if token.kind == "newline":
                self.at += 1
            elif self._is(token, "}"):
                self.at += 1
                if closed_by_brace:
                    return attributes, blocks
            elif token.kind == "ident" and self._is(self._peek(1), "="):
                self.at += 2
                attributes[str(token.text)] = self.expression(in_object=False)
            elif token.kind == "ident":
                self.at += 1
                labels: list[str] = []
                while self._peek().kind in ("string", "ident"):
                    labels.append(self._peek().text or "")
                    self.at += 1
                if self._is(self._peek(), "{"):
                    self.at += 1
                    inner_attributes, inner_blocks = self.body(closed_by_brace=True)
                    blocks.append(Block(str(token.text), tuple(labels), inner_attributes, tuple(inner_blocks)))
                else:
                    self._skip(in_object=False)
            else:
                self.at += 1
                self._skip(in_object=False)

    def expression(self, in_object: bool) -> Value:
        token = self._peek()
        if token.kind == "string" and self._ends_expression(self._peek(1), in_object):
            self.at += 1
            return token.text
        if self._is(token, "{"):
            start = self.at
            self.at += 1
            constructed = self._object()
            if constructed is not None and self._ends_expression(self._peek(), in_object):
                return constructed
            self.at = start
        self._skip(in_object)
        return None

    def _object(self) -> dict[str, Any] | None:
        """An object constructor's items, after its `{`; None (position undefined) if it is something else."""
        items: dict[str, Any] = {}
        while True:
            token = self._peek()
            if token.kind == "newline" or self._is(token, ","):
                self.at += 1
            elif self._is(token, "}"):
                self.at += 1
                return items
            elif token.kind in ("ident", "string") and token.text is not None and self._is(self._peek(1), "=", ":"):
                self.at += 2
                items[token.text] = self.expression(in_object=True)
            else:
                return None

    def _skip(self, in_object: bool) -> None:
        """Move past an expression (or the rest of an unreadable line), leaving its terminator unread."""
        depth = 0
        while True:
            token = self._peek()
            if token.kind == "eof" or (depth == 0 and self._ends_expression(token, in_object)):
                return
            if self._is(token, *_OPENING):
                depth += 1
            elif self._is(token, *_CLOSING) and depth > 0:
                depth -= 1
            self.at += 1


@lru_cache(maxsize=2048)
def parse_native(text: str) -> list[Block]:
    """The top-level blocks of a file in HCL native syntax.

    Cached by content: a run prepares the same files for every stack, mutant batch and audit (about 0.1 s
    for the reference stack each time). Callers only read the result.
    """
    _, blocks = _Parser(text).body(closed_by_brace=False)
    return blocks


# Labels of the block types read from JSON syntax, and which keys of their bodies are nested blocks.
_JSON_LABELS = {"terraform": 0, "provider": 1, "module": 1, "resource": 2, "data": 2}
_JSON_NESTED = {"terraform": {"required_providers": 0, "backend": 1, "cloud": 0}}


def _json_value(value: Any) -> Value:
    if isinstance(value, str):
        return None if "${" in value or "%{" in value else value
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return None


def _json_blocks(block_type: str, value: Any, labels_left: int, labels: tuple[str, ...] = ()) -> Iterator[Block]:
    # Terraform's JSON syntax allows an object, or an array of objects, at each level.
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, dict):
            continue
        if labels_left:
            for label, inner in item.items():
                yield from _json_blocks(block_type, inner, labels_left - 1, (*labels, label))
            continue
        nested = _JSON_NESTED.get(block_type, {})
        attributes = {key: _json_value(v) for key, v in item.items() if key not in nested}
        blocks = tuple(b for key, v in item.items() if key in nested for b in _json_blocks(key, v, nested[key]))
        yield Block(block_type, labels, attributes, blocks)


def parse_json(text: str) -> list[Block]:
    """The top-level blocks of a `.tf.json` file (none when it is not valid JSON: terraform says why)."""
    try:
        document = json.loads(text)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    return [
        block
        for block_type, value in document.items()
        if block_type in _JSON_LABELS
        for block in _json_blocks(block_type, value, _JSON_LABELS[block_type])
    ]


# -- facts -------------------------------------------------------------------------------------------


def _is_aws_source(source: str | None) -> bool:
    normalised = (source or "").strip().lower().removeprefix(DEFAULT_REGISTRY)
    return normalised == AWS_SOURCE


def _read_blocks(blocks: list[Block], module: ModuleConfig) -> None:
    for block in blocks:
        if block.type == "terraform":
            for required in block.nested("required_providers"):
                for local_name, spec in required.attributes.items():
                    # `aws = "~> 5.0"` is the pre-0.13 form: a version, and the source implied by the name.
                    written = spec if isinstance(spec, dict) else {"version": spec}
                    requirement = {k: written.get(k) if isinstance(written.get(k), str) else None for k in written}
                    module.provider_requirements[local_name] = requirement
                    if _is_aws_source(requirement.get("source")):
                        module.aws_local_names.add(local_name)
            module.has_backend |= bool(block.nested("backend"))
            module.has_cloud_block |= bool(block.nested("cloud"))
        elif block.type == "provider" and block.labels:
            alias = block.attributes.get("alias")
            module.provider_aliases.setdefault(block.labels[0], []).append(alias if isinstance(alias, str) else None)
        elif block.type == "module" and block.labels:
            source = block.attributes.get("source")
            module.module_sources[block.labels[0]] = source if isinstance(source, str) else None
        elif block.type in ("resource", "data") and block.labels:
            module.implied_providers.add(block.labels[0].split("_", 1)[0])
        elif block.type == "variable" and block.labels:
            module.variables.add(block.labels[0])


def _is_override(path: Path) -> bool:
    # Override files only amend blocks declared elsewhere (and stackprobe writes its own).
    stem = path.name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


def configuration_files(directory: Path) -> list[Path]:
    """The files Terraform loads as a module's configuration, override files excluded."""
    files = sorted(directory.glob("*.tf")) + sorted(directory.glob("*.tf.json"))
    return [path for path in files if path.is_file() and not _is_override(path)]


def read_module(directory: Path) -> ModuleConfig:
    module = ModuleConfig(directory=directory)
    for path in configuration_files(directory):
        text = path.read_text(encoding="utf-8", errors="replace")
        _read_blocks(parse_json(text) if path.name.endswith(".json") else parse_native(text), module)
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
