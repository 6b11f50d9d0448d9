"""Stackprobe's one reader of Terraform configuration files, and the facts the workspace copy needs.

Three users read the same model from it: the workspace (providers, aliases, backend, module calls: see
ModuleConfig), the SARIF locator (stackprobe.terraform.locations: the file and line of each block) and the
configuration-level checks (stackprobe.checks.source: provider arguments, variable defaults, backend
settings, var files). The model is a Body (a file, or what a block holds between its braces) of
attributes and nested Blocks, each Block with its type, labels and the line its type keyword is on.
An attribute's value is a literal (a string, a number, a bool, null as None, a list or an object of
literals) or, for anything else (a reference, a call, an operation, a `for`, a template that
interpolates), an Expression holding its text as written (a Template for a string that interpolates).

The reader is stackprobe's own, and no HCL library is used. Why not python-hcl2 everywhere:
- The workspace copy must not depend on which distribution owns the `hcl2` module name. checkov depends on
  `bc-python-hcl2`, a fork (0.4.x) that installs `hcl2` over python-hcl2's and returns another shape
  (`source` becomes a list, `required_providers` entries too). With it, every module call went unseen, the
  copy left `modules/*` out, and terraform stopped with "Unreadable module directory" on valid stacks
  (tests/harness/test_parser_independence.py builds that environment). Reading both shapes would tie the
  harness to two libraries' output formats, and python-hcl2 itself changed its output between majors
  (strings now keep their quotes; in 8.1 escapes and heredoc markers stay in the value too).
- The locator needs each block's line, which python-hcl2 8.1 does not give for top-level blocks.
- A file with a syntax error must still be read as far as it goes: the copy must hold the modules called
  after a stray quote, or terraform reports "Unreadable module directory" instead of the quote. python-hcl2
  raises on the first error.
- Speed: the 335 kB of .tf files under terraform/ read in 0.08 s here, against 1.2 s with python-hcl2
  8.1.4, and a run reads the same files for every stack, mutant batch and audit.
- Asking terraform was considered. `.terraform/modules/modules.json` exists only after an init, and that
  init needs the module directories already in place (it is what the copy is for); running it in the
  user's directory would write there. `terraform-config-inspect` is a Go program that is neither shipped
  with Terraform nor installable from PyPI, so it would be one more binary to find offline.
HCL's structure has been fixed since HCL 2 (Terraform 0.12): a lexer that knows strings, template
interpolations, heredocs and comments, and a parser of bodies that reads literals and keeps the text of
any other expression, read it exactly and never raise. `.tf.json` files are read with the json module into
the same blocks (without lines: the json module keeps none).

Terraform remains the judge of validity: a malformed file is read as far as it can be (a quoted string
that runs to the end of its line ends there, as Terraform reports it; a block that never closes ends with
the file), and `terraform init` reports the error with its file and line.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

AWS_SOURCE = "hashicorp/aws"
DEFAULT_REGISTRY = "registry.terraform.io/"
LOCAL_SOURCE_PREFIXES = ("./", "../")


# -- the model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """An attribute value that is not a literal, as written (`var.name`, `merge(a, b)`, `"a-${var.b}"`).
    A string that is one interpolation (`"${var.name}"`) is that expression (`var.name`), as in Terraform."""

    text: str


@dataclass(frozen=True)
class Template(Expression):
    """A string that interpolates, with text around its interpolations: a quoted string or a heredoc as
    written (`"a-${var.b}"`, quotes included), or a JSON string's content."""


Value: TypeAlias = "str | int | float | bool | list[Value] | dict[str, Value] | Expression | None"


@dataclass(frozen=True)
class Body:
    """What a file, or a block between its braces, holds: attributes by name and nested blocks in order.
    Bodies are cached and shared by every reader of the same text: read them, never change them."""

    attributes: dict[str, Value]
    blocks: tuple[Block, ...]

    def nested(self, block_type: str) -> list[Block]:
        return [block for block in self.blocks if block.type == block_type]


@dataclass(frozen=True)
class Block(Body):
    """One block: `type "label" ... { body }`, and the 1-based line of its type keyword (None when read
    from JSON syntax)."""

    type: str
    labels: tuple[str, ...]
    line: int | None


# -- lexer -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    # "ident", "number", "punct", "string" (a literal), "heredoc" (a literal), "template" (a quoted string
    # or heredoc that interpolates), "unterminated" (a quoted string its line ends), "newline", "eof"
    kind: str
    text: str | None  # the name, number or punctuation, or the literal value (None for a template)
    # Offsets in the file's text, for the line of a block and the text of an expression.
    start: int
    end: int


# One lexeme at a position, for everything but strings, heredocs and block comments (`"`, `/` and `<` are
# left to the lexer's own branches, which fall back to punctuation).
_LEXEME = re.compile(
    r"(?P<space>[ \t\r\ufeff]+)|(?P<newline>\n)|(?P<comment>(?:#|//)[^\n]*)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_-]*)|(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<punct>==|!=|>=|=>|&&|\|\||\.\.\.|[^\s\"/<])"
)
_STRING_RUN = re.compile(r'[^"\\\n$%]+')
_INTERPOLATION_RUN = re.compile(r'[^"{}]+')
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
# `\uNNNN` and `\UNNNNNNNN`, up to U+10FFFF (terraform refuses a larger one; chr() would raise).
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U((?:000[0-9A-Fa-f]|0010)[0-9A-Fa-f]{4})")


def _string(text: str, start: int) -> tuple[str | None, int, bool]:
    """The literal value (None when it holds an interpolation or is unterminated) of the quoted string whose
    opening quote is at `start`, the index just past it, and whether it was closed. A string ends at its
    line's end if it is not closed there: HCL strings cannot span lines, so a stray quote spoils one line,
    not the rest of the file."""
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
            return (None if templated else "".join(chars)), i + 1, True
        if char == "\n":
            return None, i, False
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped in ("", "\n"):
                return None, i + 1, False
            if unicode := _UNICODE_ESCAPE.match(text, i):
                chars.append(chr(int(unicode.group(1) or unicode.group(2), 16)))
                i = unicode.end()
                continue
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
    return None, i, False


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
            _, i, _ = _string(text, i)
            continue
        if char == "{":
            depth += 1
        elif depth == 0:
            return i + 1
        else:
            depth -= 1
        i += 1
    return i


def _heredoc(text: str, opener: re.Match[str]) -> tuple[str | None, int]:
    """The literal value (None when it interpolates) of the heredoc `opener` starts, and the index of the end
    of its closing marker's line (the file's end when the marker never comes: terraform will say so)."""
    marker, i = opener.group(2), opener.end()
    lines: list[str] = []
    while i < len(text):
        end = text.find("\n", i)
        end = len(text) if end < 0 else end
        line = text[i:end].removesuffix("\r")
        if line.strip() == marker:
            break
        lines.append(line)
        i = end + 1
    else:
        end = len(text)
    if opener.group(1):  # `<<-` strips the indentation its lines share
        indent = min((len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()), default=0)
        lines = [line[indent:] for line in lines]
    value = "".join(f"{line}\n" for line in lines)
    unescaped = value.replace("$${", "").replace("%%{", "")
    if "${" in unescaped or "%{" in unescaped:
        return None, end
    return value.replace("$${", "${").replace("%%{", "%{"), end


def _lex(text: str) -> Iterator[_Token]:
    i = 0
    while i < len(text):
        start = i
        if lexeme := _LEXEME.match(text, i):
            kind, i = lexeme.lastgroup or "space", lexeme.end()
            if kind == "newline":
                yield _Token("newline", None, start, i)
            elif kind in ("ident", "number", "punct"):
                yield _Token(kind, lexeme.group(0), start, i)
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            if "\n" in text[start:i]:  # a comment across lines ends whatever stood before it
                yield _Token("newline", None, start, i)
        elif text[i] == '"':
            value, i, closed = _string(text, i)
            yield _Token("string" if value is not None else "template" if closed else "unterminated", value, start, i)
        elif text.startswith("<<", i) and (opener := _HEREDOC.match(text, i)):
            value, i = _heredoc(text, opener)
            yield _Token("template" if value is None else "heredoc", value, start, i)
        else:
            operator = "<=" if text.startswith("<=", i) else text[i]
            i += len(operator)
            yield _Token("punct", operator, start, i)
    yield _Token("eof", None, len(text), len(text))


# -- parser ------------------------------------------------------------------------------------------

_OPENING = ("(", "[", "{")
_CLOSING = (")", "]", "}")
_KEYWORDS: dict[str, Value] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class _Context:
    """What ends an expression where it stands: a newline ends an attribute or an object's item, but not a
    list's element (newlines inside brackets are insignificant)."""

    closers: tuple[str, ...]
    newline_ends: bool


_IN_BODY = _Context(("}",), newline_ends=True)
_IN_OBJECT = _Context(("}", ","), newline_ends=True)
_IN_LIST = _Context(("]", ","), newline_ends=False)


class _NotALiteral(Exception):
    """A list or object constructor turned out to be another expression (a `for`, a computed key)."""


def _number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)


class _BodyParser:
    """Bodies of blocks and attributes; a value is read when it is a literal, else kept as its text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_lex(text))
        self.at = 0
        self.newlines = [match.start() for match in re.finditer("\n", text)]

    def _peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def _is(self, token: _Token, *puncts: str) -> bool:
        return token.kind == "punct" and token.text in puncts

    def _ends(self, token: _Token, context: _Context) -> bool:
        return (
            token.kind == "eof"
            or (token.kind == "newline" and context.newline_ends)
            or self._is(token, *context.closers)
        )

    def body(self, closed_by_brace: bool) -> Body:
        attributes: dict[str, Value] = {}
        blocks: list[Block] = []
        while True:
            token = self._peek()
            if token.kind == "eof":
                return Body(attributes, tuple(blocks))
            if token.kind == "newline":
                self.at += 1
            elif self._is(token, "}"):
                self.at += 1
                if closed_by_brace:
                    return Body(attributes, tuple(blocks))
            elif token.kind == "ident" and self._is(self._peek(1), "="):
                self.at += 2
                attributes[str(token.text)] = self.expression(_IN_BODY)
            elif token.kind == "ident":
                self.at += 1
                labels: list[str] = []
                while self._peek().kind in ("string", "template", "unterminated", "ident"):
                    labels.append(self._peek().text or "")
                    self.at += 1
                if self._is(self._peek(), "{"):
                    self.at += 1
                    inner = self.body(closed_by_brace=True)
                    line = bisect_left(self.newlines, token.start) + 1
                    blocks.append(Block(inner.attributes, inner.blocks, str(token.text), tuple(labels), line))
                else:
                    self._skip(_IN_BODY)
            else:
                self.at += 1
                self._skip(_IN_BODY)

    def expression(self, context: _Context) -> Value:
        """A literal, or the text of whatever other expression stands here (its terminator left unread)."""
        start = self.at
        try:
            value = self._literal()
            if not context.newline_ends:
                self._skip_newlines()
            if self._ends(self._peek(), context):
                return value
        except _NotALiteral:
            pass
        self.at = start
        self._skip(context)
        if self.at == start:
            return Expression("")
        return Expression(self.text[self.tokens[start].start : self.tokens[self.at - 1].end].strip())

    def _literal(self) -> Value:
        """The literal that starts here (its first token read); _NotALiteral if it is none."""
        token = self._peek()
        self.at += 1
        if token.kind in ("string", "heredoc"):
            return token.text
        if token.kind == "template":
            return self._template(token)
        if token.kind == "number":
            return _number(str(token.text))
        if token.kind == "ident" and token.text in _KEYWORDS:
            return _KEYWORDS[token.text]
        if self._is(token, "-") and self._peek().kind == "number":
            self.at += 1
            return -_number(str(self.tokens[self.at - 1].text))
        if self._is(token, "["):
            return self._tuple()
        if self._is(token, "{"):
            return self._object()
        raise _NotALiteral

    def _template(self, token: _Token) -> Expression:
        written = self.text[token.start : token.end]
        whole = written.startswith('"${') and written.endswith('"')
        if whole and _interpolation_end(self.text, token.start + 3) == token.end - 1:
            return Expression(written[3:-2].strip())
        return Template(written)

    def _skip_newlines(self) -> None:
        while self._peek().kind == "newline":
            self.at += 1

    def _tuple(self) -> list[Value]:
        """A tuple constructor's elements, after its `[`."""
        items: list[Value] = []
        self._skip_newlines()
        if self._peek().kind == "ident" and self._peek().text == "for":
            raise _NotALiteral
        while True:
            self._skip_newlines()
            token = self._peek()
            if self._is(token, "]"):
                self.at += 1
                return items
            if token.kind == "eof":
                raise _NotALiteral
            items.append(self.expression(_IN_LIST))
            self._skip_newlines()
            if self._is(self._peek(), ","):
                self.at += 1
            elif not self._is(self._peek(), "]"):
                raise _NotALiteral

    def _object(self) -> dict[str, Value]:
        """An object constructor's items, after its `{`."""
        items: dict[str, Value] = {}
        while True:
            token = self._peek()
            if token.kind == "newline" or self._is(token, ","):
                self.at += 1
            elif self._is(token, "}"):
                self.at += 1
                return items
            elif token.kind in ("ident", "string") and token.text is not None and self._is(self._peek(1), "=", ":"):
                self.at += 2
                items[token.text] = self.expression(_IN_OBJECT)
            else:
                raise _NotALiteral

    def _skip(self, context: _Context) -> None:
        """Move past an expression (or the rest of an unreadable line), leaving its terminator unread."""
        depth = 0
        while True:
            token = self._peek()
            if token.kind == "eof" or (depth == 0 and self._ends(token, context)):
                return
            if self._is(token, *_OPENING):
                depth += 1
            elif self._is(token, *_CLOSING) and depth > 0:
                depth -= 1
            self.at += 1


@lru_cache(maxsize=2048)
def parse_body(text: str) -> Body:
    """A file in HCL native syntax: its top-level attributes (a var file's) and blocks (a configuration's).

    Cached by content: a run reads the same files for every stack, mutant batch, audit and report, and the
    workspace, the locator and the source checks read the same files. Callers only read the result.
    """
    return _BodyParser(text).body(closed_by_brace=False)


def parse_native(text: str) -> tuple[Block, ...]:
    """The top-level blocks of a file in HCL native syntax."""
    return parse_body(text).blocks


# Labels of the block types read from JSON syntax, and which keys of their bodies are nested blocks.
_JSON_LABELS = {"terraform": 0, "provider": 1, "module": 1, "resource": 2, "data": 2}
_JSON_NESTED = {"terraform": {"required_providers": 0, "backend": 1, "cloud": 0}}


def _json_value(value: Any) -> Value:
    if isinstance(value, str):
        # Every JSON string is a template: one that interpolates is an expression.
        return Template(value) if "${" in value or "%{" in value else value
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, bool | int | float):
        return value
    return None  # null: json.loads returns nothing else


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
        yield Block(attributes, blocks, block_type, labels, None)


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


def read_blocks(path: Path) -> Sequence[Block]:
    """The top-level blocks of one configuration file, in native (`.tf`) or JSON (`.tf.json`) syntax."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_json(text) if path.name.endswith(".json") else parse_native(text)


# -- calls in expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A function call in an expression: its name, its text as written and each argument's text as written."""

    name: str
    text: str
    arguments: tuple[str, ...]


# An interpolation or a directive that is not escaped (`$${` and `%%{` are literal text).
_INTERPOLATION_START = re.compile(r"(?<![$%])[$%]\{")


def find_calls(text: str, names: Collection[str], *, template: bool = False) -> Iterator[Call]:
    """Every call of a function in `names` in an expression's text (`template`: in a template's content, such
    as a JSON string), calls in arguments and in the interpolations of strings and heredocs included."""
    if template:
        for start in _INTERPOLATION_START.finditer(text):
            inner = start.end()
            yield from find_calls(text[inner : _interpolation_end(text, inner) - 1], names)
        return
    tokens = [token for token in _lex(text) if token.kind != "newline"]
    for at, token in enumerate(tokens):
        if token.kind == "template":
            # Only the interpolations are expressions: a `//` or `#` in the literal text is not a comment.
            yield from find_calls(text[token.start : token.end], names, template=True)
        elif (
            token.kind == "ident"
            and token.text in names
            and _is_punct(tokens[at + 1], "(")
            and not (at and _is_punct(tokens[at - 1], "."))  # `x.file(` is an attribute, not the function
        ):
            call = _call(text, tokens, at)
            if call is not None:
                yield call


def _is_punct(token: _Token, text: str) -> bool:
    return token.kind == "punct" and token.text == text


def _call(text: str, tokens: list[_Token], at: int) -> Call | None:
    """The call whose name is `tokens[at]` (its `(` next); None when it never closes."""
    depth, start, arguments = 0, at + 2, []
    for index in range(at + 2, len(tokens)):
        token = tokens[index]
        if token.kind == "eof":
            return None
        if token.kind != "punct":
            continue
        if depth == 0 and token.text in (",", ")"):
            if index > start:
                arguments.append(text[tokens[start].start : tokens[index - 1].end])
            start = index + 1
            if token.text == ")":
                return Call(str(tokens[at].text), text[tokens[at].start : token.end], tuple(arguments))
        elif token.text in _OPENING:
            depth += 1
        elif token.text in _CLOSING:
            depth -= 1
    return None


# -- facts for the workspace -------------------------------------------------------------------------


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


def _is_aws_source(source: str | None) -> bool:
    normalised = (source or "").strip().lower().removeprefix(DEFAULT_REGISTRY)
    return normalised == AWS_SOURCE


def _requirement(spec: Value) -> dict[str, str | None]:
    """A required_providers entry as written; `aws = "~> 5.0"` is the pre-0.13 form: a version, and the
    source implied by the name."""
    written: Mapping[str, Value] = spec if isinstance(spec, dict) else {"version": spec}
    return {key: value if isinstance(value, str) else None for key, value in written.items()}


def _collect_facts(blocks: Sequence[Block], module: ModuleConfig) -> None:
    for block in blocks:
        if block.type == "terraform":
            for required in block.nested("required_providers"):
                for local_name, spec in required.attributes.items():
                    requirement = module.provider_requirements[local_name] = _requirement(spec)
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
        _collect_facts(read_blocks(path), module)
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
