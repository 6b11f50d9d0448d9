"""SARIF 2.1.0 from a RunReport, so code scanning and SARIF viewers annotate the Terraform lines at fault.

- One rule per check that ran (its id, title, severity, category, fidelity, why and fix; the help text is
  the why and the fix), one result per failing finding, with the evidence as the message.
- Each result's physical location is the file and first line of the block that declares the finding's
  address (stackprobe.terraform.locations). A configuration-level finding about a file (a var file holding
  a secret, the backend block, a committed key, a root module without version constraints) is located at
  the file it names as its resource and the line its evidence leads with (`secret.tfvars:3 (...)`,
  `backend.tf:2: ...`; the source checks' convention), when its address does not locate it. A finding that
  cannot be located points at the nearest enclosing module call or the root module, and says why: none is
  dropped.
- URIs are relative to the repository root (the git top level of the root module) when there is one
  (`uriBaseId` REPOROOT), so code scanning, which reads a relative URI as relative to the repository root,
  annotates the right file wherever the configuration sits in the repository; outside a repository they are
  relative to the root module (`uriBaseId` ROOTMODULE). `originalUriBaseIds` maps both to their directories.
  A file outside both (a var file given from elsewhere) gets an absolute `file:` URI.
- An accepted finding (stackprobe.report.gate) is a result like any other, with a `suppressions` entry: kind
  `inSource` and the skip comment's file and line for a `# stackprobe:skip` comment, kind `external` for the
  baseline; the justification is the reason. Code scanning then shows it as suppressed, not open. Baseline
  entries that no longer occur are the run's `baseline` property.
- A check that errored, and a run error, are tool execution notifications, and make the invocation
  unsuccessful. A provider tested at another version than the configuration asks (--provider-fallback) is a
  warning notification, and the run's `providerFallbacks` property.

GitHub code scanning ignores `uriBaseId` and reads a relative URI as relative to the repository root;
`with_absolute_uris` resolves the base ids, and code scanning makes the absolute URIs relative to the
checkout (action.yml still does this before uploading, `python -m stackprobe.report.sarif --absolute IN
OUT`, which a repository-relative log no longer needs but does not harm).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from stackprobe import __version__
from stackprobe.checks.base import Category, Check, Finding, Severity, Status
from stackprobe.report.improvements import stable
from stackprobe.report.model import Acceptance, AcceptedBy, RunReport
from stackprobe.terraform.locations import SourceIndex, SourceLocation

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT_BASE_ID = "ROOTMODULE"
REPO_BASE_ID = "REPOROOT"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub ranks security alerts by `security-severity` (critical above 9.0, high 7.0-8.9, medium 4.0-6.9,
# low below 4.0); an informational check has none.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}
FINGERPRINT = "stackprobeFinding/v1"


def _rule(check: Check) -> dict[str, Any]:
    help_markdown = f"**Why it matters.** {check.why}\n\n**Fix.** {check.fix}"
    if check.reference:
        help_markdown += f"\n\n**In stackprobe's reference stack:** `{check.reference}`."
    tags = [check.category.value, check.fidelity.value]
    if check.category == Category.SECURITY:
        tags.append("security")
    properties: dict[str, Any] = {
        "tags": tags,
        "severity": check.severity.label,
        "category": check.category.value,
        "fidelity": check.fidelity.value,
        "precision": "high",
        "problem.severity": {"error": "error", "warning": "warning"}.get(LEVELS[check.severity], "recommendation"),
    }
    if check.severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[check.severity]
    return {
        "id": check.id,
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.why},
        "help": {"text": f"Why it matters: {check.why}\n\nFix: {check.fix}", "markdown": help_markdown},
        "defaultConfiguration": {"level": LEVELS[check.severity]},
        "properties": properties,
    }


def repository_root(directory: Path) -> Path | None:
    """The git top level holding `directory`, or None (no git, or not in a repository)."""
    git = shutil.which("git")
    if git is None or not directory.is_dir():
        return None
    found = subprocess.run(
        [git, "-C", str(directory), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    top = found.stdout.strip()
    return Path(top).resolve() if found.returncode == 0 and top else None


@dataclass(frozen=True)
class Bases:
    """Where relative URIs start: the repository root when there is one, else the root module."""

    root: Path  # the root module, resolved
    base: Path  # what URIs are relative to
    base_id: str

    @classmethod
    def of(cls, root_module: Path) -> Bases:
        root = root_module.resolve()
        top = repository_root(root)
        return cls(root, top, REPO_BASE_ID) if top is not None else cls(root, root, ROOT_BASE_ID)

    def artifact(self, path_from_root: str) -> dict[str, str]:
        """The artifactLocation of a path relative to the root module (or absolute)."""
        target = Path(os.path.normpath(self.root / path_from_root))
        if target.is_relative_to(self.base):
            return {"uri": quote(target.relative_to(self.base).as_posix(), safe="/.-_~"), "uriBaseId": self.base_id}
        return {"uri": target.as_uri()}

    def original(self) -> dict[str, Any]:
        described = {
            ROOT_BASE_ID: (self.root, "The root module stackprobe was given."),
            REPO_BASE_ID: (self.base, "The repository root (git top level) holding the root module."),
        }
        return {
            name: {"uri": directory.as_uri() + "/", "description": {"text": text}}
            for name, (directory, text) in described.items()
            if name == ROOT_BASE_ID or self.base_id == REPO_BASE_ID
        }


# A location an evidence leads with: `backend.tf:2: ...`, `secret.tfvars:3 (a var file ...)`.
_LEADING_PLACE = re.compile(r"^(?P<path>[^\s:()][^\s:()]*?):(?P<line>\d+)\b")


def file_location(finding: Finding, root: Path) -> SourceLocation | None:
    """Where a configuration-level finding about a file is: the file its resource (or its evidence's leading
    `PATH:LINE`) names, if it exists, at that line (line 1, with a note, when none is given)."""
    leading = _LEADING_PLACE.match(finding.evidence)
    for candidate in (finding.resource, leading.group("path") if leading else None):
        if not candidate:
            continue
        path = Path(candidate)
        full = path if path.is_absolute() else root / path
        if not full.is_file():
            continue
        shown = os.path.relpath(full, root)
        if leading is not None and leading.group("path") == candidate:
            return SourceLocation(Path(shown).as_posix(), int(leading.group("line")))
        return SourceLocation(Path(shown).as_posix(), 1, f"the finding names {candidate} without a line")
    return None


def locate(finding: Finding, index: SourceIndex) -> SourceLocation:
    """The finding's block when its address locates one, else the file it names, else the index's fallback."""
    where = index.locate(finding.address)
    if where.note is None:
        return where
    return file_location(finding, index.root) or where


def _result(
    check: Check, rule_index: int, finding: Finding, index: SourceIndex | None, bases: Bases | None
) -> dict[str, Any]:
    severity = finding.severity or check.severity
    location: dict[str, Any] = {}
    message = finding.evidence
    if index is not None and bases is not None:
        where = locate(finding, index)
        location["physicalLocation"] = {
            "artifactLocation": bases.artifact(where.path),
            "region": {"startLine": where.line},
        }
        if where.note:
            location["message"] = {"text": where.note}
            message = f"{message} (location: {where.note})"
    if finding.address:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.address, "kind": "resource"}]
    identity = f"{check.id}\n{finding.address or stable(finding.resource)}"
    return {
        "ruleId": check.id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": LEVELS[severity],
        "message": {"text": message},
        "locations": [location] if location else [],
        "partialFingerprints": {FINGERPRINT: hashlib.sha256(identity.encode()).hexdigest()},
        "properties": {
            "severity": severity.label,
            "address": finding.address,
            "resource": finding.resource,
        },
    }


def _suppression(acceptance: Acceptance, bases: Bases | None) -> dict[str, Any]:
    suppression: dict[str, Any] = {"status": "accepted"}
    if acceptance.by is AcceptedBy.INLINE:
        suppression["kind"] = "inSource"
        suppression["justification"] = acceptance.reason
        artifact = (
            bases.artifact(acceptance.path)
            if bases is not None
            else {"uri": quote(acceptance.path, safe="/.-_~"), "uriBaseId": ROOT_BASE_ID}
        )
        suppression["location"] = {
            "physicalLocation": {"artifactLocation": artifact, "region": {"startLine": acceptance.line or 1}}
        }
    else:
        suppression["kind"] = "external"
        suppression["justification"] = f"in the baseline {acceptance.path}: known before this change"
    return suppression


def to_sarif_log(report: RunReport) -> dict[str, Any]:
    """The SARIF log of one run, as a JSON-ready dictionary."""
    index = SourceIndex(report.source_dir) if report.source_dir is not None else None
    bases = Bases.of(report.source_dir) if report.source_dir is not None else None
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for check_result in report.results:
        check = check_result.check
        if check.id not in rule_index:
            rule_index[check.id] = len(rules)
            rules.append(_rule(check))
        if check_result.status == Status.ERROR:
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{check.id} could not run: {check_result.error}"},
                    "associatedRule": {"id": check.id, "index": rule_index[check.id]},
                }
            )
        for finding in check_result.failures:
            result = _result(check, rule_index[check.id], finding, index, bases)
            acceptance = report.accepted.get(finding)
            if acceptance is not None:
                result["suppressions"] = [_suppression(acceptance, bases)]
            results.append(result)
    notifications += [{"level": "error", "message": {"text": error}} for error in report.errors]
    # A warning, not an error: the run did what it was asked (--provider-fallback), on another provider version.
    fallbacks = [f"provider fallback: {pinned.describe()}" for pinned in report.provider_fallbacks]
    warnings = [{"level": "warning", "message": {"text": text}} for text in fallbacks]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "stackprobe",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "invocations": [
            {
                "executionSuccessful": not notifications,
                "toolExecutionNotifications": warnings + notifications,
                "properties": {"command": report.title, "stack": report.stack, "backend": report.backend},
            }
        ],
        "results": results,
        "properties": {
            "counts": report.counts(),
            "limitations": report.limitations,
            "providerFallbacks": [
                {"source": f.source, "tested": f.tested, "asked": f.asked, "summary": f.describe()}
                for f in report.provider_fallbacks
            ],
        },
    }
    if report.baseline is not None:
        run["properties"]["baseline"] = {"file": report.baseline, "noLongerOccur": report.no_longer_occur}
    if bases is not None:
        run["originalUriBaseIds"] = bases.original()
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def to_sarif(report: RunReport) -> str:
    return json.dumps(to_sarif_log(report), indent=2) + "\n"


def with_absolute_uris(log: dict[str, Any]) -> dict[str, Any]:
    """The same log with every artifact location that names a base id resolved against the run's
    `originalUriBaseIds` into an absolute URI (for consumers that ignore `uriBaseId`, like code scanning)."""
    resolved = copy.deepcopy(log)
    for run in resolved.get("runs") or []:
        bases = {name: entry.get("uri", "") for name, entry in (run.get("originalUriBaseIds") or {}).items()}

        def walk(node: Any, bases: dict[str, str] = bases) -> None:
            if isinstance(node, dict):
                base = bases.get(node.get("uriBaseId", ""))
                if base and "uri" in node:
                    node["uri"] = urljoin(base, node["uri"])
                    del node["uriBaseId"]
                for key, value in node.items():
                    if key != "originalUriBaseIds":
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(run)
    return resolved


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackprobe.report.sarif", description=with_absolute_uris.__doc__)
    parser.add_argument("--absolute", action="store_true", required=True, help="resolve uriBaseId into absolute URIs")
    parser.add_argument("source", type=Path, help="a SARIF file stackprobe wrote")
    parser.add_argument("target", type=Path, help="where to write the resolved SARIF")
    args = parser.parse_args(argv)
    try:
        log = json.loads(args.source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"stackprobe: cannot read SARIF from {args.source}: {exc}\n")
        return 2
    args.target.write_text(json.dumps(with_absolute_uris(log), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
