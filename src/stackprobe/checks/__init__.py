"""Every check, and the loop that runs them.

Every module in this package defines `Check` records with the `@check` decorator; `CHECKS`
collects them in a fixed order. Running a check never raises: an exception becomes an ERROR
result with the message, and a check needing a service the backend does not serve is SKIPPED with
the backend's reason.

Checks are dispatched by the resource types they judge (`Check.reads`), as checkov's registry does:
a check runs only when one of its types is deployed (or planned, or in the state, as its `holder`
says), and is otherwise "not applicable: no aws_x deployed" without running. After an apply that failed
part-way, a check whose verdict depends on a resource the apply did not create (of a type it reads, or
referring to one) is "not checked" and not run, its result naming that resource. A check that ran and
judged nothing always says why: its own reason, else what it looked at. `--check` and `--skip-check`
choose among the checks as before.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import logging
import pkgutil
import traceback
from collections.abc import Iterable, Sequence
from time import monotonic

from stackprobe.aws.account import RESOURCE_TYPES
from stackprobe.checks.base import Check, CheckContext, CheckResult, Finding, Holder, SkipKind
from stackprobe.errors import NotApplicable, NotExercisable
from stackprobe.terraform.resource_types import canonical_type

LOG = logging.getLogger("stackprobe.checks")
_NON_CHECK_MODULES = {"base"}


def _discover() -> list[Check]:
    found: list[Check] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name in _NON_CHECK_MODULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += [value for value in vars(module).values() if isinstance(value, Check)]
    ids = [c.id for c in found]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate check ids: {sorted(duplicates)}")
    for item in found:
        _validate_reads(item)
    return found


def _validate_reads(item: Check) -> None:
    """A declared type must be spelled as the readers spell it, and be one the account can answer for."""
    for resource_type in item.reads:
        if canonical_type(resource_type) != resource_type:
            raise RuntimeError(f"{item.id} reads {resource_type}: declare {canonical_type(resource_type)}")
        if item.holder is Holder.ACCOUNT and resource_type not in RESOURCE_TYPES:
            raise RuntimeError(f"{item.id} reads {resource_type}, which the account snapshot does not read")


CHECKS: list[Check] = _discover()


def by_id(check_id: str) -> Check:
    for item in CHECKS:
        if item.id == check_id:
            return item
    raise KeyError(check_id)


def select(included: Sequence[str] = (), skipped: Sequence[str] = ()) -> list[Check]:
    """The checks `--check` names (ids or fnmatch patterns such as `s3.*`; all when none), minus `--skip-check`.

    A name that matches no check is an error naming the closest ids, never a silent no-op.
    """
    for pattern in [*included, *skipped]:
        if not any(fnmatch.fnmatchcase(item.id, pattern) for item in CHECKS):
            close = difflib.get_close_matches(pattern, [item.id for item in CHECKS], n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"no check matches {pattern!r}{hint} (`stackprobe compat --markdown` lists them)")
    chosen = [item for item in CHECKS if not included or any(fnmatch.fnmatchcase(item.id, p) for p in included)]
    return [item for item in chosen if not any(fnmatch.fnmatchcase(item.id, p) for p in skipped)]


def _nothing_to_judge(item: Check, context: CheckContext) -> str | None:
    """Why `item` has nothing to judge in `context` ("no aws_db_instance deployed"), None when it has."""
    if not item.reads or any(context.holds(t, item.holder) for t in item.reads):
        return None
    return f"no {' or '.join(item.reads)} {item.holder.value}"


def _not_checked(item: Check, context: CheckContext) -> str | None:
    """Why `item` cannot be judged after an apply that failed part-way, None when it can.

    Its verdict depends on a resource the apply did not create when that resource is of a type it reads, or
    refers to one (a listener to its load balancer, an ingress rule to its security group): judging now
    would draw a pass or a fail from the absence. A plan-level check judges the plan, which is whole."""
    if item.holder is Holder.PLAN:
        return None
    missing = [u for u in context.unapplied if any(u.touches(t) for t in item.reads)]
    return "; ".join(u.describe() for u in missing) or None


def _judged_nothing(item: Check, context: CheckContext) -> str:
    """The reason for a check that ran, judged nothing and said nothing: what it looked at."""
    held = [(t, _count(t, item.holder, context)) for t in item.reads]
    shown = ", ".join(f"{count} {t}" for t, count in held if count)
    if not shown:
        return "it found nothing to judge"
    return f"none of what is {item.holder.value} ({shown}) is of the kind it judges"


def _count(resource_type: str, holder: Holder, context: CheckContext) -> int:
    if holder is Holder.PLAN:
        return len(context.plan.resources(resource_type)) if context.plan is not None else 0
    if holder is Holder.STATE:
        return len(context.state_resources(resource_type))
    return len(context.account.resources(resource_type))


def _judge(item: Check, context: CheckContext) -> tuple[list[Finding], str]:
    """The check's findings, and what it says it could not judge.

    A check that judged some resources and not others (a pool size not determinable for one database of
    three) yields its findings, then raises NotApplicable saying why: the findings stand, and the reason is
    kept beside them. Raised before any finding, NotApplicable is the result's whole story (run_check)."""
    found: list[Finding] = []
    try:
        for finding in item.run(item, context):
            found.append(finding)
    except NotApplicable as exc:
        if not found:
            raise
        return found, str(exc)
    return found, ""


def run_check(item: Check, context: CheckContext) -> CheckResult:
    started = monotonic()
    result = _result(item, context)
    result.seconds = monotonic() - started
    return result


def _result(item: Check, context: CheckContext) -> CheckResult:
    result = CheckResult(check=item)
    for service in item.services:
        reason = context.backend.unavailable_reason(service)
        if reason:
            result.skipped_reason, result.skip_kind = reason, SkipKind.UNSERVED
            return result
    if item.plan_level and context.plan is None:
        result.skipped_reason, result.skip_kind = "plan-level check, and no plan was given", SkipKind.NO_PLAN
        return result
    try:
        result.not_checked_reason = _not_checked(item, context) or ""
        absent = _nothing_to_judge(item, context) if not result.not_checked_reason else None
        if result.not_checked_reason or absent is not None:
            result.not_applicable_reason = absent or ""
            return result
        found, unjudged = _judge(item, context)
        result.findings, stood_in = context.without_stand_ins(found)
        result.not_applicable_reason = unjudged
        if not result.findings:
            result.not_applicable_reason = unjudged or "; ".join(stood_in) or _judged_nothing(item, context)
    except NotExercisable as exc:
        result.skipped_reason = f"not exercisable on this emulator: {exc}"
        result.skip_kind = SkipKind.NOT_EXERCISABLE
    except NotApplicable as exc:
        result.findings, result.not_applicable_reason = [], str(exc)
    except Exception as exc:  # a broken check must not hide the others
        LOG.debug("check %s failed:\n%s", item.id, traceback.format_exc())
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def run_checks(context: CheckContext, checks: Iterable[Check] | None = None) -> list[CheckResult]:
    return [run_check(item, context) for item in (CHECKS if checks is None else checks)]
