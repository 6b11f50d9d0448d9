"""What several checks of issue 26's round share: production-only rules, planned values with the state's
concrete ones behind them, and the references a configured attribute makes.

Not a check module (its name starts with an underscore, so the registry does not read it for checks).

- Production-only rules use the stack's one environment decision (`CheckContext.decision`, refined per
  resource by its own environment tag): a rule relaxed everywhere it looked raises NotApplicable naming the
  environment and what said so, never "nothing of this kind was deployed".
- A planned value known only after apply (an ARN, a JSON document built from one) is read from the state
  when the stack was applied: the plan says what the configuration asks for, the state what it became.
- `configured_references` answers "which resources does this attribute name?" from the plan's
  `configuration` section (the expressions as written, with their references), for two attributes whose
  values are both unknown at plan time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackprobe.aws.environment import EnvironmentDecision
from stackprobe.checks.base import CheckContext, without_index
from stackprobe.errors import NotApplicable
from stackprobe.terraform.plan import PlannedResource, Unknown


class ProductionRule:
    """The environment decisions a production-only check met, so that it can say why it judged nothing.

    `for_resource` returns the decision for one resource (its own environment tag first, then the stack's);
    call `nothing_judged()` after the loop when the check yielded no finding: it raises NotApplicable naming
    the environments that relaxed the rule.
    """

    def __init__(self, ctx: CheckContext) -> None:
        self.stack = ctx.decision
        self.relaxed: dict[str, str] = {}

    def applies(self, *tag_sets: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> EnvironmentDecision | None:
        """The decision when production rules apply to a resource with these tags, else None (and remembered)."""
        decision = self.stack.for_resource(*tag_sets)
        if decision.production:
            return decision
        # As written (`dev`, `challenge`): the reader looks for that word in the configuration.
        self.relaxed.setdefault(decision.value or decision.name, decision.reason)
        return None

    def nothing_judged(self) -> None:
        if self.relaxed:
            said = "; ".join(f"environment `{name}` is not production ({why})" for name, why in self.relaxed.items())
            raise NotApplicable(f"a production-only rule: {said}")


def state_attributes(ctx: CheckContext, address: str) -> Mapping[str, Any] | None:
    """The state's attributes of the resource instance at `address` (the stack was applied), else None."""
    return next((r.attributes for r in ctx.state_resources() if r.address == address), None)


def known(ctx: CheckContext, resource: PlannedResource, attribute: str) -> Any:
    """A planned attribute, or the state's value when the plan knows it only after apply (still Unknown when
    the stack was not applied)."""
    value = resource.get(attribute)
    if value is Unknown:
        attributes = state_attributes(ctx, resource.address)
        if attributes is not None and attribute in attributes:
            return attributes[attribute]
    return value


def _configuration_module(configuration: Mapping[str, Any], modules: list[str]) -> Mapping[str, Any] | None:
    module: Mapping[str, Any] | None = configuration.get("root_module") or {}
    for name in modules:
        call = ((module or {}).get("module_calls") or {}).get(name)
        if call is None:
            return None
        module = call.get("module") or {}
    return module


def configured_references(ctx: CheckContext, address: str, attribute: str) -> frozenset[str] | None:
    """The references the configuration's expression for `attribute` of the resource at `address` makes
    (`aws_iam_role.task.arn`, `var.role_arn`), as terraform lists them; None when the plan does not say."""
    if ctx.plan is None:
        return None
    parts = without_index(address).split(".")
    modules = [parts[i + 1] for i in range(0, len(parts) - 2, 2) if parts[i] == "module"]
    local = ".".join(parts[2 * len(modules) :])
    module = _configuration_module(ctx.plan.configuration(), modules)
    if module is None:
        return None
    for resource in module.get("resources") or []:
        if resource.get("address") == local:
            expression = (resource.get("expressions") or {}).get(attribute)
            if not isinstance(expression, Mapping):
                return None
            if "constant_value" in expression:
                return frozenset({f"constant {expression['constant_value']!r}"})
            return frozenset(expression.get("references") or ())
    return None
