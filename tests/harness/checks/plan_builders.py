"""Plans, states and configurations written by hand, for checks that read them without a deploy.

Each builder writes the JSON shape terraform writes (`terraform show -json` of a plan, a state file), only
the parts a check reads: `planned` a plan's resource, `unknown` marks an attribute known only after apply,
`stateful` a state's resource instance. The tests/corpus configurations run the same checks on real
plans and states, so a shape written wrong here shows there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackprobe.backends.base import AwsBackend
from stackprobe.checks.base import CheckContext
from stackprobe.terraform.plan import Plan

# Never contacted: the checks these builders serve read a plan, a state or files.
OFFLINE = AwsBackend("offline (no AWS call is made)", "http://127.0.0.1:9", "eu-west-1", "123456789012")


def planned(address: str, values: Mapping[str, Any], unknown: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One planned resource at `address` (`module.m.aws_x.y[0]` too); `unknown` as after_unknown says it."""
    parts = address.split(".")
    kind, name = parts[-2], parts[-1].split("[")[0]
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name,
        "values": dict(values),
        "unknown": dict(unknown or {}),
    }


def plan(*resources: dict[str, Any], configuration: Mapping[str, Any] | None = None, **raw: Any) -> Plan:
    """A plan of these resources (all in the root module's planned values, whatever their address says)."""
    values = [{k: v for k, v in r.items() if k != "unknown"} for r in resources]
    changes = [
        {"address": r["address"], "mode": "managed", "type": r["type"], "change": {"after_unknown": r["unknown"]}}
        for r in resources
    ]
    document: dict[str, Any] = {
        "planned_values": {"root_module": {"resources": values}},
        "resource_changes": changes,
        **raw,
    }
    if configuration is not None:
        document["configuration"] = dict(configuration)
    return Plan(document)


def stateful(kind: str, name: str, attributes: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """One managed resource of a state file with one instance (`module=`, `index_key=`, `dependencies=`)."""
    instance: dict[str, Any] = {"attributes": dict(attributes), "dependencies": list(extra.pop("dependencies", []))}
    if "index_key" in extra:
        instance["index_key"] = extra.pop("index_key")
    resource: dict[str, Any] = {"mode": "managed", "type": kind, "name": name, "instances": [instance]}
    if "module" in extra:
        resource["module"] = extra.pop("module")
    return resource


def state(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"version": 4, "terraform_version": "1.11.4", "resources": list(resources)}


def context(**fields: Any) -> CheckContext:
    """A context around the offline backend (plan, state, source_dir, environment, ...)."""
    return CheckContext(backend=OFFLINE, **fields)


def write(root: Path, files: Mapping[str, str]) -> Path:
    """Write `files` (name -> text) under `root`, and return it."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
