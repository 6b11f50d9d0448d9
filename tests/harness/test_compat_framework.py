"""The compatibility layer itself: version pinning, idempotence, moto-free imports, and loud failure when
moto changes shape."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import replace as replace_field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from stackprobe.backends import compat
from stackprobe.backends.compat import SUPPORTED_MOTO, GapKind, KnownGap, MotoPatch, apply_patches, moto_version
from stackprobe.backends.compat import base as compat_base
from stackprobe.backends.compat._monkey import ShapeMismatch, add, replace
from stackprobe.errors import MotoShapeChanged, StackprobeError

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]


def _fake(name: str, versions: str, install: Callable[[], None]) -> MotoPatch:
    return MotoPatch(
        name=name,
        moto_versions=versions,
        kind=GapKind.DRIFT,
        resource_types=("aws_fake",),
        gap="fake gap",
        fix="fake fix",
        install=install,
        canary=lambda moto: [],
    )


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """An empty record of installed patches (restored after the test: the real patches stay installed)."""
    fresh: set[str] = set()
    monkeypatch.setattr(compat_base, "_INSTALLED", fresh)
    monkeypatch.setattr(compat, "_applied", [])
    return fresh


@pytest.fixture
def fresh_layer(monkeypatch: pytest.MonkeyPatch, installed: set[str]) -> Iterator[list[str]]:
    calls: list[str] = []
    monkeypatch.setattr(
        compat,
        "PATCHES",
        [
            _fake("in-range", f"=={moto_version()}", lambda: calls.append("in-range")),
            _fake("out-of-range", "<1.0", lambda: calls.append("out-of-range")),
        ],
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


def test_every_registered_patch_covers_the_installed_moto_unless_moto_fixed_its_gap() -> None:
    assert compat.PATCHES, "the registry lists no patch"
    installed = Version(moto_version())
    uncovered = [
        p.name
        for p in compat.PATCHES
        if not p.applies_to(str(installed)) and (p.fixed_in is None or installed < Version(p.fixed_in))
    ]
    assert uncovered == []
    assert len({p.name for p in compat.PATCHES}) == len(compat.PATCHES)


def test_a_patch_fixed_upstream_mends_only_the_releases_before_the_fix() -> None:
    patch = replace_field(_fake("fixed", SUPPORTED_MOTO, lambda: None), fixed_in="5.2.6")

    assert patch.applies_to("5.2.5")
    assert not patch.applies_to("5.2.6") and not patch.applies_to("5.2.9")
    assert patch.mends_text() == ">=5.2.5,<5.2.6"
    assert patch.status("5.2.5").startswith("active: moto 5.2.5 has the gap")
    assert patch.status("5.2.7") == "inactive: moto fixed the gap upstream in 5.2.6 (the patch mends >=5.2.5,<5.2.6)"
    assert patch.status("5.3.0").startswith("inactive: moto 5.3.0 is outside the versions the patch was written for")


def test_stackprobe_compat_lists_active_and_inactive_patches_for_the_installed_moto(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from stackprobe.cli import main

    assert main(["compat"]) == 0
    printed = capsys.readouterr().out
    installed = moto_version()

    assert printed.startswith(f"moto {installed} installed (supported: {SUPPORTED_MOTO}")
    for patch in compat.PATCHES:
        assert f"patch {patch.name} [{patch.kind.value}] {patch.status(installed)}" in printed
    active = sum(p.applies_to(installed) for p in compat.PATCHES)
    assert f"{active} of {len(compat.PATCHES)} patches active" in printed


def test_the_checked_moto_is_the_one_the_lock_installs() -> None:
    """CHECKED_MOTO tells users which moto the canaries last ran on: the lock's, since `make test` runs them."""
    lock = (REPO / "requirements" / "dev.lock").read_text()
    locked = re.search(r"^moto==(\S+)", lock, re.MULTILINE)

    assert locked is not None, "requirements/dev.lock pins no moto"
    assert locked.group(1) == compat_base.CHECKED_MOTO, (
        f"requirements/dev.lock installs moto {locked.group(1)}, CHECKED_MOTO says {compat_base.CHECKED_MOTO}: once "
        "the canaries pass on the locked moto, set CHECKED_MOTO to it (src/stackprobe/backends/compat/base.py)"
    )


def test_the_supported_moto_range_is_the_one_pyproject_pins() -> None:
    """One range, stated twice only because pip reads one copy and the patches the other: they must agree."""
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = next(Requirement(d) for d in dependencies if Requirement(d).name == "moto")

    assert pinned.specifier == SpecifierSet(SUPPORTED_MOTO), (
        f"pyproject.toml pins moto{pinned.specifier}, compat.SUPPORTED_MOTO is {SUPPORTED_MOTO}: make them the same "
        "(src/stackprobe/backends/compat/base.py)"
    )


def test_importing_the_compatibility_layer_loads_no_moto() -> None:
    """A moto that renamed something must not break importing the harness (or its pytest plugin)."""
    code = (
        "import json, sys\n"
        "import stackprobe.backends.compat, stackprobe.backends.compat.base, stackprobe.backends.compat.registry\n"
        "import stackprobe.backends.compat.table, stackprobe.backends.compat.canaries\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'moto' or m.startswith('moto.'))))\n"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)

    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == [], f"reproduce with: {sys.executable} -c {code!r}"


def _defined_in(value: object) -> str | None:
    """The module that defined a function, or the function behind a property or staticmethod."""
    if isinstance(value, property):
        value = value.fget
    elif isinstance(value, staticmethod):
        value = value.__func__
    return getattr(value, "__module__", None) if inspect.isfunction(value) else None


def _moto_namespaces() -> dict[str, dict[str, object]]:
    """A copy of the namespace of every loaded moto module, and of every class such a module defines."""
    spaces: dict[str, dict[str, object]] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "moto" or name.startswith("moto.")):
            continue
        spaces[name] = dict(vars(module))
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == name:
                spaces[f"{name}.{value.__qualname__}"] = dict(vars(value))
    return spaces


def test_reapplying_every_patch_changes_nothing() -> None:
    active = apply_patches()
    before = _moto_namespaces()
    installers = {p.install.__module__ for p in active}
    seen = {_defined_in(value) for space in before.values() for value in space.values()}
    assert installers <= seen, f"the snapshot misses what these patches installed: {sorted(installers - seen)}"

    for patch in active:
        patch.apply()

    after = _moto_namespaces()
    changed = [
        f"{space}.{name}"
        for space in before
        for name in before[space].keys() | after[space].keys()
        if before[space].get(name) is not after[space].get(name)
    ]
    assert changed == []


def test_replace_and_add_refuse_a_moto_that_changed_shape() -> None:
    class Target:
        existing = 1

    with pytest.raises(ShapeMismatch, match="no longer exists"):
        replace(Target, "missing", 2)
    with pytest.raises(ShapeMismatch, match="exists already"):
        add(Target, "existing", 2)

    replace(Target, "existing", 3)
    add(Target, "added", 4)
    assert (Target.existing, Target.added) == (3, 4)  # type: ignore[attr-defined]


def _import_missing_module() -> None:
    importlib.import_module("moto.no_such_service")


def _import_missing_class() -> None:
    from moto.elbv2.models import NoSuchBackend  # type: ignore[attr-defined]

    assert NoSuchBackend


def _wrap_missing_method() -> None:
    from moto.elbv2.models import ELBv2Backend

    assert ELBv2Backend.no_such_method  # type: ignore[attr-defined]


def _replace_missing_method() -> None:
    from moto.elbv2.models import ELBv2Backend

    replace(ELBv2Backend, "no_such_method", lambda self: None)


def _add_existing_action() -> None:
    from moto.elbv2.models import ELBv2Backend

    add(ELBv2Backend, "create_load_balancer", lambda self: None)


@pytest.mark.parametrize(
    ("install", "missing"),
    [
        (_import_missing_module, "module moto.no_such_service does not exist"),
        (_import_missing_class, "cannot import name 'NoSuchBackend' from 'moto.elbv2.models'"),
        (_wrap_missing_method, "moto.elbv2.models.ELBv2Backend.no_such_method does not exist"),
        (_replace_missing_method, "moto.elbv2.models.ELBv2Backend.no_such_method no longer exists"),
        (_add_existing_action, "moto.elbv2.models.ELBv2Backend.create_load_balancer exists already"),
    ],
    ids=["module", "class", "method", "replaced-method", "added-action"],
)
def test_a_patch_whose_moto_target_changed_fails_with_the_remedy(
    installed: set[str], install: Callable[[], None], missing: str
) -> None:
    patch = _fake("fake-shape", SUPPORTED_MOTO, install)

    with pytest.raises(MotoShapeChanged) as raised:
        patch.apply()

    message = str(raised.value)
    assert isinstance(raised.value, StackprobeError)
    assert f"`fake-shape` cannot install on moto {moto_version()}: {missing}" in message
    assert f"moto[server]{SUPPORTED_MOTO}" in message, "the remedy names the supported range"
    assert f"update {__name__}" in message, "the remedy names the module to update"
    assert "python -m stackprobe.backends.compat.canaries --patch fake-shape" in message
    assert "fake-shape" not in installed, "a patch that failed to install is not recorded as installed"


def test_apply_patches_raises_the_same_shape_error_until_moto_is_fixed(
    monkeypatch: pytest.MonkeyPatch, installed: set[str]
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        compat,
        "PATCHES",
        [
            _fake("fine", SUPPORTED_MOTO, lambda: calls.append("fine")),
            _fake("broken", SUPPORTED_MOTO, _wrap_missing_method),
        ],
    )

    for _ in range(2):
        with pytest.raises(MotoShapeChanged, match="`broken`"):
            apply_patches()

    assert compat.applied_patches() == []
    assert calls == ["fine"], "a patch that installed stays installed once"


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
