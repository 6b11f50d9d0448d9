"""Sort the changes of a second plan into emulator drift (known, with a reason) and real drift.

A stack is idempotent when a plan right after apply proposes nothing. On moto some attributes come
back normalised (see `compat.KNOWN_DRIFT`), so the second plan is rarely empty; this module keeps
that from hiding real drift: a change counts as emulator drift only when *every* attribute it
touches matches a known-drift record for that resource type, and it is an in-place update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackprobe.backends.compat import KNOWN_DRIFT, KnownDrift, moto_version
from stackprobe.terraform.plan import AttributeChange, Plan, ResourceChange, Unknown


@dataclass(frozen=True)
class DriftEntry:
    address: str
    actions: tuple[str, ...]
    attributes: tuple[AttributeChange, ...]
    reason: str = ""

    def render(self) -> str:
        lines = [f"{self.address} ({', '.join(self.actions)}){': ' + self.reason if self.reason else ''}"]
        for change in self.attributes:
            lines.append(f"    {change.path}: {change.before!r} → {change.after!r}")
        return "\n".join(lines)


@dataclass
class DriftReport:
    emulator: list[DriftEntry] = field(default_factory=list)
    real: list[DriftEntry] = field(default_factory=list)

    @property
    def idempotent(self) -> bool:
        return not self.real

    def render(self) -> str:
        parts = []
        if self.real:
            parts.append("Real drift (the stack is not idempotent):")
            parts += [entry.render() for entry in self.real]
        if self.emulator:
            parts.append("Known emulator drift (not a defect of the stack):")
            parts += [entry.render() for entry in self.emulator]
        return "\n".join(parts) if parts else "The second plan is empty."


def _known(
    change: ResourceChange, attribute: AttributeChange, version: str, records: list[KnownDrift]
) -> KnownDrift | None:
    for record in records:
        if record.matches(change.type, attribute.path, version):
            return record
    return None


def classify(plan: Plan, *, moto_records: bool = True, records: list[KnownDrift] | None = None) -> DriftReport:
    """Split `plan.changes()` into emulator and real drift; `moto_records`: the emulator is one the moto
    compatibility records describe (stackprobe.backends.registry.BackendKind.moto_compatibility)."""
    records = KNOWN_DRIFT if records is None else records
    version = moto_version()
    report = DriftReport()
    for change in plan.changes():
        attributes = tuple(
            a for a in change.attribute_changes() if a.after is not Unknown or a.before is not None
        ) or tuple(change.attribute_changes())
        reasons = [_known(change, a, version, records) for a in attributes] if moto_records else [None]
        if change.actions == ("update",) and attributes and all(reasons):
            why = "; ".join(sorted({r.reason for r in reasons if r is not None}))
            report.emulator.append(DriftEntry(change.address, change.actions, attributes, why))
        else:
            report.real.append(DriftEntry(change.address, change.actions, attributes))
    return report
