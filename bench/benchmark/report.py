"""The run's reports: the table as text on stdout, as Markdown in --results, and every figure as JSON in --json."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .results import PartResult
from .table import Row


def render_text(rows: list[Row]) -> str:
    header = Row("part", "figure", "value", "ratio (baseline)", "peak RSS", "target", "result")
    table = [header, *rows]
    widths = [
        max(len(getattr(r, name)) for r in table) for name in ("part", "figure", "value", "ratio", "rss", "target")
    ]
    lines = []
    for index, r in enumerate(table):
        cells = [r.part, r.figure, r.value, r.ratio, r.rss, r.target]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + r.result)
        if index == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 6))
    return "\n".join(lines)


def render_markdown(rows: list[Row]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|") or " "

    lines = [
        "| Part | Figure | Value | Ratio (baseline) | Peak RSS | Target | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        result = f"**{r.result}**" if r.verdict == "MISS" else r.result
        lines.append(
            "| " + " | ".join(cell(c) for c in (r.part, r.figure, r.value, r.ratio, r.rss, r.target, result)) + " |"
        )
    return "\n".join(lines)


def write_reports(
    results: dict[str, PartResult],
    rows: list[Row],
    notes: list[str],
    levers: list[str],
    meta: dict[str, Any],
    results_path: Path,
    json_path: Path | None,
) -> None:
    """The table and notes on stdout; the Markdown record in `results_path`; every figure as JSON in `json_path`."""
    text = render_text(rows)
    sys.stdout.write("\n" + text + "\n")
    for note in notes:
        sys.stdout.write(f"\n* {note}")
    sys.stdout.write("\n")
    markdown = [
        "# Benchmark: latest figures",
        "",
        "Written by `bench/run` (see bench/README.md); every number comes from the run described here.",
        "",
        f"- Command: `{meta['command']}`",
        f"- Started {meta['started']}, finished {meta['finished']} "
        f"({meta['wall_seconds']:.0f} s for the whole benchmark)",
        f"- Revision: {meta['revision']}; Terraform {meta['terraform']}; {meta['machine']['cpus']} CPUs; "
        f"load average at start {meta['machine']['load_average_at_start']}",
        f"- Parts run: {', '.join(meta['parts'])}; logs in `{meta['work_dir']}/logs`",
        "",
        render_markdown(rows),
        "",
        "Notes:",
        "",
        *[f"- {note}" for note in notes],
    ]
    if levers:
        markdown += ["", "What the levers bought in this run (estimates from this run's measured costs):", ""]
        markdown += [f"- {line}" for line in levers]
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    sys.stdout.write(f"\nwrote {results_path}")
    if json_path is not None:
        payload = {
            **meta,
            "figures": [asdict(r) for r in rows],
            "notes": notes,
            "levers": levers,
            "parts_raw": {k: asdict(v) for k, v in results.items()},
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        sys.stdout.write(f" and {json_path}")
    sys.stdout.write("\n")
