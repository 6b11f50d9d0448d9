"""Root variables that nothing reads: declared, documented, given a value, and never passed on.

The habit behind it: a root module declares `image_tag` (with a description and a value in every var file),
calls `module "app"`, and forgets `image_tag = var.image_tag` in the call. The module's own default
(`latest`, or an old tag) is deployed; every plan is green and no error ever names the variable. Terraform
warns only about values given for variables that are not declared, not about declared variables nobody
reads. Read from the root module's .tf files (the workspace copy), with each variable's file and line, and
the module calls that declare a variable of that name without being given it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check
from stackprobe.checks.source import Module, configuration_modules
from stackprobe.terraform.config import Block, Body, Expression, Value

_VARIABLE = re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)")


def _texts(value: Value) -> Iterator[str]:
    """The text of every expression (and of every JSON-syntax string, which may interpolate) in a value."""
    if isinstance(value, Expression):
        yield value.text
    elif isinstance(value, str) and "${" in value:
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)


def _read_in(body: Body) -> Iterator[str]:
    """Every `var.NAME` an attribute or a nested block of `body` reads (dynamic blocks and labels included)."""
    for value in body.attributes.values():
        for text in _texts(value):
            yield from _VARIABLE.findall(text)
    for block in body.blocks:
        yield from _read_in(block)


def variables_read(blocks: Iterable[Block]) -> set[str]:
    """The root variables the module's blocks read; a variable's own block (its validation) does not count."""
    read: set[str] = set()
    for block in blocks:
        if block.type == "variable":
            continue
        read |= set(_read_in(block))
    return read


def _module_variables(modules: list[Module]) -> Mapping[str, dict[str, Block]]:
    """Module address (`module.app.`) -> the variables that module declares."""
    return {module.address: module.variables() for module in modules}


def _unpassed(root: Module, declared: Mapping[str, dict[str, Block]], name: str) -> list[str]:
    """The module calls of the root whose module declares `name` and that do not pass it."""
    calls = []
    for f in root.files:
        for block in f.blocks:
            if block.type != "module" or not block.labels:
                continue
            variables = declared.get(f"module.{block.labels[0]}.", {})
            if name in variables and name not in block.attributes:
                default = variables[name].attributes.get("default")
                shown = f" (its default {default!r} is used)" if isinstance(default, (str, int, float, bool)) else ""
                calls.append(f"module.{block.labels[0]} declares {name} and is not given it{shown}")
    return calls


@check(
    "source.unwired-variables",
    "Every root variable is read by the configuration",
    severity=Severity.MEDIUM,
    category=Category.RELIABILITY,
    fidelity=Fidelity.SOURCE,
    services=(),
    why="A root variable nothing reads looks configurable and is not: the value in the var file or the CI "
    "pipeline changes nothing, and when it was meant for a module (the image tag, the instance size, the "
    "allowed CIDRs) the module's own default is deployed instead, with every plan green.",
    fix="Pass it where it is meant to go (`name = var.name` in the module call or the resource), or delete the "
    "variable and its values in the var files.",
    reference="terraform/main.tf (every root variable passed to its module)",
)
def unwired_variables(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    modules = configuration_modules(ctx)
    if not modules:
        return
    root = modules[0]
    declared = {
        block.labels[0]: (f, block)
        for f in root.files
        for block in f.blocks
        if block.type == "variable" and block.labels
    }
    if not declared:
        return
    read = variables_read(block for f in root.files for block in f.blocks)
    by_module = _module_variables(modules)
    unread = 0
    for name, (f, block) in sorted(declared.items()):
        if name in read:
            continue
        unread += 1
        where = f"{f.name}:{block.line}" if block.line else f.name
        description = block.attributes.get("description")
        said = f' ("{description}")' if isinstance(description, str) and description else ""
        calls = _unpassed(root, by_module, name)
        meant = f"; {'; '.join(calls)}" if calls else ""
        evidence = f"{where}: var.{name}{said} is declared and nothing in the root module reads it{meant}"
        yield Finding(check_.id, False, f"var.{name}", evidence, f"var.{name}")
    if not unread:
        yield Finding(check_.id, True, "variables", f"all {len(declared)} root variables are read", None)
