"""Inline skips: `# stackprobe:skip=CHECK reason="why"` comments that accept one check's findings on one block.

A legacy configuration keeps some findings on purpose (a bucket served through CloudFront logs needs no
access log of its own). The acceptance is written next to the block it is about, with its reason, so a
reviewer reads both in the diff:

    # stackprobe:skip=s3.access-logging reason="served through CloudFront logs"
    resource "aws_s3_bucket" "site" {
      # stackprobe:skip=s3.versioning,s3.encryption-kms reason="public site content, rebuilt from git on every deploy"
      bucket = "site"
    }

- The comment (`#` or `//`) stands inside the block (indented, as `terraform fmt` leaves it, or trailing the
  block's first line), or on the lines right above the block, with only comments between. Any other place
  is an error: a skip that accepts nothing, or the wrong block, must not pass unnoticed.
- It names one check id, or several separated by commas; each must be a check this stackprobe has.
- `reason="..."` is mandatory and must say something.
- A skip on a resource (or data source, variable, output, provider) block accepts the findings of those
  checks whose Terraform address that block declares, whichever instance (`[0]`, `["a"]`); in a local
  module, every instance of that module. A skip on a module call accepts those checks' findings on
  everything the call declares.

The comments are read from the raw text (the configuration reader skips comments); which block each one
belongs to comes from the reader's top-level blocks and their lines, and which block a finding is about from
stackprobe.terraform.locations, so a skip and a SARIF location always agree on the block. Known limit: the
text of a heredoc that looks like such a comment is read as one.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackprobe.errors import StackprobeError
from stackprobe.terraform.config import Block, configuration_files, read_blocks, read_tree
from stackprobe.terraform.locations import SourceIndex, parse_address

MARKER = "stackprobe:skip"
_COMMENT = re.compile(r"(?:#|//)\s*stackprobe:skip\b(?P<rest>.*)$")
_SKIP = re.compile(r'=(?P<ids>[^\s"]+)(?:\s+reason=(?P<reason>"(?:[^"\\]|\\.)*"))?\s*(?P<extra>.*)$')
_EXAMPLE = 'stackprobe:skip=CHECK_ID reason="why this finding is accepted"'


class SkipCommentError(StackprobeError):
    """A stackprobe:skip comment cannot be used: no reason, an unknown check, or no block beside it."""


@dataclass(frozen=True)
class InlineSkip:
    """One check accepted on one block, and why."""

    check_id: str
    reason: str
    path: str  # the comment's file, relative to the root module (POSIX separators), as SARIF locations are
    line: int  # the comment's line
    block_type: str  # the block it belongs to: resource, data, module, variable, ...
    block_labels: tuple[str, ...]
    block_line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def block(self) -> tuple[str, tuple[str, ...], str, int]:
        """The block it belongs to as a location compares: type, labels, file, line."""
        return self.block_type, self.block_labels, self.path, self.block_line


def _comment_at(line: str) -> re.Match[str] | None:
    """The skip comment on `line`, unless the marker stands inside a string (an odd number of quotes before)."""
    for match in _COMMENT.finditer(line):
        if line[: match.start()].replace('\\"', "").count('"') % 2 == 0:
            return match
    return None


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(("#", "//"))


def _block_of(number: int, lines: Sequence[str], match: re.Match[str], blocks: dict[int, Block]) -> Block | None:
    """The top-level block the comment on line `number` belongs to (see the module docstring), or None."""
    if number in blocks:
        return blocks[number]
    text = lines[number - 1]
    inside = text[:1] in (" ", "\t") or text[: match.start()].strip() != ""
    if inside:
        before = [line for line in blocks if line < number]
        return blocks[max(before)] if before else None
    following = number + 1
    while following <= len(lines) and _is_comment(lines[following - 1]):
        following += 1
    return blocks.get(following)


def _parse(rest: str, known: Collection[str]) -> tuple[list[str], str]:
    """(check ids, reason) from what follows the marker; ValueError saying what is wrong and how to write it."""
    match = _SKIP.match(rest)
    if match is None:
        raise ValueError("names no check")
    ids = [name.strip() for name in match["ids"].split(",") if name.strip()]
    if match["extra"]:
        raise ValueError(f"has {match['extra']!r} after its reason, which is not understood")
    try:
        reason = json.loads(match["reason"]).strip() if match["reason"] else ""
    except ValueError:
        raise ValueError("has a reason that is not a valid quoted string") from None
    if not reason:
        raise ValueError("gives no reason (a skip must say why)")
    unknown = [name for name in ids if name not in known]
    if unknown:
        hints = [difflib.get_close_matches(name, list(known), n=1, cutoff=0.5) for name in unknown]
        named = ", ".join(
            name + (f" (did you mean {hint[0]}?)" if hint else "") for name, hint in zip(unknown, hints, strict=True)
        )
        raise ValueError(f"names no check stackprobe has: {named}")
    return ids, reason


def shown_path(path: Path) -> str:
    """A file as the user would type it: relative to the working directory when under it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def file_skips(path: Path, root: Path, known: Collection[str], problems: list[str]) -> list[InlineSkip]:
    """The skips written in one file (`problems` gets `file:line: what is wrong` for each unusable one)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if MARKER not in text:
        return []
    lines = text.splitlines()
    blocks = {block.line: block for block in read_blocks(path) if block.line is not None}
    relative = Path(os.path.relpath(path, root)).as_posix()
    found: list[InlineSkip] = []
    for number, line in enumerate(lines, start=1):
        match = _comment_at(line)
        if match is None:
            continue
        block = _block_of(number, lines, match, blocks)
        try:
            if block is None:
                raise ValueError("is neither inside a block nor on the lines right above one")
            ids, reason = _parse(match["rest"], known)
        except ValueError as exc:
            problems.append(f"{shown_path(path)}:{number}: the {MARKER} comment {exc}")
            continue
        found += [InlineSkip(i, reason, relative, number, block.type, block.labels, block.line or number) for i in ids]
    return found


def _labels(mode: str, type_: str | None, name: str | None) -> tuple[str, ...]:
    """The labels of the block an address of this mode names: `variable "V"`, `provider "P"`, `resource "T" "N"`."""
    if mode in ("variable", "output"):
        return (name or "",)
    if mode == "provider":
        return (type_ or "",)
    return (type_ or "", name or "")


class InlineSkips:
    """The skips of one root module and the local modules it calls, and the one that accepts a given finding."""

    def __init__(self, root: Path, skips: Sequence[InlineSkip]) -> None:
        self.index = SourceIndex(root)
        self.skips = tuple(skips)

    def find(self, check_id: str, address: str | None) -> InlineSkip | None:
        """The skip of `check_id` written on the block that declares `address`, or on a module call holding it."""
        candidates = [skip for skip in self.skips if skip.check_id == check_id]
        if not candidates or not address:
            return None
        try:
            parsed = parse_address(address)
        except ValueError:
            return None
        # (block type, labels, the address to locate): each enclosing module call, then the declaring block.
        places: list[tuple[str, tuple[str, ...], str]] = [
            ("module", (name,), ".".join(f"module.{m}" for m in parsed.modules[: i + 1]))
            for i, name in enumerate(parsed.modules)
        ]
        if parsed.mode is not None:
            places.append((parsed.mode, _labels(parsed.mode, parsed.type, parsed.name), address))
        for kind, labels, located in places:
            where = self.index.locate(located)
            for skip in candidates:
                if skip.block == (kind, labels, where.path, where.line):
                    return skip
        return None


def read_skips(root: Path, known: Collection[str]) -> InlineSkips:
    """Every skip in `root` and the local modules it calls; SkipCommentError naming each unusable one's file:line."""
    root = root.resolve()
    problems: list[str] = []
    skips = [
        skip
        for directory in sorted(read_tree(root))
        for path in configuration_files(directory)
        if path.suffix == ".tf"
        for skip in file_skips(path, root, known, problems)
    ]
    if problems:
        raise SkipCommentError(
            f"{len(problems)} {MARKER} comment{'s' if len(problems) > 1 else ''} cannot be used",
            f"write each as `# {_EXAMPLE}`, inside the block whose findings it accepts or on the lines right above "
            "it; or remove it.",
            "; ".join(problems) + ".",
        )
    return InlineSkips(root, skips)
