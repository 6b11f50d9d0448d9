"""The compatibility table, generated from the records (never typed by hand).

`markdown_table()` is what `docs/backends.md` embeds; a test regenerates it and compares, so a patch
added, removed or re-pinned without updating the docs fails the suite with the command to fix it. It
says which moto versions each patch mends, never what one machine has installed, so the committed page
is the same whichever moto in the supported range generated it. `text_table()` is `stackprobe compat`:
the installed moto, and each patch active or inactive on it, with the reason.
"""

from __future__ import annotations

from packaging.version import Version

from stackprobe.backends.compat import KNOWN_DRIFT, KNOWN_GAPS, PATCHES, SUPPORTED_MOTO, MotoPatch, moto_version
from stackprobe.backends.compat.base import CHECKED_MOTO


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _versions(moto_versions: str) -> str:
    # Most records hold for the whole supported range; only a narrower one is worth a cell of its own.
    return "supported range" if moto_versions == SUPPORTED_MOTO else f"`{moto_versions}`"


def _mends(patch: MotoPatch) -> str:
    if patch.fixed_in is None:
        return _versions(patch.moto_versions)
    return f"`{patch.mends_text()}` (fixed upstream in {patch.fixed_in})"


def markdown_table() -> str:
    lines = [
        f"### moto patches (supported moto `{SUPPORTED_MOTO}`; canaries last run on {CHECKED_MOTO})",
        "",
        "Each patch applies only to the moto versions that have its gap (the *Mends* column). Each carries a "
        "canary that reproduces the gap on an unpatched moto: on the moto CI installs (requirements/dev.lock) a "
        "test fails when a gap no longer reproduces where its patch is on, or still reproduces where it is off, "
        "and `make test-latest` runs the same canaries on the newest moto the range allows "
        "(`python -m stackprobe.backends.compat.canaries --patch NAME` shows what one sees). "
        "`stackprobe compat` lists which patches are active for the installed moto, and why.",
        "",
        "| Patch | Mends moto | Kind | Resource types | Gap | Fix |",
        "|---|---|---|---|---|---|",
    ]
    for patch in PATCHES:
        lines.append(
            f"| `{patch.name}` | {_mends(patch)} | {patch.kind.value} | "
            f"{', '.join(f'`{t}`' for t in patch.resource_types)} | {_cell(patch.gap)} | {_cell(patch.fix)} |"
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


def _checked(installed: str) -> str:
    if Version(installed) > Version(CHECKED_MOTO):
        return (
            f"moto {installed} is newer than the newest release the canaries were run on ({CHECKED_MOTO}): each patch "
            "applies as its record says; `python -m stackprobe.backends.compat.canaries` shows whether any gap is "
            "fixed in it"
        )
    return f"canaries last run on moto {CHECKED_MOTO}"


def text_table() -> str:
    installed = moto_version()
    active = [patch for patch in PATCHES if patch.applies_to(installed)]
    lines = [
        f"moto {installed} installed (supported: {SUPPORTED_MOTO}; {_checked(installed)})",
        f"{len(active)} of {len(PATCHES)} patches active, {len(KNOWN_DRIFT)} known drift, {len(KNOWN_GAPS)} gaps",
        "",
    ]
    for patch in PATCHES:
        lines.append(f"patch {patch.name} [{patch.kind.value}] {patch.status(installed)}")
        lines.append(f"      gap: {patch.gap}")
    for drift in KNOWN_DRIFT:
        lines.append(f"drift {drift.resource_type}.{drift.attribute}: {drift.reason}")
    for gap in KNOWN_GAPS:
        lines.append(f"gap   {gap.name} [{gap.kind.value}]: {gap.gap}")
    return "\n".join(lines) + "\n"
