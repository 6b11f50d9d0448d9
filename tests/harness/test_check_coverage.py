"""Every check can fail, and something proves it: a mutant of the reference stack that it kills
(terraform/mutants.yaml), a test on crafted resources that asserts its FAIL, or a legacy or corpus stack
whose audit must report it (terraform/legacy/*/defects.json, tests/corpus/*/expected.yaml).

A check that nothing ever makes fail is a check nobody knows works; adding one without either proof
fails here, naming it.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from stackprobe.checks import CHECKS
from stackprobe.checks.base import Check
from stackprobe.mutants.catalogue import load_catalogue

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).parents[1]


def expected_of_legacy_audits() -> set[str]:
    """Checks the audits of terraform/legacy and tests/corpus must report failing (each a test there)."""
    found = {
        d["check"]
        for path in (REPO / "terraform" / "legacy").glob("*/defects.json")
        for d in json.loads(path.read_text())
    }
    for path in (REPO / "tests" / "corpus").glob("*/expected.yaml"):
        found |= {entry["check"] for entry in (yaml.safe_load(path.read_text()) or {}).get("expected", [])}
    return found


def killed_by_mutants() -> set[str]:
    catalogue = load_catalogue(REPO / "terraform" / "mutants.yaml")
    return {killer for mutant in catalogue.mutants for killer in mutant.killers}


# How a harness test says "this finding fails" (the idioms of tests/harness/checks/).
FAILURE_ASSERTIONS = re.compile(r"Status\.FAIL|assert not \w|\.passed is False|== \(False,|\.failures|passed=False")


def _check_names(tree: ast.Module) -> dict[str, str]:
    """Names a test module imports from stackprobe.checks.* that are Check records -> their ids."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stackprobe.checks."):
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if isinstance(value, Check):
                    names[alias.asname or alias.name] = value.id
    return names


def _referenced(node: ast.AST, ids: set[str], names: dict[str, str]) -> set[str]:
    """Check ids a function names: as an id string, or as an imported Check record."""
    found: set[str] = set()
    for leaf in ast.walk(node):
        if isinstance(leaf, ast.Constant) and leaf.value in ids:
            found.add(str(leaf.value))
        elif isinstance(leaf, ast.Name) and leaf.id in names:
            found.add(names[leaf.id])
    return found


def failed_by_harness_tests() -> set[str]:
    """Checks a test asserts a failure of: named in the test itself, or in a fixture or helper of its module
    that it takes as a parameter or calls (the harness modules build results in fixtures, then assert)."""
    ids = {check.id for check in CHECKS}
    found: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        names = _check_names(tree)
        helpers = {node.name: _referenced(node, ids, names) for node in tree.body if isinstance(node, ast.FunctionDef)}
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
                continue
            body = ast.get_source_segment(source, node) or ""
            decorators = " ".join(ast.get_source_segment(source, d) or "" for d in node.decorator_list)
            # A parametrized expectation (`passed` given as False in the parameters) asserts a failure too.
            if not FAILURE_ASSERTIONS.search(body) and not (".passed" in body and "False" in decorators):
                continue
            used = {arg.arg for arg in node.args.args}
            used |= {leaf.id for leaf in ast.walk(node) if isinstance(leaf, ast.Name)}
            found |= _referenced(node, ids, names)
            for helper in used & set(helpers):
                found |= helpers[helper]
    return found


@pytest.fixture(scope="module")
def proven() -> set[str]:
    return killed_by_mutants() | failed_by_harness_tests() | expected_of_legacy_audits()


@pytest.mark.parametrize("check_id", sorted(check.id for check in CHECKS))
def test_the_check_is_proven_able_to_fail(check_id: str, proven: set[str]) -> None:
    assert check_id in proven, (
        f"{check_id}: no mutant in terraform/mutants.yaml kills it, no test asserts its FAIL, and no legacy or corpus "
        "stack expects it; "
        "add a mutant (stackprobe mutate terraform --only ID) or a test on crafted resources"
    )
