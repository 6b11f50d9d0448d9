"""The results table: one row per figure, its ratio to its same-run baseline, and PASS/MISS with the margin
where there is a target; plus the notes on how each part ended."""

from __future__ import annotations

from dataclasses import dataclass

from .results import PartResult

# Targets: (b), (d), (f), (f2) and (h) from issue 14; (e) from issue 8.
INTEGRATION_VS_BARE = 1.3
REUSE_UNCHANGED_VS_UP = 0.2
REUSE_CHANGED_VS_UP = 0.35
UNIT_COLD_VS_BARE = 0.3
UNIT_WARM_VS_BARE = 0.1
VERIFY_VS_BARE = 1.3  # issue 28: make verify <= 1.3 x bare terraform
FULL_SUITE_SECONDS = 540.0  # under 10 minutes with a minute of margin
MIN_MUTANTS = 25
MUTANTS_PER_PLAN = 5


@dataclass
class Row:
    """One line of the table, as text; `verdict` only marks a MISS in bold in the Markdown."""

    part: str
    figure: str
    value: str
    ratio: str = ""
    rss: str = ""
    target: str = ""
    result: str = ""
    verdict: str | None = None  # PASS / MISS / None


def seconds_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def ratio_text(value: float | None, baseline: float | None, label: str = "a") -> str:
    """`value` as a multiple of the baseline figure of part `label`."""
    if value is None or not baseline:
        return "—"
    return f"{value / baseline:.2f}x ({label})"


def at_most(value: float | None, limit: float | None, unit: str = "s", failed: bool = False) -> tuple[str, str | None]:
    """PASS/MISS text for `value <= limit`, with the margin."""
    if value is None:
        return "n/a", None
    if limit is None:
        return "n/a (its baseline is not in this run)", None
    share = value / limit if limit else float("inf")
    suffix = " s" if unit == "s" else ""
    caveat = " (run failed)" if failed else ""
    if value <= limit:
        return f"PASS by {limit - value:.1f}{suffix} ({share:.0%} of target){caveat}", "PASS"
    return f"MISS by {value - limit:.1f}{suffix} ({share:.0%} of target){caveat}", "MISS"


def none_expected(count: int | None, what: str) -> tuple[str, str | None]:
    """PASS/MISS text for a count that must be 0."""
    if count is None:
        return "n/a", None
    return ("PASS", "PASS") if count == 0 else (f"MISS: {count} {what}", "MISS")


def rss_text(result: PartResult | None) -> str:
    return "—" if result is None or result.peak_rss_mib is None else f"{result.peak_rss_mib:.0f} MiB"


def breakdown(result: PartResult) -> str:
    return ", ".join(f"{name} {count}" for name, count in result.invocation_breakdown.items())


def by_test_file(result: PartResult) -> str:
    """Which test files asked for the part's terraform invocations ("" when none did)."""
    files = ", ".join(f"{name} {count}" for name, count in result.invocations_by_test_file.items())
    return f"from {files}" if files else ""


def build_rows(results: dict[str, PartResult]) -> tuple[list[Row], list[str]]:
    """The table: one row per figure, its ratio to its baseline, and PASS/MISS with the margin where there is a target.

    The baselines: (a) for most figures, (u) for the live-session reruns (f) and (f2).
    """
    table = _Table(results)
    table.bare()
    table.bare_parallel()
    table.native()
    table.integration_sessions()
    table.up()
    table.reuse_unchanged()
    table.reuse_changed()
    table.down()
    table.unit()
    table.mutants()
    table.verify()
    table.full_suite()
    return table.rows, table.notes


class _Table:
    """The rows and notes being built, part by part in the table's order, and the baselines they compare with."""

    def __init__(self, results: dict[str, PartResult]) -> None:
        self.results = results
        self.rows: list[Row] = []
        self.notes: list[str] = []
        a, g, u = results.get("a"), results.get("g"), results.get("u")
        # A failed baseline is no baseline: its ratios and targets show as not computed.
        self.bare_total = a.seconds if a and a.ok else None
        self.bare_plan = a.steps.get("plan") if a and a.ok else None
        self.native_total = g.seconds if g and g.ok else None
        self.up_total = u.seconds if u and u.ok else None

    # -- kinds of row ---------------------------------------------------------------------------
    def add(
        self,
        part: str,
        figure: str,
        value: str,
        ratio: str = "",
        rss: str = "",
        target: str = "",
        *,
        result: str = "",
        verdict: str | None = None,
    ) -> None:
        self.rows.append(Row(part, figure, value, ratio, rss, target, result, verdict))

    def wall(self, part: str, figure: str, r: PartResult, base: float | None, label: str, factor: float | None) -> None:
        """A wall-time row: its ratio to part `label`'s figure, and its target `factor` x that figure (if any)."""
        if factor is None:
            self.add(part, figure, seconds_text(r.seconds), ratio_text(r.seconds, base, label), rss_text(r))
            return
        limit = base * factor if base else None
        text, verdict = at_most(r.seconds, limit, failed=not r.ok)
        target = f"<= {factor} x ({label})" + (f" = {limit:.1f} s" if limit else "")
        self.add(
            part,
            figure,
            seconds_text(r.seconds),
            ratio_text(r.seconds, base, label),
            rss_text(r),
            target,
            result=text,
            verdict=verdict,
        )

    def invocations(
        self, part: str, r: PartResult, target: str = "", result: str = "", verdict: str | None = None
    ) -> None:
        self.add(
            part,
            "terraform invocations / provider boots",
            f"{r.invocations} / {r.provider_boots}",
            "",
            "",
            target,
            result=result or breakdown(r),
            verdict=verdict,
        )

    def live_session_row(self, part: str, r: PartResult) -> None:
        """What the live session's record says the run did (started / attached / updated, and why)."""
        if r.extra.get("session"):
            self.add(part, "the live session's record after the run", "", result=str(r.extra["session"]))

    def outcome(self, r: PartResult) -> None:
        load = r.extra.get("load_average_at_end")
        at_end = f" (load average at its end: {' / '.join(str(x) for x in load)})" if load else ""
        if r.status:
            self.notes.append(f"({r.part}) {r.status}" + (f": {r.note}" if r.note else "") + at_end)
        elif r.note or at_end:
            self.notes.append(f"({r.part}) {r.note or 'done'}{at_end}.")

    # -- the parts, in the table's order ----------------------------------------------------------
    def bare(self) -> None:
        a = self.results.get("a")
        if a is None:
            return
        for step in ("init", "apply", "plan", "destroy"):
            if step in a.steps:
                self.add("a", f"terraform {step}", seconds_text(a.steps[step]), ratio_text(a.steps[step], a.seconds))
        self.add(
            "a", "bare terraform, total", seconds_text(a.seconds), "1.00x (a)" if a.ok else "—", rss_text(a), "baseline"
        )
        self.add("a", "terraform invocations / provider boots", f"{a.invocations} / {a.provider_boots}")
        if a.status:
            self.notes.append(f"(a) FAILED: {a.status}; ratios to (a) are not computed.")
        if a.note:
            self.notes.append(f"(a) {a.note}.")

    def bare_parallel(self) -> None:
        a, a20 = self.results.get("a"), self.results.get("a20")
        if a20 is None:
            return
        for step in ("apply", "plan", "destroy"):
            if step in a20.steps:
                base = a.steps.get(step) if a and a.ok else None
                self.add(
                    "a20",
                    f"terraform {step} -parallelism=20",
                    seconds_text(a20.steps[step]),
                    ratio_text(a20.steps[step], self.bare_total),
                    result=f"{ratio_text(a20.steps[step], base)}'s {step}",
                )
        self.wall("a20", "bare terraform -parallelism=20, total", a20, self.bare_total, "a", None)
        if a20.status:
            self.notes.append(f"(a20) FAILED: {a20.status}.")

    def native(self) -> None:
        g = self.results.get("g")
        if g is None:
            return
        for step in ("init", "test"):
            if step in g.steps:
                self.add(
                    "g", f"terraform {step}", seconds_text(g.steps[step]), ratio_text(g.steps[step], self.bare_total)
                )
        self.add(
            "g",
            "native terraform test, total",
            seconds_text(g.seconds),
            ratio_text(g.seconds, self.bare_total),
            rss_text(g),
            result=g.note or g.status,
        )
        self.invocations("g", g, result=f"{g.extra.get('run_blocks')} run blocks, each command = apply")
        if g.status:
            self.notes.append(f"(g) FAILED: {g.status}; ratios to (g) are not computed.")

    def integration_sessions(self) -> None:
        """(b) and (b4), each with what (c) counted in it."""
        a = self.results.get("a")
        for part in ("b", "b4"):
            r = self.results.get(part)
            if r is None:
                continue
            if part == "b":
                self.wall(
                    "b", "pytest -m integration, one process, cold: wall", r, self.bare_total, "a", INTEGRATION_VS_BARE
                )
                self.add(
                    "b",
                    "the same, against the native peer",
                    seconds_text(r.seconds),
                    ratio_text(r.seconds, self.native_total, "g"),
                )
            else:
                b = self.results.get("b")
                self.wall(
                    "b4", "pytest -m integration -n 4 --dist loadgroup, cold: wall", r, self.bare_total, "a", None
                )
                self.rows[-1].result = f"{ratio_text(r.seconds, b.seconds if b else None, 'b')}: the xdist lever"
            tag = "c" if part == "b" else f"c ({part})"
            self.add(
                tag,
                f"terraform invocations in ({part})",
                str(r.invocations),
                ratio_text(r.invocations, a.invocations if a else None),
                result=breakdown(r),
            )
            self.add(
                tag,
                f"provider boots in ({part}) (distinct PIDs)",
                str(r.provider_boots),
                ratio_text(r.provider_boots, a.provider_boots if a else None),
                result=f"at most {r.peak_providers} at once; {r.terraform_processes} terraform processes seen",
            )
            if r.terraform_cpu_seconds:
                self.add(tag, f"CPU of terraform and its providers in ({part})", f"{r.terraform_cpu_seconds:.0f} s")
            self.outcome(r)

    def up(self) -> None:
        u = self.results.get("u")
        if u is None:
            return
        self.add(
            "u",
            "stackprobe up, cold: wall",
            seconds_text(u.seconds),
            ratio_text(u.seconds, self.bare_total),
            rss_text(u),
            "baseline of (f), (f2)",
            result=u.status,
        )
        self.invocations("u", u)
        self.outcome(u)

    def reuse_unchanged(self) -> None:
        f = self.results.get("f")
        if f is None:
            return
        self.wall("f", "pytest --stackprobe-reuse, unchanged: wall", f, self.up_total, "u", REUSE_UNCHANGED_VS_UP)
        text, verdict = none_expected(f.invocations, "terraform invocations")
        details = [text, breakdown(f), by_test_file(f), f"{f.terraform_processes} terraform processes seen"]
        self.invocations("f", f, "= 0 terraform invocations", "; ".join(filter(None, details)), verdict)
        self.live_session_row("f", f)
        self.outcome(f)

    def reuse_changed(self) -> None:
        f2 = self.results.get("f2")
        if f2 is None:
            return
        self.wall(
            "f2",
            f"pytest --stackprobe-reuse, {f2.extra.get('edit') or 'one variable changed'}: wall",
            f2,
            self.up_total,
            "u",
            REUSE_CHANGED_VS_UP,
        )
        applies = f2.invocation_breakdown.get("apply", 0)
        verdict = "PASS" if applies else "MISS"
        self.invocations(
            "f2",
            f2,
            ">= 1 apply (the edit was seen)",
            "; ".join(filter(None, [verdict, breakdown(f2), by_test_file(f2)]))
            if f2.invocations is not None
            else "n/a",
            verdict if f2.invocations is not None else None,
        )
        self.live_session_row("f2", f2)
        self.outcome(f2)

    def down(self) -> None:
        down = self.results.get("down")
        if down is None:
            return
        self.add(
            "down",
            "stackprobe down: wall",
            seconds_text(down.seconds),
            ratio_text(down.seconds, self.up_total, "u"),
            rss_text(down),
            result=breakdown(down),
        )
        left = down.extra.get("sessions_left")
        pids = down.extra.get("emulators_left") or []
        if left is None:
            self.add("down", "left running after down", "unknown", target="nothing", result="n/a (see notes)")
        else:
            value = "nothing" if not (left or pids) else f"{left} live session(s), emulator pid(s) {pids}"
            verdict = "PASS" if value == "nothing" else "MISS"
            self.add(
                "down",
                "left running after down (status --json, emulator pid)",
                value,
                target="nothing",
                result=verdict + (f"; {down.extra['cleanup']}" if down.extra.get("cleanup") else ""),
                verdict=verdict,
            )
        self.outcome(down)

    def unit(self) -> None:
        d, dw = self.results.get("d"), self.results.get("d-warm")
        if d is not None:
            self.wall("d", "pytest -m unit, cold (empty plan store): wall", d, self.bare_total, "a", UNIT_COLD_VS_BARE)
            self.invocations("d", d)
            self.outcome(d)
        if dw is None:
            return
        self.wall("d", "pytest -m unit, warm (plan store hit): wall", dw, self.bare_total, "a", UNIT_WARM_VS_BARE)
        if d is not None and d.seconds:
            self.rows[-1].result += f"; {ratio_text(dw.seconds, d.seconds, 'd cold')}"
        plans = dw.invocation_breakdown.get("plan", 0) if dw.invocations is not None else None
        text, verdict = none_expected(plans, "plans")
        self.add(
            "d",
            "terraform plans in the warm run",
            "—" if plans is None else str(plans),
            target="= 0",
            result=text,
            verdict=verdict,
        )
        self.invocations("d", dw)
        self.outcome(dw)

    def mutants(self) -> None:
        e = self.results.get("e")
        if e is None:
            return
        self.wall("e", "stackprobe mutate: wall (deploy, mutants, destroy)", e, self.bare_total, "a", None)
        if "mutants" in e.extra:
            self.mutant_targets(e)
        self.notes.append(
            f"(e) {e.status or e.note or 'done'}; {e.invocations} terraform invocations ({breakdown(e)})."
        )

    def mutant_targets(self, e: PartResult) -> None:
        """(e)'s three targets: the catalogue's size, its terraform runs, and the mutation phase's seconds."""
        mutants, applies, plans = e.extra["mutants"], e.extra["applies"], e.extra["plans"]
        mutation_seconds = float(e.extra["mutation_seconds"])
        budget = mutants / MUTANTS_PER_PLAN
        verdict: str | None = "PASS" if mutants >= MIN_MUTANTS else "MISS"
        self.add(
            "e",
            "mutants in the catalogue",
            str(mutants),
            target=f">= {MIN_MUTANTS}",
            result=f"{verdict} by {abs(mutants - MIN_MUTANTS)}",
            verdict=verdict,
        )
        text, verdict = at_most(float(applies + plans), budget, unit="count", failed=not e.ok)
        self.add(
            "e",
            "mutant applies + plans",
            f"{applies} + {plans} = {applies + plans}",
            "",
            "",
            f"<= mutants/{MUTANTS_PER_PLAN} = {budget:.1f}",
            result=text,
            verdict=verdict,
        )
        limit = budget * self.bare_plan if self.bare_plan else None
        text, verdict = at_most(mutation_seconds, limit, failed=not e.ok)
        target = f"<= {budget:.1f} x plan(a)" + (f" = {limit:.1f} s" if limit else "")
        self.add(
            "e",
            "mutation phase (after the shared deploy)",
            seconds_text(mutation_seconds),
            ratio_text(mutation_seconds, self.bare_total),
            "",
            target,
            result=text,
            verdict=verdict,
        )

    def verify(self) -> None:
        v = self.results.get("v")
        if v is None:
            return
        self.wall("v", "make verify (after setup): wall", v, self.bare_total, "a", VERIFY_VS_BARE)
        self.invocations("v", v)
        self.notes.append(
            f"(v) {v.status or v.note or 'done'}; {v.invocations} terraform invocations ({breakdown(v)})."
        )

    def full_suite(self) -> None:
        h = self.results.get("h")
        if h is None:
            return
        text, verdict = at_most(h.seconds, FULL_SUITE_SECONDS, failed=not h.ok)
        self.add(
            "h",
            "full suite (make test): wall",
            seconds_text(h.seconds),
            ratio_text(h.seconds, self.bare_total),
            rss_text(h),
            f"<= {FULL_SUITE_SECONDS:.0f} s (10 min less a minute)",
            result=text,
            verdict=verdict,
        )
        self.notes.append(f"(h) {h.status or h.note}.")
