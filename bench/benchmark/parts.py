"""The parts, in the order they run: which `--only` names mean what, the dry run's plan, and the driver that
runs each asked-for part so that one broken part does not cost the others' figures."""

from __future__ import annotations

from collections.abc import Callable

from . import bare, harness, native
from .context import BenchContext
from .live import LiveSession
from .results import PartResult

PARTS = ("a", "a20", "g", "b", "u", "f", "f2", "b4", "d", "e", "v", "h")
LIVE_PARTS = ("u", "f", "f2")
ALL_NAMES = (*PARTS, "c")


def parse_parts(text: str | None) -> list[str]:
    if not text:
        return list(PARTS)
    wanted = {p.strip() for p in text.split(",") if p.strip()}
    unknown = wanted - set(ALL_NAMES)
    if unknown:
        raise SystemExit(f"bench: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(ALL_NAMES)}")
    if "c" in wanted:
        wanted = (wanted - {"c"}) | {"b"}  # (c) is counted during (b)
    if wanted & {"f", "f2"}:
        wanted.add("u")  # the reruns attach to (u)'s live session
    return [p for p in PARTS if p in wanted]


def plan_text(ctx: BenchContext, parts: list[str]) -> str:
    """The dry run: every command the asked-for parts would run, in order, with `down` after the last live part."""
    live = LiveSession(ctx)
    described = {**bare.describe(), **native.describe(), **harness.describe(ctx), **live.describe()}
    last_live = max((p for p in parts if p in LIVE_PARTS), key=LIVE_PARTS.index, default=None)
    lines = [f"work directory: {ctx.work}", f"terraform: {ctx.binary}"]
    for part in parts:
        lines += [f"({part}) {text}" for text in described[part]]
        if part == last_live:
            lines += live.describe_down()
    return "\n".join(lines)


def run_parts(ctx: BenchContext, parts: list[str]) -> None:
    """Run the asked-for parts in order, recording each result in `ctx` as it comes."""
    runners: dict[str, Callable[[], PartResult | list[PartResult] | None]] = {
        "a": lambda: bare.bare_terraform(ctx),
        "a20": lambda: bare.bare_terraform(ctx, "a20", parallelism=20),
        "g": lambda: native.native_test(ctx),
        "b": lambda: harness.pytest_session(ctx, "b", "pytest -m integration", []),
        "u": lambda: LiveSession(ctx).run(parts),
        "b4": lambda: harness.pytest_session(
            ctx, "b4", "pytest -m integration -n 4 --dist loadgroup", harness.XDIST_ARGS
        ),
        "d": lambda: harness.unit_suite(ctx),
        "e": lambda: harness.mutants(ctx),
        "v": lambda: harness.reference_verify(ctx),
        "h": lambda: harness.full_suite(ctx),
    }
    for part in parts:
        if part not in runners:
            continue  # (f) and (f2) run inside (u)'s live session
        try:
            produced = runners[part]()
        except (Exception, SystemExit) as exc:  # one broken part must not cost the others' figures
            ctx.say(f"({part}) crashed: {exc!r}")
            produced = ctx.results.get(part) or PartResult(part, part)
            produced.ok = False
            produced.status = "; ".join(filter(None, [produced.status, f"crashed: {exc!r}"]))
        for result in produced if isinstance(produced, list) else [produced] if produced else []:
            ctx.record(result)
