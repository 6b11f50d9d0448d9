"""Every check is proven able to fail, by a test that asserts it, or is a named exception with its reason.

A proof is one of (nothing weaker counts):
- a mutant of the reference stack (terraform/mutants.yaml) whose only killer is the check:
  tests/mutants/test_mutants.py asserts each mutant is killed by one of its killers, so the sole killer is
  the check that reported the new failure (a mutant with several killers proves none of them);
- a harness test (tests/harness/) that calls `stackprobe.testing.assert_check(context, CHECK, Status.FAIL)`
  on a defective configuration it built (resources in the emulator, a plan, or, for a source check, the
  configuration's files), in its body or in a fixture of its module it takes; CHECK is a literal check id
  or a Check record imported from stackprobe.checks.*, so the call names the check unambiguously;
- a defect of a legacy stack (terraform/legacy/*/defects.json): tests/integration/test_legacy_audits.py
  asserts each one is reported, by its check, at its address.

Not counted: the corpus's expected findings (tests/corpus/*/expected.yaml), because test_corpus.py asserts a
recall of 90% over all of them, so any one of them may go missing with the suite still green; and a test
that only names a check near a failure-looking assertion (the meter's first version counted those, and so
counted a test asserting the reference stack PASSES every network check as proof that they can fail).
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackprobe.checks import CHECKS
from stackprobe.checks.base import Check
from stackprobe.mutants.catalogue import TERRAFORM_KILLER, load_catalogue

pytestmark = pytest.mark.harness

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).parent
README = REPO / "README.md"
IDS = {check.id for check in CHECKS}

# Checks nothing above can prove, and why; each must stay unproven (a proof makes its entry stale).
EXCEPTIONS = {
    "lifecycle.idempotent": "it judges the lifecycle's record of the second plan, not a configuration: its FAIL "
    "is asserted on hand-built drift reports (tests/harness/checks/test_checks_lifecycle.py), and a stack "
    "drifting on purpose would cost an apply and two plans",
    "lifecycle.clean-teardown": "it judges the lifecycle's teardown inventory, not a configuration: its FAIL is "
    "asserted on hand-built teardown reports (tests/harness/checks/test_checks_lifecycle.py), and a stack "
    "that survives destroy would cost an apply and a destroy",
    "database.backup-window": "RDS, and moto, refuse overlapping backup and maintenance windows on create and "
    "modify, so no deployed configuration can hold the defect; its FAIL is asserted on a stubbed "
    "DescribeDBInstances answer (tests/harness/checks/test_checks_database.py)",
}


def killed_alone_by_mutants() -> set[str]:
    """Checks that are the only killer of a catalogued mutant (tests/mutants asserts which killer fired)."""
    catalogue = load_catalogue(REPO / "terraform" / "mutants.yaml")
    return {m.killers[0] for m in catalogue.mutants if len(m.killers) == 1 and m.killers[0] != TERRAFORM_KILLER}


def expected_of_legacy_audits() -> set[str]:
    """Checks a legacy stack's audit must report failing (one test per defect in test_legacy_audits.py)."""
    return {
        d["check"]
        for path in (REPO / "terraform" / "legacy").glob("*/defects.json")
        for d in json.loads(path.read_text())
    }


@dataclass(frozen=True)
class _Names:
    """What a test module imports that the meter reads: Check records (name -> id), assert_check's names."""

    checks: dict[str, str]
    assert_check: set[str]


def _imports(tree: ast.Module) -> _Names:
    checks: dict[str, str] = {}
    asserting: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module == "stackprobe.testing":
            asserting |= {alias.asname or alias.name for alias in node.names if alias.name == "assert_check"}
        elif node.module.startswith("stackprobe.checks."):
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if isinstance(value, Check):
                    checks[alias.asname or alias.name] = value.id
    return _Names(checks, asserting)


def _decorator_names(node: ast.FunctionDef) -> set[str]:
    """The dotted names of a function's decorators, calls or not: {"pytest.fixture", "pytest.mark.skipif"}."""
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(ast.unparse(target))
    return names


def _never_skipped(node: ast.FunctionDef) -> bool:
    return not {"pytest.mark.skip", "pytest.mark.skipif", "pytest.mark.xfail"} & _decorator_names(node)


def _proving_functions(tree: ast.Module) -> Iterator[ast.FunctionDef]:
    """The module's tests that always run, and the fixtures of the module they take (directly or through another)."""
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    fixtures = {f.name: f for f in functions if {"pytest.fixture"} & _decorator_names(f)}
    pending = [f for f in functions if f.name.startswith("test") and f.name not in fixtures and _never_skipped(f)]
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        yield node
        pending += [fixtures[arg.arg] for arg in node.args.args if arg.arg in fixtures]


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _asserted_failure(call: ast.Call, names: _Names) -> str | None:
    """The check id of `assert_check(context, CHECK, Status.FAIL)`, CHECK a literal id or an imported record."""
    if not (isinstance(call.func, ast.Name) and call.func.id in names.assert_check):
        return None
    expected = _argument(call, 2, "expected")
    if expected is None or ast.unparse(expected) != "Status.FAIL":
        return None
    check = _argument(call, 1, "check")
    if isinstance(check, ast.Constant) and check.value in IDS:
        return str(check.value)
    if isinstance(check, ast.Name):
        return names.checks.get(check.id)
    return None


def failed_by_harness_tests() -> set[str]:
    found: set[str] = set()
    for path in sorted(HARNESS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _imports(tree)
        if not names.assert_check:
            continue
        for function in _proving_functions(tree):
            calls = (node for node in ast.walk(function) if isinstance(node, ast.Call))
            found |= {check for call in calls if (check := _asserted_failure(call, names)) is not None}
    return found


@dataclass(frozen=True)
class Proofs:
    by_mutant: set[str]
    by_test: set[str]
    by_legacy: set[str]

    @property
    def proven(self) -> set[str]:
        return self.by_mutant | self.by_test | self.by_legacy

    def figure(self) -> str:
        """One sentence, each check counted once, by the first of its proofs in this order."""
        tests = self.by_test - self.by_mutant
        legacy = self.by_legacy - self.by_mutant - self.by_test
        return (
            f"{len(self.proven)} of {len(IDS)} checks are proven able to fail ({len(self.by_mutant)} by a mutant they "
            f"alone kill, {len(tests)} more by a test asserting their fail verdict, {len(legacy)} more by a legacy "
            f"stack's expected defect), and {len(EXCEPTIONS)} are named exceptions with their reasons"
        )


@pytest.fixture(scope="module")
def proofs() -> Proofs:
    return Proofs(killed_alone_by_mutants() & IDS, failed_by_harness_tests(), expected_of_legacy_audits() & IDS)


@pytest.mark.parametrize("check_id", sorted(IDS - set(EXCEPTIONS)))
def test_the_check_is_proven_able_to_fail(check_id: str, proofs: Proofs) -> None:
    assert check_id in proofs.proven, (
        f"{check_id}: nothing proves it can fail. Add a test that builds the defect (see tests/harness/checks/) and "
        f'calls assert_check(context, "{check_id}", Status.FAIL); or a mutant that only it kills '
        f"(terraform/mutants.yaml; stackprobe mutate terraform --only ID); or, if it cannot be proven on a "
        "configuration, name it in EXCEPTIONS with the reason"
    )


@pytest.mark.parametrize("check_id", sorted(EXCEPTIONS))
def test_a_named_exception_is_a_check_nothing_proves(check_id: str, proofs: Proofs) -> None:
    assert check_id in IDS, f"{check_id} is no check: remove it from EXCEPTIONS"
    assert check_id not in proofs.proven, f"{check_id} is proven able to fail now: remove it from EXCEPTIONS"


def test_the_figure_is_the_readmes(proofs: Proofs) -> None:
    """The README states the figure this meter measures, word for word."""
    figure = proofs.figure()
    print("\n" + "\n".join([figure, *(f"  {check_id}: {why}" for check_id, why in sorted(EXCEPTIONS.items()))]))
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert figure in readme, f"README.md does not state the check-coverage figure; it is now:\n{figure}"
