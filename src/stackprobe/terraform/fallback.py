"""Test with the newest mirrored version of a provider the mirror cannot supply as the configuration asks.

A stranger's repository pins the AWS provider its authors used: `version = "~> 3.0"` in `required_providers`
or in a provider block (the deprecated argument), or a committed `.terraform.lock.hcl` that selects 6.22.1.
Offline, the mirror holds what it holds (5.100.0 here), and init fails. With `--provider-fallback` the run
tests with the newest mirrored version instead, without an edit to the user's repository:

- detection (`fallbacks`) reads what init reads: every module's `required_providers` constraints, each
  provider block's own `version`, the committed lock file's selections, and the versions the mirror holds,
  with Terraform's constraint semantics (see `_allows`). A provider falls back when no mirrored version meets
  all its constraints, or when the lock file selects a version the mirror lacks. A constraint this reader
  cannot parse is left to terraform, whose error then says what is wrong with it;
- pinning (`pin`), in stackprobe's copy only: `stackprobe_versions_override.tf` in each module that constrains
  the provider sets its version to the mirrored one exactly. Terraform's override rules make that enough:
  `required_providers` merges element by element and an override's element replaces the original's
  constraint entirely; a provider block's `version` is an ordinary argument, replaced by an override of the
  same block (name and alias). The copy's lock file loses that provider's selection, so init selects the
  pinned version and records it there.

Each fallback is a `ProviderFallback`, which every report shows in its header. The pins are not among the
workspace's `generated` files on purpose: those are rewritten when the emulator's endpoint changes
(`write_overrides`), and a pin must survive that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stackprobe.terraform.config import ModuleConfig, configuration_files, read_blocks
from stackprobe.terraform.init_failure import LOCK_FILE, locked_versions, without_providers
from stackprobe.terraform.mirror import REGISTRY_HOST, ProviderSource, provider_address
from stackprobe.terraform.workspace import HEADER, PINS_NAME, Workspace

Address = tuple[str, str, str]
# One constraint of a comma-separated list: an operator, then one to three numbers (Terraform's "Ruby style").
_SELECTION = re.compile(
    r"(?P<op>!=|>=|<=|~>|=|>|<)?\s?(?P<version>(?P<numbers>\d+(?:\.\d+){0,2})(?:[-+][0-9A-Za-z.+-]+)?)"
)
# A version as terraform writes it: numbers (missing ones are zero), a prerelease, build metadata (ignored).
_VERSION = re.compile(r"(?P<numbers>\d+(?:\.\d+){0,2})(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


@dataclass(frozen=True)
class ProviderFallback:
    """A provider tested at another version than the configuration asks (only with --provider-fallback)."""

    source: str  # `hashicorp/aws` (the host is named when it is not the public registry)
    tested: str  # the mirrored version stackprobe's copy was pinned to
    asked: str  # the version the committed lock file selects, else the configuration's constraints
    # What asked it, and where in the user's tree (for the report's notes and the JSON report).
    why: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"tested with {self.source} {self.tested}; the configuration asks {self.asked}"

    def note(self, mirror: Path | None) -> str:
        """The longer story, for the report's notes."""
        return (
            f"--provider-fallback: {self.describe()} ({'; '.join(self.why)}), which the provider mirror {mirror} "
            f"does not hold. Only stackprobe's copy was pinned ({PINS_NAME} beside each such constraint, and a "
            f"lock file without that selection); your files are unchanged. Resources and arguments {self.tested} "
            "lacks fail at plan with terraform's own error; behaviour that differs between the two versions is not "
            "tested."
        )


@dataclass(frozen=True)
class _Demand:
    """One version constraint the configuration declares for a provider, and where."""

    address: Address
    constraint: str
    directory: Path
    local_name: str
    # A provider block's own `version` (with the block's alias), rather than a `required_providers` entry.
    in_provider_block: bool = False
    alias: str | None = None


# -- Terraform's version constraints ---------------------------------------------------------------------

_Version = tuple[int, int, int, str]


def _version(text: str) -> _Version | None:
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    numbers = [int(part) for part in match["numbers"].split(".")] + [0, 0]
    return numbers[0], numbers[1], numbers[2], match["pre"] or ""


def _order(version: _Version) -> tuple[int, int, int, bool, str]:
    """Semantic-version order: a prerelease comes before its release."""
    return version[0], version[1], version[2], not version[3], version[3]


def _allows(constraints: str, candidate: _Version) -> bool | None:
    """Whether `candidate` meets a comma-separated constraint list; None when the list does not parse.

    As terraform reads it (apparentlymart/go-versions, Ruby style): missing numbers are zero, so `= 1.2` means
    1.2.0; `~> 1.2` and `~> 1` allow anything below the next major, `~> 1.2.3` anything below 1.3.0; a
    prerelease is selected only when a constraint names it exactly.
    """
    selections = []
    for part in constraints.split(","):
        match = _SELECTION.fullmatch(part.strip())
        bound = _version(match["version"]) if match is not None else None
        if match is None or bound is None:
            return None
        selections.append((match["op"] or "=", match["numbers"].count(".") + 1, bound))
    if candidate[3] and not any(op == "=" and bound == candidate for op, _, bound in selections):
        return False
    return all(_meets(op, given, bound, candidate) for op, given, bound in selections)


def _meets(op: str, given: int, bound: _Version, candidate: _Version) -> bool:
    low, have = _order(bound), _order(candidate)
    if op == "~>":
        upper = (bound[0], bound[1] + 1, 0, "") if given == 3 else (bound[0] + 1, 0, 0, "")
        return low <= have < _order(upper)
    return {
        "=": have == low,
        "!=": have != low,
        ">": have > low,
        ">=": have >= low,
        "<": have < low,
        "<=": have <= low,
    }[op]


# -- what the configuration asks --------------------------------------------------------------------------


def _source_of(module: ModuleConfig, local_name: str) -> Address | None:
    written = module.provider_requirements.get(local_name, {}).get("source") or f"hashicorp/{local_name}"
    try:
        return provider_address(written)
    except ValueError:
        return None


def _demands(workspace: Workspace) -> Iterator[_Demand]:
    """Every version constraint of every module: `ModuleConfig` has the `required_providers` ones; a provider
    block's own `version` is read here (nothing else needs it)."""
    for directory, module in sorted(workspace.modules.items()):
        for local_name, requirement in module.provider_requirements.items():
            address = _source_of(module, local_name)
            if address is not None and requirement.get("version"):
                yield _Demand(address, str(requirement["version"]), directory, local_name)
        for path in configuration_files(directory):
            for block in read_blocks(path):
                version, alias = block.attributes.get("version"), block.attributes.get("alias")
                if block.type != "provider" or not block.labels or not isinstance(version, str):
                    continue
                address = _source_of(module, block.labels[0])
                if address is not None:
                    alias = alias if isinstance(alias, str) else None
                    yield _Demand(address, version, directory, block.labels[0], True, alias)


def _used(workspace: Workspace) -> set[Address]:
    """Every provider the configuration uses: required, configured, or implied by a resource type."""
    used = set()
    for module in workspace.modules.values():
        names = {*module.provider_requirements, *module.provider_aliases, *module.implied_providers}
        used |= {address for name in names if (address := _source_of(module, name)) is not None}
    return used


def _short(address: Address) -> str:
    host, namespace, type_ = address
    return f"{namespace}/{type_}" if host == REGISTRY_HOST else "/".join(address)


def _where(workspace: Workspace, demand: _Demand) -> str:
    module = os.path.relpath(demand.directory, workspace.module_dir)
    place = "the root module" if module == "." else os.path.normpath(module)
    what = f'provider "{demand.local_name}" block' if demand.in_provider_block else "required_providers"
    return f'{what} in {place}: "{demand.constraint}"'


def fallbacks(workspace: Workspace, source: ProviderSource) -> list[ProviderFallback]:
    """The providers init cannot get from the mirror as the configuration asks, each with the newest mirrored
    version to test with instead; none from the registry (any version may exist there) or for a provider the
    mirror holds no version of (terraform's error says so)."""
    if source.mirror is None:
        return []
    lock = workspace.source_dir / LOCK_FILE
    locked = locked_versions(lock.read_text(encoding="utf-8")) if lock.is_file() else {}
    demands = list(_demands(workspace))
    found = []
    for address in sorted(_used(workspace)):
        versions = {v: parsed for v in source.versions("/".join(address)) if (parsed := _version(v)) is not None}
        asked = list(dict.fromkeys(d.constraint for d in demands if d.address == address))
        verdicts = [_allows(", ".join(asked), parsed) for parsed in versions.values()] if asked else [True]
        selected = locked.get(address)
        foreign = selected if selected is not None and selected not in versions else None
        if not versions or None in verdicts:
            continue  # nothing to fall back to, or a constraint that terraform's own error explains
        if foreign is None and any(verdicts):
            continue  # the mirror holds what the configuration asks
        why = [_where(workspace, d) for d in demands if d.address == address]
        if foreign is not None:
            why.insert(0, f"the committed {LOCK_FILE} selects {foreign}")
        # The newest release; a mirror of prereleases only falls back to its newest prerelease.
        tested = ([v for v, parsed in versions.items() if not parsed[3]] or list(versions))[-1]
        found.append(ProviderFallback(_short(address), tested, foreign or ", ".join(asked), tuple(why)))
    return found


# -- pinning the copy ---------------------------------------------------------------------------------------


def _pins(demands: list[_Demand], tested: dict[Address, str]) -> str:
    """An override file's text setting each of `demands` (one module's) to exactly the version it is tested with."""
    required = sorted({(d.local_name, d.address) for d in demands if not d.in_provider_block})
    lines = []
    if required:
        lines += ["terraform {", "  required_providers {"]
        lines += [
            f'    {name} = {{ source = "{_short(address)}", version = "{tested[address]}" }}'
            for name, address in required
        ]
        lines += ["  }", "}"]
    for demand in (d for d in demands if d.in_provider_block):
        lines.append(f'provider "{demand.local_name}" {{')
        if demand.alias:
            lines.append(f'  alias   = "{demand.alias}"')
        lines += [f'  version = "{tested[demand.address]}"', "}"]
    return "\n".join(lines) + "\n"


def unpin(workspace: Workspace) -> None:
    """Remove the pins an earlier init wrote in this copy (a live session's kept workspace is initialised again)."""
    for directory in workspace.modules:
        (directory / PINS_NAME).unlink(missing_ok=True)


def pin(workspace: Workspace, source: ProviderSource) -> list[ProviderFallback]:
    """Pin the copy to the fallbacks (see the module docstring) and return them; the user's files stay as they are."""
    found = fallbacks(workspace, source)
    tested = {provider_address(f.source): f.tested for f in found}
    by_directory: dict[Path, list[_Demand]] = {}
    for demand in _demands(workspace):
        if demand.address in tested:
            by_directory.setdefault(demand.directory, []).append(demand)
    for directory, demands in by_directory.items():
        comment = "# Pins the provider versions the mirror holds (--provider-fallback).\n"
        (directory / PINS_NAME).write_text(HEADER + comment + _pins(demands, tested), encoding="utf-8")
    lock = workspace.module_dir / LOCK_FILE
    if found and lock.is_file():
        # The committed selection would hold init to it (or to a version the pins no longer allow).
        lock.write_text(without_providers(lock.read_text(encoding="utf-8"), {f.source for f in found}), "utf-8")
    return found
