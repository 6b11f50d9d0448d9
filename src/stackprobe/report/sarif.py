"""SARIF 2.1.0 from a RunReport, so code scanning and SARIF viewers annotate the Terraform lines at fault.

- One rule per check that ran (its id, title, severity, category, fidelity, why and fix; the help text is
  the why and the fix), one result per failing finding, with the evidence as the message.
- Each result's physical location is the file and first line of the block that declares the finding's
  address (stackprobe.terraform.locations), as a URI relative to the root module the run was given
  (`uriBaseId` ROOTMODULE, which `originalUriBaseIds` maps to that directory). A finding that cannot be
  located points at the nearest enclosing module call or the root module, and says why: none is dropped.
- A check that errored, and a run error, are tool execution notifications, and make the invocation
  unsuccessful.

GitHub code scanning ignores `uriBaseId` and reads a relative URI as relative to the repository root;
`with_absolute_uris` resolves the base ids, and code scanning makes the absolute URIs relative to the
checkout (action.yml does this before uploading: `python -m stackprobe.report.sarif --absolute IN OUT`).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from stackprobe import __version__
from stackprobe.checks.base import Category, Check, Finding, Severity, Status
from stackprobe.report.improvements import stable
from stackprobe.report.model import RunReport
from stackprobe.terraform.locations import SourceIndex, SourceLocation

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT_BASE_ID = "ROOTMODULE"
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


def _uri(location: SourceLocation) -> str:
    return quote(location.path, safe="/.-_~")


def _result(check: Check, rule_index: int, finding: Finding, index: SourceIndex | None) -> dict[str, Any]:
    severity = finding.severity or check.severity
    location: dict[str, Any] = {}
    message = finding.evidence
    if index is not None:
        where = index.locate(finding.address)
        location["physicalLocation"] = {
            "artifactLocation": {"uri": _uri(where), "uriBaseId": ROOT_BASE_ID},
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


def to_sarif_log(report: RunReport) -> dict[str, Any]:
    """The SARIF log of one run, as a JSON-ready dictionary."""
    index = SourceIndex(report.source_dir) if report.source_dir is not None else None
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
            results.append(_result(check, rule_index[check.id], finding, index))
    notifications += [{"level": "error", "message": {"text": error}} for error in report.errors]
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
                "toolExecutionNotifications": notifications,
                "properties": {"command": report.title, "stack": report.stack, "backend": report.backend},
            }
        ],
        "results": results,
        "properties": {"counts": report.counts(), "limitations": report.limitations},
    }
    if report.source_dir is not None:
        run["originalUriBaseIds"] = {
            ROOT_BASE_ID: {
                "uri": report.source_dir.resolve().as_uri() + "/",
                "description": {"text": "The root module stackprobe was given."},
            }
        }
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
