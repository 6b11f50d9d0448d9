"""Resolve where providers come from, offline first, and write a CLI config that says so.

Order: an explicit directory ($STACKPROBE_PROVIDER_MIRROR or --stackprobe-provider-mirror), then the
implied local mirror directories Terraform itself documents, then a bounded search for an unpacked
`registry.terraform.io/<namespace>/<type>` tree, and only then the public registry. The user's own
CLI config (TF_CLI_CONFIG_FILE, ~/.terraformrc) is never edited: the harness writes its own file and
points only its own terraform processes at it.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stackprobe.errors import ProviderUnavailable

MIRROR_ENV = "STACKPROBE_PROVIDER_MIRROR"
REGISTRY_HOST = "registry.terraform.io"
# Roots searched for an unpacked mirror when no implied location has one. Bounded on purpose: a full
# filesystem walk costs seconds on every session start.
SEARCH_ROOTS = ("/opt", "/usr/local/share", "/usr/share", "/srv", "~/.cache", "~/.local/share")
SEARCH_DEPTH = 4


@dataclass(frozen=True)
class ProviderSource:
    """Where `terraform init` gets providers: a filesystem mirror directory, or the registry."""

    mirror: Path | None
    namespaces: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return f"filesystem mirror {self.mirror}" if self.mirror else f"the public registry ({REGISTRY_HOST})"

    def versions(self, provider: str) -> dict[str, tuple[str, ...]]:
        """Versions of `provider` the mirror holds, each with its platforms; empty for the registry."""
        return mirror_versions(self.mirror, provider) if self.mirror is not None else {}

    def cli_config(self, plugin_cache_dir: Path | None = None) -> str:
        """The HCL of a CLI config that installs from this source (and caches plugins when asked)."""
        lines: list[str] = []
        if plugin_cache_dir is not None:
            lines.append(f'plugin_cache_dir = "{plugin_cache_dir}"')
        if self.mirror is not None:
            patterns = ", ".join(f'"{REGISTRY_HOST}/{ns}/*"' for ns in self.namespaces)
            lines += [
                "provider_installation {",
                "  filesystem_mirror {",
                f'    path    = "{self.mirror}"',
                f"    include = [{patterns}]",
                "  }",
                "  direct {",
                f"    exclude = [{patterns}]",
                "  }",
                "}",
            ]
        return "\n".join(lines) + "\n"


def provider_address(provider: str) -> tuple[str, str, str]:
    """(host, namespace, type) of `hashicorp/aws` or `registry.terraform.io/hashicorp/aws`."""
    parts = provider.strip().strip('"').split("/")
    if len(parts) == 2:
        parts.insert(0, REGISTRY_HOST)
    if len(parts) != 3:
        raise ValueError(f"{provider!r} is not a provider address (namespace/type or host/namespace/type)")
    host, namespace, type_ = parts
    return host.lower(), namespace.lower(), type_.lower()


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+-]", version))


# A packed mirror holds one archive per version and platform beside the version directories.
_ARCHIVE = re.compile(r"terraform-provider-(?P<type>[^_]+)_(?P<version>[^_]+)_(?P<platform>[^_]+_[^_.]+)\.zip")


def mirror_versions(mirror: Path, provider: str) -> dict[str, tuple[str, ...]]:
    """Versions of `provider` in a filesystem mirror, oldest first, each with the platforms it has.

    Both of Terraform's layouts count: unpacked (`HOST/NS/TYPE/VERSION/OS_ARCH/`) and packed
    (`HOST/NS/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`).
    """
    host, namespace, type_ = provider_address(provider)
    directory = mirror / host / namespace / type_
    found: dict[str, set[str]] = {}
    try:
        entries = list(directory.iterdir())
    except OSError:
        return {}
    for entry in entries:
        if entry.is_dir():
            platforms = {p.name for p in entry.iterdir() if p.is_dir()}
            found.setdefault(entry.name, set()).update(platforms)
        elif (archive := _ARCHIVE.fullmatch(entry.name)) and archive["type"] == type_:
            found.setdefault(archive["version"], set()).add(archive["platform"])
    return {v: tuple(sorted(found[v])) for v in sorted(found, key=_version_key)}


def implied_mirror_dirs() -> list[Path]:
    """Terraform's documented implied local mirror directories on Unix-like systems."""
    home = Path.home()
    xdg_data = os.environ.get("XDG_DATA_HOME", str(home / ".local" / "share"))
    xdg_dirs = os.environ.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share").split(":")
    dirs = [Path("terraform.d/plugins").resolve(), home / ".terraform.d" / "plugins"]
    dirs.append(Path(xdg_data) / "terraform" / "plugins")
    dirs += [Path(d) / "terraform" / "plugins" for d in xdg_dirs if d]
    return dirs


def mirror_namespaces(directory: Path) -> tuple[str, ...]:
    """Namespaces (e.g. `hashicorp`) that hold at least one provider in a mirror directory."""
    registry = directory / REGISTRY_HOST
    if not registry.is_dir():
        return ()
    found = []
    for namespace in sorted(registry.iterdir()):
        if namespace.is_dir() and any(p.is_dir() for p in namespace.iterdir()):
            found.append(namespace.name)
    return tuple(found)


def _walk_for_registry(root: Path, depth: int) -> Iterator[Path]:
    if depth < 0:
        return
    try:
        children = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return
    for child in children:
        if child.name == REGISTRY_HOST:
            yield root
        else:
            yield from _walk_for_registry(child, depth - 1)


def search_mirrors(roots: Iterable[str] = SEARCH_ROOTS, depth: int = SEARCH_DEPTH) -> Iterator[Path]:
    """Directories under `roots` that contain an unpacked `registry.terraform.io/...` tree."""
    for root in roots:
        path = Path(root).expanduser()
        if path.is_dir():
            yield from _walk_for_registry(path, depth)


def registry_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((REGISTRY_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_provider_source(explicit: str | None = None, required: tuple[str, ...] = ("hashicorp",)) -> ProviderSource:
    """Pick the provider source for this run, or raise ProviderUnavailable with the places searched.

    `required` lists the namespaces the configuration needs; a mirror that lacks one of them is still
    used for what it has, and the rest comes from the registry (which must then be reachable).
    """
    candidates: Iterable[Path]
    chosen = explicit or os.environ.get(MIRROR_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not mirror_namespaces(path):
            raise ProviderUnavailable(
                f"The provider mirror {path} has no `{REGISTRY_HOST}/<namespace>/<type>` tree",
                f"point --stackprobe-provider-mirror / ${MIRROR_ENV} at the directory that contains "
                f"`{REGISTRY_HOST}` (create one with `terraform providers mirror DIR`).",
            )
        candidates = [path]
    else:
        # Lazy on purpose: the search only runs when no implied directory holds a mirror.
        candidates = itertools.chain(implied_mirror_dirs(), search_mirrors())
    searched: list[str] = []
    for directory in candidates:
        namespaces = mirror_namespaces(directory)
        searched.append(str(directory))
        if namespaces:
            if not set(required) <= set(namespaces) and not registry_reachable():
                missing = ", ".join(sorted(set(required) - set(namespaces)))
                raise ProviderUnavailable(
                    f"The provider mirror {directory} lacks the `{missing}` namespace and {REGISTRY_HOST} "
                    "is unreachable",
                    f"add the providers with `terraform providers mirror {directory}` on a connected "
                    "machine, or allow access to the registry.",
                )
            return ProviderSource(mirror=directory.resolve(), namespaces=namespaces)
    if registry_reachable():
        return ProviderSource(mirror=None)
    raise ProviderUnavailable(
        f"No provider mirror was found and {REGISTRY_HOST} is unreachable",
        f"run `terraform providers mirror DIR` on a machine with registry access, copy DIR here and set "
        f"${MIRROR_ENV}=DIR (or pass --stackprobe-provider-mirror DIR).",
        detail=f"Searched: {', '.join(searched) or 'nothing'}.",
    )


class ProviderSources:
    """The provider sources resolved for one run, each kept: resolving may walk directories in search of a
    mirror, and a run that prepares a stack per scenario would otherwise walk them once per stack."""

    def __init__(self) -> None:
        self._resolved: dict[str | None, ProviderSource] = {}
        self._lock = threading.Lock()

    def resolve(self, explicit: str | None = None) -> ProviderSource:
        """`resolve_provider_source(explicit)`, the first time it is asked in this run (a failure is not kept)."""
        with self._lock:
            if explicit not in self._resolved:
                self._resolved[explicit] = resolve_provider_source(explicit)
            return self._resolved[explicit]
