"""Which environment a stack, and each of its resources, belongs to: whether production rules apply.

Some rules are stricter in production (Multi-AZ, deletion protection, two or more tasks, a pinned image).
A check cannot know a third-party stack's naming scheme, so the decision reads only what names an
environment, never other tags (`Tier = "private"` says where a subnet is, not which environment it serves):

1. `--environment production|staging|development` (or the `stackprobe_environment` ini setting), when
   declared, wins over everything, per-resource tags included;
2. else a resource's own environment tag (`Environment`, `env` or `stage`, any case) decides for that
   resource: one stack may hold a dev and a prod service;
3. else the stack's decision, from its planned resources' environment tags, then a root variable that
   names an environment (`environment`, `env`, `stage`, ...), then the terraform workspace the user
   selected (`TF_WORKSPACE`, else the configuration's `.terraform/environment`; `default` names none),
   then the var files' names (`prod.tfvars`, `environments/dev/terraform.tfvars`);
4. when nothing says, production rules apply, and the decision says so (and why, when a variable that
   would name the environment was declared but has no value): most inherited stacks tag nothing, and
   the rules that matter most (a database's safety nets) are production rules.

Only a value that clearly means non-production relaxes production rules: one of NON_PRODUCTION_WORDS
(`dev`, `development`, `test`, `testing`, `qa`, `ci`, `staging`, `stage`, `sandbox`, `preview`, `local`,
`sbx`, `uat`, and a few unambiguous spellings: `develop`, `stg`, `preprod`, `nonprod`), as the whole
value or as one of its words (`dev-eu`, `qa2`). Any other value (`challenge`, `main`, `demo`, `prod-eu`)
applies production rules: a name stackprobe cannot read is judged as strictly as production, and a value
that names production anywhere (`prod-test`) is production.

Each production-only finding carries the decision's `rule` in its evidence, so a reader sees why the
stricter rule applied and how to change it; a rule left out because the environment is not production
says so (`relaxed_reason`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from stackprobe.aws.tags import tags_to_dict

PRODUCTION = "production"
STAGING = "staging"
DEVELOPMENT = "development"
UNKNOWN = "unknown"
DECLARABLE = (PRODUCTION, STAGING, DEVELOPMENT)

# Tag keys that name an environment (compared in lower case). Not `tier`: its values (private, public, web)
# say where a resource sits, and reading them as environments judged stacks as "environment: private".
ENVIRONMENT_TAG_KEYS = ("environment", "env", "stage")
# Root variables whose value names the environment.
ENVIRONMENT_VARIABLES = ("environment", "env", "stage", "environment_name", "env_name", "deployment_environment")
PRODUCTION_WORDS = frozenset({"prod", "production", "prd", "live"})
# The only words that relax production rules, by the environment each names.
NON_PRODUCTION_WORDS = {
    STAGING: frozenset({"staging", "stage", "stg", "uat", "preview", "preprod"}),
    DEVELOPMENT: frozenset(
        {"dev", "development", "develop", "test", "testing", "qa", "ci", "sandbox", "sbx", "local", "nonprod"}
    ),
}
UNKNOWN_LINE = "environment unknown: production rules applied (set --environment to change)"


def canonical(value: str) -> str | None:
    """production / staging / development for a value that names one (`prod`, `pre-prod`, `Dev`, `prod-eu`),
    else None. The whole value first (`non-prod` is one name), then its words: a production word anywhere
    wins, since a value that names production and something else is judged as production."""
    lowered = value.lower()
    whole = re.sub(r"[^a-z]", "", lowered)
    words = [whole, *(w for w in re.split(r"[^a-z]+", lowered) if w)]
    if whole in PRODUCTION_WORDS or (whole not in _RELAXING and any(w in PRODUCTION_WORDS for w in words)):
        return PRODUCTION
    return next((_RELAXING[w] for w in words if w in _RELAXING), None)


_RELAXING = {word: name for name, words in NON_PRODUCTION_WORDS.items() for word in words}


def environment_of(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(tag key, value) of the first environment tag, in any of AWS's tag shapes."""
    for key, value in tags_to_dict(tags).items():
        if key.lower() in ENVIRONMENT_TAG_KEYS and value:
            return key, value
    return None


@dataclass(frozen=True)
class EnvironmentDecision:
    """The environment a stack (or one resource) is judged as, and what said so.

    `name` is production, staging, development, unknown, or the value a tag or variable gave when it names
    none of those (judged as production: only a clearly non-production name relaxes the rules); `value` is
    the value as written (`dev`, `challenge`).
    """

    name: str
    production: bool
    reason: str
    declared: bool = False
    value: str = ""

    def describe(self) -> str:
        """The report header's line: the decision, what it rests on, and what it means for the rules."""
        if self.name == UNKNOWN:
            if self.reason == NOTHING_NAMES_ONE:
                return UNKNOWN_LINE
            return f"environment unknown: production rules applied ({self.reason}; set --environment to change)"
        if not self.production:
            return f"environment: {self.name} ({self.reason}): production rules relaxed"
        unread = f", `{self.value}` is not a non-production name" if self.name != PRODUCTION else ""
        return f"environment: {self.name} ({self.reason}): production rules apply{unread}"

    @property
    def rule(self) -> str:
        """What made production rules apply (or not), for a finding's evidence."""
        if self.name == UNKNOWN:
            if self.reason == NOTHING_NAMES_ONE:
                return "production rules: environment unknown, set --environment to change"
            return f"production rules: environment unknown ({self.reason}), set --environment to change"
        if not self.production:
            return f"not production: {self.reason}"
        return f"production: {self.reason}" + ("" if self.name == PRODUCTION else " (not a non-production name)")

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


NOTHING_NAMES_ONE = "nothing names an environment"


def relaxed_reason(decisions: Iterable[EnvironmentDecision]) -> str:
    """Why a production-only rule judged nothing: "environment `dev` is not production (tag Environment=dev)"."""
    shown = dict.fromkeys(f"environment `{d.value or d.name}` is not production ({d.reason})" for d in decisions)
    return "; ".join(shown)


def _named(value: str, reason: str) -> EnvironmentDecision:
    name = canonical(value)
    return EnvironmentDecision(name or value, name not in (STAGING, DEVELOPMENT), reason, value=value)


def declared(environment: str) -> EnvironmentDecision:
    name = canonical(environment)
    if name is None:
        raise ValueError(f"unknown environment {environment!r}; choose one of {', '.join(DECLARABLE)} or auto")
    return EnvironmentDecision(
        name, name == PRODUCTION, f"declared with --environment {environment}", declared=True, value=environment
    )


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
    return replace(named[tag], reason=f"tag {tag[0]}={tag[1]} on {tagged} resources")


def _from_variables(plan: Mapping[str, Any]) -> EnvironmentDecision | None:
    variables = plan.get("variables") or {}
    for name in ENVIRONMENT_VARIABLES:
        value = (variables.get(name) or {}).get("value")
        if isinstance(value, str) and value.strip():
            return _named(value.strip(), f'variable {name} = "{value.strip()}"')
    return None


def _valueless_variable(plan: Mapping[str, Any]) -> str | None:
    """The first root variable that would name the environment but has no value (`default = null` or `""`, and
    none given). One with no default at all never gets here: the run stops before the plan, naming it."""
    planned = plan.get("variables") or {}
    declared_here = (plan.get("configuration") or {}).get("root_module", {}).get("variables") or {}
    for name in ENVIRONMENT_VARIABLES:
        if name in planned or name in declared_here:
            value = (planned.get(name) or {}).get("value")
            if not (isinstance(value, str) and value.strip()):
                return name
    return None


def _from_workspace(workspace: str | None) -> EnvironmentDecision | None:
    if not workspace or workspace == "default":
        return None  # every configuration has the default workspace: its name says nothing
    return _named(workspace, f"terraform workspace {workspace}")


def selected_workspace(source_dir: Path | None, environ: Mapping[str, str]) -> str | None:
    """The workspace the user selected: TF_WORKSPACE, else what `terraform workspace select` wrote.

    stackprobe applies in its own copy's default workspace; this is the user's, read as a name only."""
    if environ.get("TF_WORKSPACE"):
        return environ["TF_WORKSPACE"]
    marker = source_dir / ".terraform" / "environment" if source_dir is not None else None
    if marker is not None and marker.is_file():
        return marker.read_text(encoding="utf-8", errors="replace").strip() or None
    return None


def _from_var_files(var_files: Sequence[Path]) -> EnvironmentDecision | None:
    for path in var_files:
        # prod.tfvars, terraform.prod.tfvars, env/prod/terraform.tfvars, production.auto.tfvars
        for shown in (path.name, f"{path.parent.name}/{path.name}"):
            words = re.split(r"[^a-z]+", shown.lower())
            value = next((word for word in words if word and canonical(word)), None)
            if value is not None:
                return _named(value, f"var file {shown}")
    return None


def decide_environment(
    environment: str | None,
    plan: Mapping[str, Any] | None,
    var_files: Sequence[Path] = (),
    workspace: str | None = None,
) -> EnvironmentDecision:
    """The stack's decision: declared, else tags, variables, workspace, var files; else unknown (production
    rules), saying which variable had no value when one would have named the environment."""
    if environment is not None and environment != "auto":
        return declared(environment)
    for decision in (
        _from_tags(plan) if plan else None,
        _from_variables(plan) if plan else None,
        _from_workspace(workspace),
        _from_var_files(var_files),
    ):
        if decision is not None:
            return decision
    valueless = _valueless_variable(plan) if plan else None
    if valueless is not None:
        return EnvironmentDecision(UNKNOWN, True, f"variable {valueless} has no value: null or empty, and none given")
    return EnvironmentDecision(UNKNOWN, True, NOTHING_NAMES_ONE)


class StackFacts(Protocol):
    """What the decision reads from a check context: the declared environment, the plan, the var files and
    the configuration's directory (for the workspace the user selected there)."""

    @property
    def environment(self) -> str | None: ...

    @property
    def plan(self) -> Any: ...  # a stackprobe.terraform.plan.Plan (its `raw` JSON is read), or None

    @property
    def var_files(self) -> tuple[Path, ...]: ...

    @property
    def source_dir(self) -> Path | None: ...


def environment_decision(stack: StackFacts, environ: Mapping[str, str] | None = None) -> EnvironmentDecision:
    """The stack's decision (a CheckContext keeps it, made once, as `decision`)."""
    raw = stack.plan.raw if stack.plan is not None else None
    workspace = selected_workspace(stack.source_dir, os.environ if environ is None else environ)
    return decide_environment(stack.environment, raw, stack.var_files, workspace)
