"""Checks on the lifecycle itself: the second plan is empty, and destroy leaves nothing behind.

They judge records the lifecycle produced (the classified second plan, the teardown inventory) rather
than querying AWS, so they read them from the context and are not applicable when absent.
"""

from __future__ import annotations

from collections.abc import Iterator

from stackprobe.checks.base import Category, Check, CheckContext, Fidelity, Finding, Severity, check


@check(
    "lifecycle.idempotent",
    "A plan right after apply proposes no change",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    fidelity=Fidelity.BEHAVIOUR,
    services=(),
    why="A stack that drifts on every plan hides real changes in noise and makes every deploy a gamble.",
    fix="Make the configuration match what the provider reads back (ignore_changes only for values "
    "owned elsewhere, such as a desired count driven by autoscaling).",
    reference="terraform/ (checked on every run by `stackprobe verify`)",
)
def idempotent(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    report = ctx.drift
    if report is None:
        return
    for entry in report.real:
        yield ctx.finding(check_, False, entry.address, entry.render())
    for entry in report.emulator:
        yield Finding(check_.id, True, entry.address, f"known emulator drift: {entry.reason}", entry.address)
    if not report.real and not report.emulator:
        yield Finding(check_.id, True, "second plan", "the second plan is empty")


@check(
    "lifecycle.clean-teardown",
    "Destroy leaves nothing the stack created",
    severity=Severity.MEDIUM,
    category=Category.OPERATIONS,
    fidelity=Fidelity.BEHAVIOUR,
    services=(),
    why="Resources that survive destroy cost money, keep data around, and make the next apply collide.",
    fix="Let terraform own everything it creates (no out-of-band resources), and give buckets, "
    "repositories and databases a teardown path for test environments.",
)
def clean_teardown(check_: Check, ctx: CheckContext) -> Iterator[Finding]:
    report = ctx.teardown
    if report is None:
        return
    if not report.destroyed:
        yield Finding(check_.id, False, "terraform destroy", report.error or "destroy failed")
    for kind, items in sorted(report.leftovers.items()):
        for item in sorted(items):
            yield Finding(check_.id, False, item, f"{kind} still exists after destroy")
    if report.clean:
        yield Finding(
            check_.id,
            True,
            "emulator inventory",
            "after destroy the emulator lists nothing that was not there before apply",
        )
