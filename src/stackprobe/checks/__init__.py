"""Every check, and the loop that runs them.

Every module in this package defines `Check` records with the `@check` decorator; `CHECKS`
collects them in a fixed order. Running a check never raises: an exception becomes an ERROR
result with the message, and a check needing a service the backend does not serve is SKIPPED with
the backend's reason.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import logging
import pkgutil
import traceback
from collections.abc import Iterable, Sequence

from stackprobe.checks.base import Check, CheckContext, CheckResult, SkipKind
from stackprobe.errors import NotApplicable, NotExercisable

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
    return found


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


def run_check(item: Check, context: CheckContext) -> CheckResult:
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
        result.findings = list(item.run(item, context))
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
