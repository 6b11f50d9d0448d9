"""What the harness's levers bought in one run, in that run's own measured costs (estimates, labelled as such)."""

from __future__ import annotations

from .results import PartResult
from .table import breakdown


def lever_notes(results: dict[str, PartResult]) -> list[str]:
    """What the harness's levers are worth, in this run's own measured costs (estimates, labelled as such)."""
    lines: list[str] = []
    a, b = results.get("a"), results.get("b")
    u, f, f2 = results.get("u"), results.get("f"), results.get("f2")
    if u is not None and u.seconds and u.ok:
        for rerun, what in ((f, "with the configuration unchanged"), (f2, "after one variable changed")):
            if rerun is not None and rerun.seconds:
                lines.append(
                    f"Live session: `pytest -m integration --stackprobe-reuse` {what} took {rerun.seconds:.1f} s "
                    f"with {rerun.invocations} terraform invocations ({breakdown(rerun) or 'none'}), against "
                    f"{u.seconds:.1f} s for the cold `stackprobe up` ({u.invocations}: {breakdown(u)})."
                )
    d, dw = results.get("d"), results.get("d-warm")
    if d is not None and dw is not None and d.seconds and dw.seconds:
        lines.append(
            f"Plan store: the warm `pytest -m unit` ran {dw.invocations} terraform invocations "
            f"({breakdown(dw) or 'none'}) in {dw.seconds:.1f} s; the cold one {d.invocations} ({breakdown(d)}) "
            f"in {d.seconds:.1f} s."
        )
    b4 = results.get("b4")
    if b is not None and b4 is not None and b.seconds and b4.seconds:
        lines.append(
            f"xdist groups (one worker per stack): `-n 4 --dist loadgroup` took {b4.seconds:.1f} s against "
            f"{b.seconds:.1f} s in one process ({b4.seconds / b.seconds:.2f}x; both cold, each on a fresh cache)."
        )
    if a is None or not a.ok:
        return lines
    plan = a.steps.get("plan", 0.0)
    init = a.steps.get("init", 0.0)
    lines.append(
        f"Saved plan applied instead of re-planning: each deploy skips one refresh + plan, ≈ {plan:.1f} s "
        "(the cost of (a)'s plan)."
    )
    if b is not None and b.invocation_breakdown:
        inits = b.invocation_breakdown.get("init", 0)
        init_seconds = b.invocation_seconds.get("init", 0.0)
        if inits:
            lines.append(
                f"Shared init cache: (b) ran {inits} `terraform init` in {init_seconds:.1f} s "
                f"({init_seconds / inits:.1f} s each, from a cold init cache), against {init:.1f} s for (a)'s "
                "one cold init."
            )
        if b.refresh_false_applies:
            lines.append(
                f"`-refresh=false`: (b) ran {b.refresh_false_applies} applies without refresh; each skips a refresh of "
                f"the state, at most ≈ {plan:.1f} s (a post-apply plan in (a) is mostly that refresh)."
            )
    e = results.get("e")
    if e is not None and "mutants" in e.extra:
        mutants, applies, plans = e.extra["mutants"], e.extra["applies"], e.extra["plans"]
        runs = applies + plans
        per_run = e.extra["mutation_seconds"] / runs if runs else 0.0
        lines.append(
            f"Batched mutants: {mutants} mutants in {applies} applies + {plans} plans instead of one run each; "
            f"{mutants - runs} fewer terraform runs, ≈ {(mutants - runs) * per_run:.0f} s at this run's "
            f"{per_run:.1f} s per mutant run."
        )
    g = results.get("g")
    if g is not None and g.seconds and b is not None and b.seconds:
        lines.append(
            f"Shared apply per session: the native peer, one apply per design-card group "
            f"({g.extra.get('run_blocks')} runs), took {g.seconds:.1f} s for {g.extra.get('run_blocks')} groups of "
            f"assertions; (b) took {b.seconds:.1f} s for the reference stack's integration session."
        )
    return lines
