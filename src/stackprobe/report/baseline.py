"""Baseline files: the findings a configuration had when the gate was adopted, so that only new ones fail.

`stackprobe audit DIR --write-baseline FILE` writes one; `--baseline FILE` (and the plugin's
`--stackprobe-baseline`) reads it. The file is versioned JSON, sorted so that rewriting it after an unchanged
run changes nothing, and made of what stays the same between runs of the same configuration: check ids and
Terraform addresses. Evidence is never recorded (it holds ids the emulator makes up on every apply); a finding
without an address is recorded by its resource with those ids masked (stackprobe.report.improvements.stable).

    {
      "stackprobe_baseline": 1,
      "directory": "infra/prod",
      "findings": [
        {"check": "network.flow-logs", "resource": "vpc-…"},
        {"check": "s3.access-logging", "address": "aws_s3_bucket.site"}
      ]
    }

`directory` is the root module the baseline was written for, relative to the file's own directory, so the
file works in any checkout; reading it for another directory is an error, as is anything else in it that is
not this format.

A baseline matches per check and resource: a second defect of the same check on a resource that already had
one is not told apart from the first (the evidence that would tell them apart changes between runs).

This module reads and writes files only (no check, no report): the plugin validates a baseline with it at
session start without importing the checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.errors import StackprobeError

FORMAT_KEY = "stackprobe_baseline"
FORMAT_VERSION = 1


class BaselineError(StackprobeError):
    """A baseline file that cannot be used: missing, corrupt, of another format, or of another directory."""


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted finding: a check on a Terraform address (or, with no address, on a masked resource)."""

    check: str
    address: str | None = None
    resource: str | None = None

    def describe(self) -> str:
        return f"{self.check} on {self.address or self.resource}"

    def sort_key(self) -> tuple[str, str, str]:
        return self.check, self.address or "", self.resource or ""

    def to_json(self) -> dict[str, str]:
        where = {"address": self.address} if self.address is not None else {"resource": self.resource or ""}
        return {"check": self.check, **where}


@dataclass(frozen=True)
class Baseline:
    path: Path
    directory: Path  # the root module it was written for, resolved
    entries: frozenset[BaselineEntry]

    def require_directory(self, tf_dir: Path) -> None:
        """BaselineError unless this baseline was written for `tf_dir`."""
        if self.directory != tf_dir.resolve():
            raise BaselineError(
                f"The baseline {self.path} was written for {self.directory}, not {tf_dir.resolve()}",
                f"pass the baseline written for this directory, or write one: stackprobe audit {tf_dir} "
                f"--write-baseline FILE.",
            )


def _corrupt(path: Path, what: str) -> BaselineError:
    return BaselineError(
        f"The baseline {path} is not usable: {what}",
        f"write it again with `stackprobe audit DIR --write-baseline {path}` (or restore it from version control).",
    )


def _entry(path: Path, index: int, item: Any) -> BaselineEntry:
    if not isinstance(item, dict) or not isinstance(item.get("check"), str):
        raise _corrupt(path, f'finding {index + 1} is not an object with a "check" string')
    where = {key: item[key] for key in ("address", "resource") if key in item}
    if len(where) != 1 or not all(isinstance(value, str) and value for value in where.values()):
        raise _corrupt(path, f'finding {index + 1} ({item["check"]}) needs exactly one of "address" or "resource"')
    unknown = sorted(set(item) - {"check", "address", "resource"})
    if unknown:
        raise _corrupt(path, f"finding {index + 1} ({item['check']}) has unknown keys {', '.join(unknown)}")
    return BaselineEntry(item["check"], item.get("address"), item.get("resource"))


def read_baseline(path: Path) -> Baseline:
    """The baseline in `path`; BaselineError naming the file and what is wrong with it."""
    if not path.is_file():
        raise BaselineError(
            f"The baseline {path} does not exist",
            f"write it first on the unchanged configuration: stackprobe audit DIR --write-baseline {path}.",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"it cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"it is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or FORMAT_KEY not in data:
        raise _corrupt(path, f'it is not a stackprobe baseline (no "{FORMAT_KEY}" key)')
    if data[FORMAT_KEY] != FORMAT_VERSION:
        raise _corrupt(path, f"it is format {data[FORMAT_KEY]!r}; this stackprobe reads format {FORMAT_VERSION}")
    directory, findings = data.get("directory"), data.get("findings")
    if not isinstance(directory, str) or not directory:
        raise _corrupt(path, 'it names no "directory" (the root module it was written for)')
    if not isinstance(findings, list):
        raise _corrupt(path, '"findings" is not a list')
    entries = frozenset(_entry(path, index, item) for index, item in enumerate(findings))
    return Baseline(path, (path.parent / directory).resolve(), entries)


def load_baseline(path: Path, tf_dir: Path) -> Baseline:
    """The baseline in `path`, which must have been written for `tf_dir` (BaselineError otherwise)."""
    baseline = read_baseline(path)
    baseline.require_directory(tf_dir)
    return baseline


def write_baseline(path: Path, tf_dir: Path, entries: Iterable[BaselineEntry]) -> Baseline:
    """Write `entries` as the baseline of `tf_dir` to `path`, and return it.

    One finding per line, sorted: a change that fixes a finding removes exactly its line from the diff.
    """
    unique = frozenset(entries)
    directory = Path(os.path.relpath(tf_dir.resolve(), path.resolve().parent)).as_posix()
    items = ",\n".join(
        f"    {json.dumps(entry.to_json(), ensure_ascii=False)}" for entry in sorted(unique, key=BaselineEntry.sort_key)
    )
    findings = f"[\n{items}\n  ]" if items else "[]"
    header = f'"{FORMAT_KEY}": {FORMAT_VERSION},\n  "directory": {json.dumps(directory)}'
    text = f'{{\n  {header},\n  "findings": {findings}\n}}\n'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Baseline(path, tf_dir.resolve(), unique)
