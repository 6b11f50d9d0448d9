"""The compatibility layer itself: version pinning, idempotence, and loud failure when moto changes."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import ModuleType

import pytest

from stackprobe.backends import compat
from stackprobe.backends.compat import GapKind, KnownGap, MotoPatch, apply_patches, moto_version
from stackprobe.backends.compat import base as compat_base
from stackprobe.backends.compat._monkey import MotoShapeChanged, add, replace

pytestmark = pytest.mark.harness


def _fake(name: str, versions: str, calls: list[str]) -> MotoPatch:
    return MotoPatch(
        name=name,
        moto_versions=versions,
        kind=GapKind.DRIFT,
        resource_types=("aws_fake",),
        gap="fake gap",
        fix="fake fix",
        install=lambda: calls.append(name),
    )


@pytest.fixture
def fresh_layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    monkeypatch.setattr(compat, "_applied", [])
    monkeypatch.setattr(compat_base, "_INSTALLED", set())
    monkeypatch.setattr(
        compat,
        "PATCHES",
        [_fake("in-range", f"=={moto_version()}", calls), _fake("out-of-range", "<1.0", calls)],
    )
    yield calls


def test_apply_patches_applies_in_range_patches_once(fresh_layer: list[str]) -> None:
    first = apply_patches()
    second = apply_patches()

    assert fresh_layer == ["in-range"]
    assert [p.name for p in first] == [p.name for p in second] == ["in-range"]


def test_a_patch_installs_once_however_often_it_is_applied(fresh_layer: list[str]) -> None:
    """A second install would wrap moto's method in a second copy of the patch, not the original."""
    patch = compat.PATCHES[0]
    patch.apply()
    patch.apply()

    assert fresh_layer == ["in-range"]


def test_patch_outside_its_moto_range_is_not_applied(fresh_layer: list[str]) -> None:
    applied = apply_patches()

    assert "out-of-range" not in fresh_layer
    assert "out-of-range" not in [p.name for p in applied]
    assert not compat.PATCHES[1].applies_to(moto_version())


def test_every_registered_patch_covers_the_installed_moto() -> None:
    assert compat.PATCHES, "the registry lists no patch"
    uncovered = [p.name for p in compat.PATCHES if not p.applies_to(moto_version())]
    assert uncovered == []
    assert len({p.name for p in compat.PATCHES}) == len(compat.PATCHES)


def _moto_classes(module: ModuleType) -> list[type]:
    return [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__.startswith("moto.")]


def test_reapplying_every_patch_changes_nothing() -> None:
    apply_patches()
    modules = [inspect.getmodule(p.install) for p in compat.PATCHES]
    classes = {cls for module in modules if module is not None for cls in _moto_classes(module)}
    assert len(classes) >= len(compat.PATCHES) // 2, "the patch modules' moto classes were not found"
    before = {cls: dict(vars(cls)) for cls in classes}

    for patch in compat.PATCHES:
        patch.apply()

    after = {cls: dict(vars(cls)) for cls in classes}
    changed = [
        f"{cls.__name__}.{name}"
        for cls in classes
        for name in before[cls].keys() | after[cls].keys()
        if before[cls].get(name) is not after[cls].get(name)
    ]
    assert changed == []


def test_replace_and_add_refuse_a_moto_that_changed_shape() -> None:
    class Target:
        existing = 1

    with pytest.raises(MotoShapeChanged, match="no longer exists"):
        replace(Target, "missing", 2)
    with pytest.raises(MotoShapeChanged, match="exists already"):
        add(Target, "existing", 2)

    replace(Target, "existing", 3)
    add(Target, "added", 4)
    assert (Target.existing, Target.added) == (3, 4)  # type: ignore[attr-defined]


def test_registry_records_name_terraform_resource_types() -> None:
    records: list[MotoPatch | KnownGap] = [*compat.PATCHES, *compat.KNOWN_GAPS]
    for record in records:
        assert record.resource_types, record.name
        assert all(t.startswith("aws_") for t in record.resource_types), record.name
        assert record.gap.strip(), record.name
    assert len({g.name for g in compat.KNOWN_GAPS}) == len(compat.KNOWN_GAPS)
    assert not {p.name for p in compat.PATCHES} & {g.name for g in compat.KNOWN_GAPS}
    for drift in compat.KNOWN_DRIFT:
        assert drift.resource_type.startswith("aws_") and drift.reason.strip()
