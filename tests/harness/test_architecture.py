"""The layers of the harness and who owns each lifecycle, checked against the code itself.

docs/ARCHITECTURE.md's layer table is generated from stackprobe's imports (tools/layers.py); these
tests keep it current, keep the units free of import cycles, and keep each lifecycle's end in one place.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.harness

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "src" / "stackprobe"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("layers", REPO_ROOT / "tools" / "layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("layers", module)
    spec.loader.exec_module(module)
    return module


layers = _tool()


def test_the_layer_table_is_current() -> None:
    assert layers.main(["--check"]) == 0, "docs/ARCHITECTURE.md is stale: run .venv/bin/python tools/layers.py"


def test_no_two_units_import_each_other() -> None:
    assert layers.cycles(layers.imports()) == []


def test_no_two_modules_import_each_other_even_inside_a_package() -> None:
    """Function-level and type-only imports count: a cycle hidden in a function body is still a cycle."""
    assert layers.cycles(layers.module_imports()) == []


def test_a_cycle_would_be_found_and_named() -> None:
    graph = {"checks": {"probes"}, "probes": {"aws", "checks"}, "aws": set()}
    assert layers.cycles(graph) == [["checks", "probes", "checks"]]


def _calls(method: str, on: str | None = None) -> set[str]:
    """Source files (relative) that call `<x>.<method>(...)`, where x is named `on` (`emulator`,
    `self.emulator`, ...) when `on` is given."""
    found = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method):
                continue
            target = node.func.value
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if on is None or name == on:
                found.add(str(path.relative_to(SOURCE)))
    return found


def _calls_runner(tree: ast.AST, method: str) -> bool:
    """Whether `tree` calls `method` on terraform's runner (`runner.X(...)`, `x.runner().X(...)`)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method):
            continue
        target = node.func.value
        if isinstance(target, ast.Name) and target.id == "runner":
            return True
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute) and target.func.attr == "runner":
            return True
    return False


def _runner_calls(method: str) -> set[str]:
    """Source files (relative) that call `method` on terraform's runner."""
    return {
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if _calls_runner(ast.parse(path.read_text(encoding="utf-8")), method)
    }


def test_only_a_deployment_applies_and_destroys() -> None:
    """Applies, saved-plan applies and destroys have one owner, the Deployment; everyone else asks it (or one of
    its variants), and only decides when."""
    assert _calls("destroy") == {"lifecycle/deployment.py"}
    assert _runner_calls("apply") | _runner_calls("apply_plan") == {"lifecycle/deployment.py"}


def test_only_a_stack_and_its_deployment_plan() -> None:
    """Plans are made by the prepared stack (the one a deployment of it applies, or a copy that is never applied)
    and by the deployment (incremental updates, variants): nothing else runs `terraform plan`."""
    assert _runner_calls("plan") | _runner_calls("pending_changes") == {
        "lifecycle/prepared.py",
        "lifecycle/deployment.py",
    }


def test_the_scan_would_see_an_apply_elsewhere() -> None:
    """Applies through the runner, either way it is reached, are found; a variant's own apply is not one."""
    assert _calls_runner(ast.parse("def f(stack):\n    stack.runner().apply({})\n"), "apply")
    assert _calls_runner(ast.parse("def f(runner, plan):\n    runner.apply_plan(plan)\n"), "apply_plan")
    assert not _calls_runner(ast.parse("def f(variant, plan):\n    variant.apply(plan)\n"), "apply")


def test_an_emulator_is_reset_or_stopped_only_by_its_owner() -> None:
    """The run resets and stops what it started; a live session stops its detached emulator (down, or a
    failed up); the emulator reset before a first apply is the run's; `serve` stops its own server."""
    assert _calls("reset", on="emulator") == {"lifecycle/emulation.py"}
    assert _calls("stop", on="emulator") == {"lifecycle/emulation.py", "lifecycle/live.py", "backends/moto.py"}


def _backend_name_comparisons(tree: ast.AST, source: str) -> list[str]:
    """Comparisons of a backend (its name, a setting) with a registered backend's name, as written."""
    from stackprobe.backends.registry import NAMES

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        literals = [o for o in operands if isinstance(o, ast.Constant) and o.value in NAMES]
        others = [ast.get_source_segment(source, o) or "" for o in operands if o not in literals]
        if literals and any("backend" in text for text in others):
            found.append(ast.get_source_segment(source, node) or "")
    return found


def test_no_backend_name_is_compared_outside_the_registry() -> None:
    """Capabilities are asked of stackprobe.backends.registry; adding a backend touches no other comparison."""
    found = {}
    for path in SOURCE.rglob("*.py"):
        if path.relative_to(SOURCE) == Path("backends/registry.py"):
            continue
        text = path.read_text(encoding="utf-8")
        hits = _backend_name_comparisons(ast.parse(text), text)
        if hits:
            found[str(path.relative_to(SOURCE))] = hits
    assert found == {}
    example = 'if settings.backend == "localstack":\n    pass\n'
    assert _backend_name_comparisons(ast.parse(example), example) == ['settings.backend == "localstack"']
