"""Which environment a stack, and each of its resources, belongs to: whether production rules apply.

Some rules are stricter in production (Multi-AZ, deletion protection, two or more tasks, a pinned image).
A check cannot know a third-party stack's naming scheme, so the decision reads what authors write down:

1. `--environment production|staging|development` (or the `stackprobe_environment` ini setting), when
   declared, wins over everything, per-resource tags included;
2. else a resource's own environment tag (`Environment`, `env`, `stage`, `tier`) decides for that
   resource: one stack may hold a dev and a prod service;
3. else the stack's decision, from its planned resources' environment tags, then a root variable that
   names an environment (`environment = "prod"`), then the var files' names (`prod.tfvars`);
4. when nothing says, production rules apply, and the decision says so: most inherited stacks tag
   nothing, and the rules that matter most (a database's safety nets) are production rules.

Each production-only finding carries the decision's `rule` in its evidence, so a reader sees why the
stricter rule applied and how to change it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stackprobe.aws.tags import tags_to_dict

PRODUCTION = "production"
STAGING = "staging"
DEVELOPMENT = "development"
UNKNOWN = "unknown"
DECLARABLE = (PRODUCTION, STAGING, DEVELOPMENT)

ENVIRONMENT_TAG_KEYS = ("environment", "env", "stage", "tier")
# Root variables whose value names the environment.
ENVIRONMENT_VARIABLES = ("environment", "env", "stage", "environment_name", "env_name", "deployment_environment")
# The words authors use for each environment (tag values, variable values, var file names).
ENVIRONMENT_WORDS = {
    PRODUCTION: frozenset({"prod", "production", "prd", "live"}),
    STAGING: frozenset({"staging", "stage", "stg", "preprod", "uat"}),
    DEVELOPMENT: frozenset(
        {"dev", "development", "develop", "test", "testing", "qa", "sandbox", "local", "nonprod", "nonproduction"}
    ),
}
UNKNOWN_LINE = "environment unknown: production rules applied (set --environment to change)"


def canonical(value: str) -> str | None:
    """production / staging / development for a value that names one (`prod`, `pre-prod`, `Dev`, `prod-eu`), else
    None: the whole value first, then its first word that names one."""
    whole = re.sub(r"[^a-z]", "", value.lower())
    for word in [whole, *re.split(r"[^a-z]+", value.lower())]:
        name = next((name for name, words in ENVIRONMENT_WORDS.items() if word in words), None)
        if name is not None:
            return name
    return None


def environment_of(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(tag key, value) of the first environment tag, in any of AWS's tag shapes."""
    for key, value in tags_to_dict(tags).items():
        if key.lower() in ENVIRONMENT_TAG_KEYS and value:
            return key, value
    return None


@dataclass(frozen=True)
class EnvironmentDecision:
    """The environment a stack (or one resource) is judged as, and what said so.

    `name` is production, staging, development, unknown, or the value a tag or variable gave when it
    names none of those (judged as not production: the author said it is some other environment).
    """

    name: str
    production: bool
    reason: str
    declared: bool = False

    def describe(self) -> str:
        """The report header's line."""
        if self.name == UNKNOWN:
            return UNKNOWN_LINE
        return f"environment: {self.name} ({self.reason})"

    @property
    def rule(self) -> str:
        """What made production rules apply (or not), for a finding's evidence."""
        if self.name == UNKNOWN:
            return "production rules: environment unknown, set --environment to change"
        return f"{'production' if self.production else 'not production'}: {self.reason}"

    def for_resource(self, *tag_sets: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> EnvironmentDecision:
        """The decision for one resource: its own environment tag (the first tag set that has one) decides,
        unless the environment was declared."""
        if self.declared:
            return self
        for tags in tag_sets:
            found = environment_of(tags)
            if found is not None:
                key, value = found
                return _named(value, f"tag {key}={value}")
        return self


def _named(value: str, reason: str) -> EnvironmentDecision:
    name = canonical(value)
    return EnvironmentDecision(name or value, name == PRODUCTION, reason)


def declared(environment: str) -> EnvironmentDecision:
    name = canonical(environment)
    if name is None:
        raise ValueError(f"unknown environment {environment!r}; choose one of {', '.join(DECLARABLE)} or auto")
    return EnvironmentDecision(name, name == PRODUCTION, f"declared with --environment {environment}", declared=True)


def _planned_tag_values(plan: Mapping[str, Any]) -> Counter[tuple[str, str]]:
    """(tag key, value) of the environment tag of every planned resource that carries one."""
    found: Counter[tuple[str, str]] = Counter()
    pending = [plan.get("planned_values", {}).get("root_module", {})]
    while pending:
        module = pending.pop()
        pending += module.get("child_modules", [])
        for resource in module.get("resources", []):
            values = resource.get("values") or {}
            tags = values.get("tags_all") or values.get("tags")
            if isinstance(tags, Mapping):
                tag = environment_of({k: v for k, v in tags.items() if isinstance(v, str)})
                if tag is not None:
                    found[tag] += 1
    return found


def _from_tags(plan: Mapping[str, Any]) -> EnvironmentDecision | None:
    counted = _planned_tag_values(plan)
    if not counted:
        return None
    tagged = sum(counted.values())
    named = {tag: _named(tag[1], f"tag {tag[0]}={tag[1]}") for tag in counted}
    production = [tag for tag in counted if named[tag].production]
    if len({named[tag].name for tag in counted}) > 1:
        # A stack holding several environments: resources keep their own tag; for untagged ones the
        # stricter rules are the safe reading.
        shown = ", ".join(f"{key}={value}" for key, value in sorted(counted))
        if production:
            return EnvironmentDecision(PRODUCTION, True, f"tags name several environments ({shown})")
        most = counted.most_common(1)[0][0]
        return _named(most[1], f"tags name several environments ({shown}); most say {most[0]}={most[1]}")
    tag = next(iter(counted))
    decision = named[tag]
    return EnvironmentDecision(decision.name, decision.production, f"tag {tag[0]}={tag[1]} on {tagged} resources")


def _from_variables(plan: Mapping[str, Any]) -> EnvironmentDecision | None:
    variables = plan.get("variables") or {}
    for name in ENVIRONMENT_VARIABLES:
        value = (variables.get(name) or {}).get("value")
        if isinstance(value, str) and value.strip():
            return _named(value.strip(), f'variable {name} = "{value.strip()}"')
    return None


def _from_var_files(var_files: Sequence[Path]) -> EnvironmentDecision | None:
    for path in var_files:
        # prod.tfvars, terraform.prod.tfvars, env/prod/terraform.tfvars, production.auto.tfvars
        words = re.split(r"[^a-z]+", f"{path.parent.name}/{path.name}".lower())
        name = next((n for word in words if word and (n := canonical(word))), None)
        if name is not None:
            return EnvironmentDecision(name, name == PRODUCTION, f"var file {path.name}")
    return None


def decide_environment(
    environment: str | None, plan: Mapping[str, Any] | None, var_files: Sequence[Path] = ()
) -> EnvironmentDecision:
    """The stack's decision: declared, else tags, variables, var files; else unknown (production rules)."""
    if environment is not None and environment != "auto":
        return declared(environment)
    for decision in (
        _from_tags(plan) if plan else None,
        _from_variables(plan) if plan else None,
        _from_var_files(var_files),
    ):
        if decision is not None:
            return decision
    return EnvironmentDecision(UNKNOWN, True, "nothing names an environment")


class StackFacts(Protocol):
    """What the decision reads from a check context: the declared environment, the plan, the var files."""

    @property
    def environment(self) -> str | None: ...

    @property
    def plan(self) -> Any: ...  # a stackprobe.terraform.plan.Plan (its `raw` JSON is read), or None

    @property
    def var_files(self) -> tuple[Path, ...]: ...


def environment_decision(stack: StackFacts) -> EnvironmentDecision:
    """The stack's decision (a CheckContext keeps it, made once, as `decision`)."""
    raw = stack.plan.raw if stack.plan is not None else None
    return decide_environment(stack.environment, raw, stack.var_files)
