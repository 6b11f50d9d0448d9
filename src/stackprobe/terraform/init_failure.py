"""Why `terraform init` failed, and what to do about it.

init is where a configuration first meets this machine: its syntax, its module calls, its provider
constraints and its committed lock file. Three kinds of failure need more than terraform's words:
- a provider constraint, or a version the lock file selected, that the local mirror cannot supply: the error
  says which versions the mirror holds, and the two ways out (change the constraint or the lock file, or
  mirror a matching version);
- a committed lock file whose checksums do not cover the mirror's package of the *same* version (recorded
  on another platform, typically a laptop's single `h1:` hash): `lock_checksum_mismatches` recognises it,
  `without_hashes` gives the lock file to retry with, `checksum_note` says what was done. Only for a
  filesystem mirror: a registry package that does not match its recorded checksum is exactly what the lock
  file is there to stop;
- anything else: terraform's diagnostics verbatim, each once, and the first file and line named in the
  user's own tree (the workspace is a copy, and may be gone by the time the message is read).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from stackprobe.errors import TerraformFailed
from stackprobe.terraform.config import parse_native
from stackprobe.terraform.mirror import MIRROR_ENV, ProviderSource, provider_address
from stackprobe.terraform.workspace import OVERRIDE_NAME, PINS_NAME, PROVIDER_NAME, Workspace

LOCK_FILE = ".terraform.lock.hcl"
# How each front-end spells the setting (stackprobe.settings declares it; tests/harness keep the two the same).
FALLBACK_OPTION = (
    "--provider-fallback (pytest: --stackprobe-provider-fallback; ini stackprobe_provider_fallback = true)"
)
# Generous, but bounded: a configuration with hundreds of errors must not make a report unreadable.
DETAIL_LIMIT = 6000

_START = re.compile(r"^(Error|Warning): (.*)$")
_LOCATION = re.compile(r"^\s+on (?P<file>.+?) line (?P<line>\d+)(?:, in .*)?:$")
_PREAMBLE = "Terraform encountered problems during initialisation"
_QUERY = re.compile(
    r"Could not retrieve the list of available versions for provider (?P<provider>\S+): (?P<reason>.*?)"
    r"(?: To see which modules.*| - /.*)?$"
)
_CONSTRAINT = re.compile(r"no available releases match the given constraints (?P<constraint>.+)$")
_LOCKED = re.compile(r"the previously-selected version (?P<version>\S+) is no longer available")
_ABSENT = re.compile(r"was not found in any of the search locations")
_CHECKSUM = re.compile(
    r"the local package for (?P<provider>\S+) (?P<version>\S+) doesn't match any of the checksums previously "
    r"recorded in the dependency lock file"
)
_LOCK_PROVIDER = re.compile(r'^provider\s+"(?P<address>[^"]+)"\s*\{.*?^\}', re.MULTILINE | re.DOTALL)
_LOCK_HASHES = re.compile(r"^[ \t]*hashes[ \t]*=[ \t]*\[[^\]]*\][ \t]*\r?\n", re.MULTILINE)


@dataclass(frozen=True)
class Diagnostic:
    """One of terraform's `Error:` paragraphs, as printed (with -no-color), and where it points."""

    summary: str
    text: str
    file: str | None = None
    line: int | None = None

    @property
    def sentence(self) -> str:
        """The text on one line: terraform wraps its messages at 78 columns, anywhere in a sentence."""
        return " ".join(self.text.split())


def _diagnostic(lines: list[str]) -> Diagnostic:
    while lines and not lines[-1].strip():
        lines.pop()
    location = next((m for m in map(_LOCATION.match, lines) if m), None)
    summary = lines[0].split(": ", 1)[1].strip()
    if location is None:
        return Diagnostic(summary, "\n".join(lines))
    return Diagnostic(summary, "\n".join(lines), location["file"], int(location["line"]))


def error_diagnostics(output: str) -> list[Diagnostic]:
    """terraform's `Error:` diagnostics in `output`, in order, each once, their lines kept as printed.

    Errors go to stderr, which the runner keeps after stdout, so an error paragraph runs to the next
    `Error:`/`Warning:` or to the end. The box drawing of a coloured run (`│ `, `╷`, `╵`) is removed.
    """
    found: list[Diagnostic] = []
    current: list[str] | None = None
    for raw in output.splitlines():
        line = raw.rstrip()
        if line in ("╷", "╵"):
            continue
        line = "" if line == "│" else line.removeprefix("│ ")
        if start := _START.match(line):
            if current:
                found.append(_diagnostic(current))
            current = [line] if start.group(1) == "Error" else None
        elif current is not None:
            current.append(line)
    if current:
        found.append(_diagnostic(current))
    return list(dict.fromkeys(found))


def _verbatim(diagnostics: list[Diagnostic]) -> str:
    text = ""
    for number, diagnostic in enumerate(diagnostics):
        if text and len(text) + len(diagnostic.text) > DETAIL_LIMIT:
            return f"{text}\n\n... and {len(diagnostics) - number} more error(s) in terraform's output."
        text += ("\n\n" if text else "") + diagnostic.text
    return text


def user_path(workspace: Workspace, file: str) -> str:
    """Where a file terraform names (relative to the workspace's root module) is in the user's tree."""
    if Path(file).name in (OVERRIDE_NAME, PROVIDER_NAME, PINS_NAME):
        return f"{file} (generated by stackprobe)"
    if os.path.isabs(file):
        return file
    return os.path.normpath(workspace.source_dir / file)


def _requirements(workspace: Workspace, provider: str) -> list[str]:
    """`DIR requires NAME version "..."` for each module that constrains `provider`, in the user's tree."""
    wanted = provider_address(provider)
    found = []
    for directory, module in sorted(workspace.modules.items()):
        for local_name, requirement in module.provider_requirements.items():
            source = requirement.get("source") or f"hashicorp/{local_name}"
            try:
                matches = provider_address(source) == wanted
            except ValueError:
                continue
            if matches and requirement.get("version"):
                where = os.path.normpath(workspace.source_dir / os.path.relpath(directory, workspace.module_dir))
                found.append(f'{where} requires {local_name} version "{requirement["version"]}"')
    return found


def _provider_unavailable(
    diagnostic: Diagnostic,
    diagnostics: list[Diagnostic],
    workspace: Workspace,
    source: ProviderSource,
    platform: str,
    output: str,
    offer_fallback: bool,
) -> TerraformFailed | None:
    query = _QUERY.search(diagnostic.sentence)
    if query is None or source.mirror is None:
        return None
    provider, reason = query["provider"], query["reason"]
    held = source.versions(provider)
    holdings = ", ".join(f"{version} ({', '.join(platforms)})" for version, platforms in held.items())
    holds = f"it holds {holdings}" if held else "it holds no version of it"
    newest = next(reversed(held), None)
    # The third way out, which needs no edit at all: stackprobe.terraform.fallback.
    instead = (
        f" Or rerun with {FALLBACK_OPTION} to test with {provider} {newest} instead, in stackprobe's copy only (every "
        "report then says so)."
        if offer_fallback and newest
        else ""
    )

    def mirror_it(requirement: str) -> str:
        return (
            f"on a machine with registry access, run `terraform providers mirror -platform={platform} DIR` in a "
            f"configuration that requires {requirement}, then copy DIR's contents into {source.mirror} or point "
            f"${MIRROR_ENV} at DIR"
        )

    detail = _verbatim(diagnostics)
    if constraint := _CONSTRAINT.search(reason):
        wanted = constraint["constraint"]
        change = (
            f'change the constraint to admit a version the mirror holds (e.g. `version = "~> '
            f'{".".join(newest.split(".")[:2])}"` for {newest})'
            if newest
            else "change the constraint"
        )
        declared = _requirements(workspace, provider)
        if declared:
            detail = "; ".join(declared) + ".\n\n" + detail
        return TerraformFailed(
            f"No version of {provider} in the provider mirror {source.mirror} satisfies `{wanted}`: {holds}",
            f"{change}, or add a version that satisfies it to the mirror: "
            + mirror_it(f'`version = "{wanted}"`')
            + "."
            + instead,
            detail=detail,
            output=output,
        )
    if locked := _LOCKED.search(reason):
        version = locked["version"]
        host, namespace, type_ = provider_address(provider)
        return TerraformFailed(
            f"The committed {LOCK_FILE} selects {provider} {version}, which the provider mirror {source.mirror} "
            f"does not hold: {holds}",
            f"add {version} to the mirror ("
            + mirror_it(f'`version = "{version}"`')
            + f"); or let the lock file select a version the mirror holds: remove the "
            f'`provider "{host}/{namespace}/{type_}"` block from {workspace.source_dir / LOCK_FILE} (stackprobe '
            "then selects one; `terraform init` with the same mirror records it for you to commit)." + instead,
            detail=detail,
            output=output,
        )
    if _ABSENT.search(reason):
        return TerraformFailed(
            f"The provider mirror {source.mirror} holds no version of {provider}, which the configuration requires",
            "add it to the mirror: " + mirror_it(provider) + ".",
            detail=detail,
            output=output,
        )
    return None


def explain(
    failure: TerraformFailed,
    workspace: Workspace,
    source: ProviderSource,
    platform: str | None,
    *,
    offer_fallback: bool = False,
) -> TerraformFailed:
    """The error to raise for a failed `terraform init`: still a TerraformFailed, with the same output.

    `offer_fallback`: a provider the mirror cannot supply as asked names --provider-fallback too (the run was
    not given it).
    """
    diagnostics = error_diagnostics(failure.output)
    platform_name = platform or "OS_ARCH"
    for diagnostic in diagnostics:
        unavailable = _provider_unavailable(
            diagnostic, diagnostics, workspace, source, platform_name, failure.output, offer_fallback
        )
        if unavailable is not None:
            return unavailable
    detail = _verbatim(diagnostics) or failure.detail
    located = next((d for d in diagnostics if d.file is not None), None)
    if located is not None and located.file is not None:
        where = user_path(workspace, located.file)
        return TerraformFailed(
            f"`terraform init` failed: {located.summary} ({where} line {located.line})",
            f"correct {where} at line {located.line} as terraform's diagnostic says (each diagnostic in this "
            "message names its file and line), then run again.",
            detail=detail,
            output=failure.output,
        )
    first = next((d for d in diagnostics if not d.summary.startswith(_PREAMBLE)), None)
    if first is not None:
        return TerraformFailed(
            f"`terraform init` failed: {first.summary}",
            "act on terraform's diagnostics in this message, then run again.",
            detail=detail,
            output=failure.output,
        )
    return TerraformFailed(failure.problem, failure.remedy, detail=detail, output=failure.output)


# -- lock files recorded on another platform -----------------------------------------------------------


def locked_versions(lock_text: str) -> dict[tuple[str, str, str], str]:
    """Provider address -> the version a lock file selects."""
    found = {}
    for block in parse_native(lock_text):
        version = block.attributes.get("version")
        if block.type == "provider" and block.labels and isinstance(version, str):
            try:
                found[provider_address(block.labels[0])] = version
            except ValueError:
                continue
    return found


def lock_checksum_mismatches(output: str, lock_text: str, source: ProviderSource) -> dict[str, str]:
    """Provider -> version, when init failed *only* because the lock file's checksums do not cover the
    mirror's package of the very version the lock file selects; empty otherwise (nothing to retry)."""
    diagnostics = error_diagnostics(output)
    if source.mirror is None or not diagnostics:
        return {}
    locked = locked_versions(lock_text)
    found: dict[str, str] = {}
    for diagnostic in diagnostics:
        mismatch = _CHECKSUM.search(diagnostic.sentence)
        if mismatch is None:
            return {}
        provider, version = mismatch["provider"], mismatch["version"]
        if locked.get(provider_address(provider)) != version or version not in source.versions(provider):
            return {}
        found[provider] = version
    return found


def without_providers(lock_text: str, providers: set[str]) -> str:
    """The lock file without the selections of `providers` (init then selects them afresh)."""
    addresses = {provider_address(p) for p in providers}
    return _LOCK_PROVIDER.sub(
        lambda block: "" if provider_address(block["address"]) in addresses else block[0], lock_text
    )


def without_hashes(lock_text: str, providers: set[str]) -> str:
    """The lock file with the `hashes` of `providers` removed; versions and constraints are kept."""
    addresses = {provider_address(p) for p in providers}

    def strip(block: re.Match[str]) -> str:
        if provider_address(block["address"]) not in addresses:
            return block.group(0)
        return _LOCK_HASHES.sub("", block.group(0))

    return _LOCK_PROVIDER.sub(strip, lock_text)


def checksum_note(
    mismatches: dict[str, str], source: ProviderSource, platform: str | None, workspace: Workspace
) -> str:
    """What the report says after a retry without the lock file's checksums."""
    packages = ", ".join(f"{provider} {version}" for provider, version in sorted(mismatches.items()))
    platform_name = platform or "this machine's platform"
    return (
        f"The committed {LOCK_FILE}'s checksums do not match the local mirror's {packages} package for "
        f"{platform_name} (they were recorded on another platform); init was retried without them, with the "
        f"lock file's versions kept. Your lock file is unchanged; to add this platform's checksums, run "
        f"`terraform providers lock -fs-mirror={source.mirror} -platform={platform or 'OS_ARCH'}` in "
        f"{workspace.source_dir} and commit {LOCK_FILE}."
    )
