"""A small model over `terraform show -json` of a saved plan.

Two things make raw plan JSON awkward in tests, and this model handles both:
- values unknown until apply are absent from `after` and flagged in `after_unknown`; `Unknown` (the one
  `KnownAfterApply`) stands in for them, so a test can tell "not set" from "known only after apply", and
  using one as data fails with UnknownValueError saying so;
- resources in child modules are nested; `resources()` flattens every module into one list of
  `PlannedResource` with full addresses.
Resource types are read through `canonical_type` (an `aws_alb` is an `aws_lb`); addresses keep the
configuration's spelling.
`subset_mismatches` implements partial expectations: a test states only the attributes it cares
about, so provider defaults added in new releases do not break it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.terraform.resource_types import canonical_type


class UnknownValueError(TypeError):
    """A value known only after apply was used as if it were known (read as a string, indexed, iterated...)."""


class KnownAfterApply:
    """What a planned value is when terraform knows it only after apply (an ARN, a rendered
    `container_definitions`): the one instance is `Unknown`.

    It compares equal only to itself (`value is Unknown`, `value == Unknown`), prints as `(known after
    apply)`, and any use as data (indexing, iterating, len, `in`, int/float) raises UnknownValueError naming
    what to do, instead of a TypeError about a private class deep inside the caller.
    """

    _instance: KnownAfterApply | None = None

    def __new__(cls) -> KnownAfterApply:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return hash(KnownAfterApply)

    def _refuse(self, *_: object) -> Any:
        raise UnknownValueError(
            "this planned value is known only after apply, so the plan cannot say what it is: test "
            "`value is Unknown` here, or assert it on the deployed stack (the `deployed_stack` / `aws` fixtures)"
        )

    __getitem__ = _refuse
    __iter__ = _refuse
    __len__ = _refuse
    __contains__ = _refuse
    __int__ = _refuse
    __float__ = _refuse


Unknown = KnownAfterApply()


def _merge_unknown(value: Any, unknown: Any) -> Any:
    if unknown is True:
        return Unknown
    if isinstance(value, dict) and isinstance(unknown, dict):
        merged = dict(value)
        for key, flag in unknown.items():
            merged[key] = _merge_unknown(value.get(key), flag)
        return merged
    if isinstance(value, list) and isinstance(unknown, list):
        padded = list(value) + [None] * max(0, len(unknown) - len(value))
        return [_merge_unknown(v, unknown[i] if i < len(unknown) else False) for i, v in enumerate(padded)]
    return value


@dataclass(frozen=True)
class PlannedResource:
    address: str
    type: str  # canonical: an aws_alb_listener reads as aws_lb_listener (its address keeps aws_alb_)
    name: str
    mode: str
    module: str | None
    values: dict[str, Any]

    def get(self, path: str, default: Any = None) -> Any:
        """Attribute by dotted path; list indexes as numbers (`ingress.0.from_port`)."""
        return lookup(self.values, path, default)


@dataclass(frozen=True)
class AttributeChange:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str  # canonical, as PlannedResource.type
    actions: tuple[str, ...]
    before: Any
    after: Any
    reason: str | None = None

    @property
    def is_noop(self) -> bool:
        return self.actions in (("no-op",), ("read",))

    def attribute_changes(self) -> list[AttributeChange]:
        """Leaf-level before→after differences, with dotted paths."""
        changes: list[AttributeChange] = []
        _diff(self.before, self.after, "", changes)
        return changes


def _diff(before: Any, after: Any, path: str, out: list[AttributeChange]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            _diff(before.get(key), after.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _diff(old, new, f"{path}.{index}" if path else str(index), out)
    elif before != after and not (_empty(before) and _empty(after)):
        out.append(AttributeChange(path, before, after))


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def lookup(values: Any, path: str, default: Any = None) -> Any:
    current = values
    for part in path.split(".") if path else []:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


def subset_mismatches(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Where `actual` does not contain `expected` (dicts: listed keys only; lists: element-wise)."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path or '<root>'}: expected a mapping, found {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in actual:
                problems.append(f"{child}: missing (expected {value!r})")
            else:
                problems += subset_mismatches(actual[key], value, child)
        return problems
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) < len(expected):
            return [f"{path}: expected at least {len(expected)} items, found {len(actual)}"]
        problems = []
        for index, value in enumerate(expected):
            problems += subset_mismatches(actual[index], value, f"{path}.{index}")
        return problems
    if actual != expected:
        return [f"{path or '<root>'}: expected {expected!r}, found {actual!r}"]
    return []


class Plan:
    """Query helpers over a plan's JSON."""

    def __init__(self, raw: dict[str, Any], path: Path | None = None) -> None:
        self.raw = raw
        # The saved plan file this JSON was shown from, when there is one (apply can reuse it).
        self.path = path

    # configuration ---------------------------------------------------------------------------
    def declared_addresses(self) -> frozenset[str]:
        """Every resource address the configuration declares (`module.db.aws_db_instance.main`, without instance
        keys), planned or not: a resource whose count is 0 in this run is declared all the same."""
        found: set[str] = set()
        pending = [("", self.raw.get("configuration", {}).get("root_module", {}))]
        while pending:
            prefix, module = pending.pop()
            found.update(f"{prefix}{r['address']}" for r in module.get("resources", []) if "address" in r)
            pending += [(f"{prefix}module.{name}.", call.get("module", {})) for name, call in
                        (module.get("module_calls") or {}).items()]
        return frozenset(found)

    # planned values --------------------------------------------------------------------------
    def _modules(self) -> Iterator[dict[str, Any]]:
        pending = [self.raw.get("planned_values", {}).get("root_module", {})]
        while pending:
            module = pending.pop()
            yield module
            pending += module.get("child_modules", [])

    def _unknown_by_address(self) -> dict[str, Any]:
        return {
            change["address"]: change.get("change", {}).get("after_unknown", {})
            for change in self.raw.get("resource_changes", [])
        }

    def resources(self, type_pattern: str = "*", mode: str = "managed") -> list[PlannedResource]:
        """Every planned resource whose type matches `type_pattern` (fnmatch; `aws_alb` finds `aws_lb` too,
        and the other way round), with unknowns marked."""
        unknown = self._unknown_by_address()
        pattern = canonical_type(type_pattern)
        found = []
        for module in self._modules():
            for resource in module.get("resources", []):
                kind = canonical_type(resource["type"])
                if resource.get("mode") != mode or not (
                    fnmatch.fnmatchcase(kind, pattern) or fnmatch.fnmatchcase(resource["type"], type_pattern)
                ):
                    continue
                values = _merge_unknown(resource.get("values", {}), unknown.get(resource["address"], {}))
                found.append(
                    PlannedResource(
                        address=resource["address"],
                        type=kind,
                        name=resource["name"],
                        mode=resource["mode"],
                        module=module.get("address"),
                        values=values,
                    )
                )
        return found

    def resource(self, address: str) -> PlannedResource:
        for resource in self.resources():
            if resource.address == address:
                return resource
        known = ", ".join(sorted(r.address for r in self.resources())[:20])
        raise KeyError(f"{address} is not in the plan (first addresses: {known})")

    def types(self) -> set[str]:
        return {resource.type for resource in self.resources()}

    def count(self, type_pattern: str = "*") -> int:
        return len(self.resources(type_pattern))

    def outputs(self) -> dict[str, Any]:
        return {
            name: (Unknown if output.get("value") is None and not output.get("sensitive") else output.get("value"))
            for name, output in self.raw.get("planned_values", {}).get("outputs", {}).items()
        }

    def variables(self) -> dict[str, Any]:
        return {name: spec.get("value") for name, spec in self.raw.get("variables", {}).items()}

    # changes ---------------------------------------------------------------------------------
    def changes(self) -> list[ResourceChange]:
        """Resource changes other than no-op and data-source reads."""
        found = []
        for change in self.raw.get("resource_changes", []):
            body = change.get("change", {})
            actions = tuple(body.get("actions", []))
            if change.get("mode") == "data":
                continue
            item = ResourceChange(
                address=change["address"],
                type=canonical_type(change["type"]),
                actions=actions,
                before=body.get("before"),
                after=_merge_unknown(body.get("after"), body.get("after_unknown", {})),
                reason=change.get("action_reason"),
            )
            if not item.is_noop:
                found.append(item)
        return found

    def provider_regions(self, provider: str = "aws") -> set[str]:
        """Regions the configuration's provider blocks name, as constants or through root variables."""
        variables = self.variables()
        regions: set[str] = set()
        for config in self.configuration().get("provider_config", {}).values():
            if config.get("name") != provider:
                continue
            expression = config.get("expressions", {}).get("region", {})
            if isinstance(expression.get("constant_value"), str):
                regions.add(expression["constant_value"])
            for reference in expression.get("references", []):
                if reference.startswith("var.") and isinstance(variables.get(reference[4:]), str):
                    regions.add(variables[reference[4:]])
        return regions

    def configuration(self) -> dict[str, Any]:
        return dict(self.raw.get("configuration", {}))

    def __repr__(self) -> str:
        return f"Plan({self.count()} resources, {len(self.changes())} changes)"
