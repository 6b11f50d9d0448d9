"""The compatibility table, generated from the records (never typed by hand).

`markdown_table()` is what `docs/backends.md` embeds; a test regenerates it and compares, so a patch
added, removed or re-pinned without updating the docs fails the suite with the command to fix it.
"""

from __future__ import annotations

from stackprobe.backends.compat import KNOWN_DRIFT, KNOWN_GAPS, PATCHES, SUPPORTED_MOTO, moto_version


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _versions(moto_versions: str) -> str:
    # Most records hold for the whole supported range; only a narrower one is worth a cell of its own.
    return "supported range" if moto_versions == SUPPORTED_MOTO else f"`{moto_versions}`"


def markdown_table() -> str:
    installed = moto_version()
    lines = [
        f"### moto patches (installed moto {installed}; supported moto `{SUPPORTED_MOTO}`)",
        "",
        "Each patch carries a canary that reproduces its gap on an unpatched moto; a test fails when a gap no "
        "longer reproduces, since the patch may then be obsolete "
        "(`python -m stackprobe.backends.compat.canaries --patch NAME` shows what it sees).",
        "",
        "| Patch | moto versions | Applied | Kind | Resource types | Gap | Fix |",
        "|---|---|---|---|---|---|---|",
    ]
    for patch in PATCHES:
        lines.append(
            f"| `{patch.name}` | {_versions(patch.moto_versions)} | {'yes' if patch.applies_to(installed) else 'no'} | "
            f"{patch.kind.value} | {', '.join(f'`{t}`' for t in patch.resource_types)} | {_cell(patch.gap)} | "
            f"{_cell(patch.fix)} |"
        )
    lines += ["", "### Known emulator drift (classified, not failed)", ""]
    if KNOWN_DRIFT:
        lines += ["| Resource type | Attribute | moto versions | Reason |", "|---|---|---|---|"]
        lines += [
            f"| `{d.resource_type}` | `{d.attribute}` | {_versions(d.moto_versions)} | {_cell(d.reason)} |"
            for d in KNOWN_DRIFT
        ]
    else:
        lines.append("None: every drift seen so far is patched.")
    lines += [
        "",
        "### Known gaps (reported as emulator limitations)",
        "",
        "| Gap | Kind | Resource types | What moto does | Consequence |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{g.name}` | {g.kind.value} | {', '.join(f'`{t}`' for t in g.resource_types)} | {_cell(g.gap)} | "
        f"{_cell(g.consequence)} |"
        for g in KNOWN_GAPS
    ]
    return "\n".join(lines) + "\n"


def text_table() -> str:
    installed = moto_version()
    lines = [
        f"moto {installed} (supported: {SUPPORTED_MOTO}): {len(PATCHES)} patches, {len(KNOWN_DRIFT)} known drift, "
        f"{len(KNOWN_GAPS)} gaps",
        "",
    ]
    for patch in PATCHES:
        state = "applied" if patch.applies_to(installed) else f"not applied (needs moto {patch.moto_versions})"
        lines.append(f"patch {patch.name} [{patch.kind.value}] {state}: {patch.gap}")
    for drift in KNOWN_DRIFT:
        lines.append(f"drift {drift.resource_type}.{drift.attribute}: {drift.reason}")
    for gap in KNOWN_GAPS:
        lines.append(f"gap   {gap.name} [{gap.kind.value}]: {gap.gap}")
    return "\n".join(lines) + "\n"
