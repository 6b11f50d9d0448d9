#!/usr/bin/env python3
"""Render the module diagram of the reference stack from the stack itself.

    .venv/bin/python tools/render_diagram.py            # writes docs/diagram/stack.dot (+ stack.svg)
    .venv/bin/python tools/render_diagram.py --check    # exit 1 when the committed stack.dot is stale

How: copy terraform/ (without the legacy stacks and any local state) to a temporary directory, replace its
remote backend with a local one, `terraform init` from the provider source stackprobe resolves (an offline
filesystem mirror when there is one), run `terraform graph`, and collapse the resource graph to one node per
top-level module and one edge per module pair ("A -> B": something in A references something in B). The
collapsed graph is small enough to read and only changes when a module, or a dependency between two
modules, is added or removed. Graphviz (`dot`, Debian package `graphviz`) renders it to SVG when installed.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TF_DIR = REPO_ROOT / "terraform"
DEFAULT_OUT_DIR = REPO_ROOT / "docs" / "diagram"
DOT_NAME = "stack.dot"
SVG_NAME = "stack.svg"
REGENERATE_COMMAND = ".venv/bin/python tools/render_diagram.py"

# Skipped when copying the stack: other roots (the legacy stacks), local state and caches.
SKIPPED_DIRS = {"legacy", ".terraform", ".git", "__pycache__"}
SKIPPED_SUFFIXES = (".tfstate", ".tfstate.backup", ".tfplan")
BACKEND_OVERRIDE_NAME = "zz_render_diagram_override.tf"
BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'
COMMAND_TIMEOUT_SECONDS = 300.0

# Resources of the root module itself (none in the reference stack: everything lives in a module).
ROOT_NODE = "(root)"

# Presentation only: which box a module is drawn in. A module missing here is still drawn (under "other").
TIERS: dict[str, str] = {
    "edge": "edge",
    "service": "compute",
    "registry": "compute",
    "iam": "compute",
    "queue": "data",
    "database": "data",
    "cache": "data",
    "storage": "data",
    "backup": "data",
    "network": "foundation",
    "kms": "foundation",
    "observability": "foundation",
    ROOT_NODE: "other",
}
TIER_STYLE: dict[str, tuple[str, str]] = {
    # tier: (cluster label, node fill colour)
    "edge": ("Internet edge (public subnets)", "#fde2c8"),
    "compute": ("Compute (private-app subnets)", "#d6e8fa"),
    "data": ("Data and messaging (private-data subnets, S3, SQS)", "#d9f2d9"),
    "foundation": ("Foundation (VPC, encryption, alarms)", "#ececec"),
    "other": ("Other", "#ffffff"),
}
TIER_ORDER = ("edge", "compute", "data", "foundation", "other")

_QUOTED = r'"(?:[^"\\]|\\.)*"'  # a DOT string, escaped quotes included (provider["registry..."])
_EDGE_RE = re.compile(rf"^\s*(?P<src>{_QUOTED})\s*->\s*(?P<dst>{_QUOTED})")
_NODE_RE = re.compile(rf"^\s*(?P<id>{_QUOTED})\s*(\[|;|$)")
_RESOURCE_RE = re.compile(r"^(data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*(\[[^\]]*\])?$")
_NOT_RESOURCES = {"var", "local", "output", "provider", "meta", "module", "root", "terraform"}
_SUFFIX_RE = re.compile(r"\s+\([^)]*\)$")  # " (expand)", " (close)" of the pre-1.7 graph format


class DiagramError(RuntimeError):
    """terraform (or dot) failed; the message says which command and why."""


@dataclass
class ModuleGraph:
    """Top-level modules of a configuration and the references between them."""

    nodes: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)


def module_of(node_id: str) -> str | None:
    """The top-level module a `terraform graph` node belongs to: its name, ROOT_NODE for a resource of the
    root module, None for everything else (variables, locals, outputs, providers, meta nodes).

    Handles both graph formats: Terraform >= 1.7 (`module.network.aws_vpc.this`) and the older one that
    OpenTofu and earlier Terraform print (`[root] module.network.aws_vpc.this (expand)`).
    """
    name = node_id.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    if name.startswith("[root] "):
        name = name[len("[root] ") :]
    name = _SUFFIX_RE.sub("", name)
    if name.startswith("module."):
        parts = name.split(".")
        return parts[1] if len(parts) > 1 and parts[1] else None
    if _RESOURCE_RE.match(name) and name.split(".", 1)[0] not in _NOT_RESOURCES:
        return ROOT_NODE
    return None


def simplify(dot_text: str) -> ModuleGraph:
    """Collapse `terraform graph` output to module nodes and module-to-module edges (no self-edges)."""
    graph = ModuleGraph()
    for line in dot_text.splitlines():
        edge = _EDGE_RE.match(line)
        if edge:
            src, dst = module_of(edge["src"]), module_of(edge["dst"])
            for module in (src, dst):
                if module:
                    graph.nodes.add(module)
            if src and dst and src != dst:
                graph.edges.add((src, dst))
            continue
        node = _NODE_RE.match(line)
        if node:
            module = module_of(node["id"])
            if module:
                graph.nodes.add(module)
    return graph


def render_dot(graph: ModuleGraph, source: str = "terraform/") -> str:
    """Deterministic Graphviz source for a module graph (sorted; no timestamps or versions)."""
    lines = [
        f"// Generated by tools/render_diagram.py from `terraform graph` of {source} - do not edit.",
        f"// Regenerate: {REGENERATE_COMMAND}",
        "digraph stack {",
        "  graph [rankdir=LR, newrank=true, concentrate=true, nodesep=0.35, ranksep=0.9, fontname=Helvetica,",
        f'         fontsize=12, labelloc=t, label="Reference stack: Terraform modules of {source}\\n'
        'A -> B: a resource in A references B (generated from terraform graph)"];',
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=12, color="#555555"];',
        '  edge [color="#777777", arrowsize=0.7];',
    ]
    by_tier: dict[str, list[str]] = {tier: [] for tier in TIER_ORDER}
    for node in sorted(graph.nodes):
        by_tier[TIERS.get(node, "other")].append(node)
    for tier in TIER_ORDER:
        members = by_tier[tier]
        if not members:
            continue
        label, fill = TIER_STYLE[tier]
        lines.append(f"  subgraph cluster_{tier} {{")
        lines.append(f'    label="{label}"; style="rounded,dashed"; color="#999999";')
        for node in members:
            node_label = "root module" if node == ROOT_NODE else f"module.{node}"
            lines.append(f'    "{node}" [label="{node_label}", fillcolor="{fill}"];')
        lines.append("  }")
    for src, dst in sorted(graph.edges):
        # References to the shared foundation (key, VPC, alarm topic) are drawn light so the flows between
        # the application tiers stand out.
        style = ' [color="#bbbbbb", style=dashed]' if TIERS.get(dst) == "foundation" else ""
        lines.append(f'  "{src}" -> "{dst}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- the hand-drawn Mermaid diagram of docs/ARCHITECTURE.md, read back for tests --------------------------

MERMAID_BLOCK = re.compile(r"^```mermaid\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_MERMAID_NODE = re.compile(r"\b(\w+)\s*[\[(]+\"([^\"]*)\"")
_MERMAID_ARROW = re.compile(r"\s*(?:-->|-\.->)\s*(?:\|([^|]*)\|)?\s*")


@dataclass(frozen=True)
class MermaidEdge:
    source: str
    target: str
    label: str


def mermaid_nodes(markdown: str) -> dict[str, str]:
    """Node id -> label of every node defined in the document's Mermaid blocks."""
    return {m.group(1): m.group(2) for block in MERMAID_BLOCK.findall(markdown) for m in _MERMAID_NODE.finditer(block)}


def mermaid_edges(markdown: str) -> list[MermaidEdge]:
    """Every edge of the document's Mermaid blocks, chains (`a --> b --> c`) split into their edges."""
    edges: list[MermaidEdge] = []
    for block in MERMAID_BLOCK.findall(markdown):
        for line in block.splitlines():
            if "-->" not in line and "-.->" not in line:
                continue
            parts = _MERMAID_ARROW.split(line.strip())
            # split() alternates node, label, node, label, node ...
            nodes, labels = parts[0::2], parts[1::2]
            for source, target, label in zip(nodes, nodes[1:], labels, strict=False):
                edges.append(MermaidEdge(source.strip(), target.strip(), (label or "").strip()))
    return edges


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIPPED_DIRS or n.endswith(SKIPPED_SUFFIXES) or n == BACKEND_OVERRIDE_NAME}


def _run(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiagramError(f"`{' '.join(argv)}` could not run: {exc}") from exc
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()[-2000:]
        raise DiagramError(f"`{' '.join(argv)}` exited {completed.returncode}:\n{output}")
    return completed.stdout


def terraform_graph(tf_dir: Path, binary: str | None = None, provider_mirror: str | None = None) -> str:
    """`terraform graph` of a copy of `tf_dir`, initialised offline when a provider mirror exists.

    Raises stackprobe's TerraformNotFound / ProviderUnavailable when there is no binary or no provider
    source, and DiagramError when a terraform command fails.
    """
    from stackprobe.terraform.binary import find_binary
    from stackprobe.terraform.mirror import resolve_provider_source

    terraform = find_binary(binary)
    providers = resolve_provider_source(provider_mirror)
    with tempfile.TemporaryDirectory(prefix="render-diagram-") as tmp:
        work = Path(tmp) / "stack"
        shutil.copytree(tf_dir, work, ignore=_ignore)
        # Remote state is irrelevant to the graph, but an uninitialised remote backend makes `graph` refuse.
        (work / BACKEND_OVERRIDE_NAME).write_text(BACKEND_OVERRIDE, encoding="utf-8")
        cli_config = Path(tmp) / "terraform.rc"
        cli_config.write_text(providers.cli_config(), encoding="utf-8")
        env = dict(os.environ)
        for name in ("TF_DATA_DIR", "TF_WORKSPACE", "TF_LOG"):
            env.pop(name, None)
        env.update({"TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
        _run([terraform.path, "init", "-input=false", "-no-color"], work, env)
        return _run([terraform.path, "graph"], work, env)


def render_svg(dot_path: Path, svg_path: Path) -> bool:
    """Render with Graphviz when `dot` is installed; False (and nothing written) otherwise."""
    dot = shutil.which("dot")
    if dot is None:
        return False
    env = dict(os.environ)
    _run([dot, "-Tsvg", str(dot_path), "-o", str(svg_path)], dot_path.parent, env)
    return True


def generate(tf_dir: Path = DEFAULT_TF_DIR, binary: str | None = None, provider_mirror: str | None = None) -> str:
    """The simplified DOT text for `tf_dir`, exactly as committed in docs/diagram/stack.dot."""
    try:
        source = f"{tf_dir.resolve().relative_to(REPO_ROOT).as_posix()}/"
    except ValueError:
        source = f"{tf_dir.name}/"
    return render_dot(simplify(terraform_graph(tf_dir, binary, provider_mirror)), source)


def _diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), name, f"{name} (regenerated)"))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tf-dir", type=Path, default=DEFAULT_TF_DIR, help="Terraform root (default: terraform/)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="output directory (docs/diagram)")
    parser.add_argument("--terraform", default=None, metavar="BINARY", help="terraform or tofu binary")
    parser.add_argument("--provider-mirror", default=None, metavar="DIR", help="provider filesystem mirror")
    parser.add_argument("--check", action="store_true", help="compare with the committed DOT; exit 1 if stale")
    parser.add_argument("--no-svg", action="store_true", help="write only the DOT file")
    args = parser.parse_args(list(argv) if argv is not None else None)

    try:
        dot_text = generate(args.tf_dir, args.terraform, args.provider_mirror)
    except Exception as exc:  # StackprobeError subclasses and DiagramError: one line, no traceback
        sys.stderr.write(f"render_diagram: {exc}\n")
        return 2
    dot_path = args.out_dir / DOT_NAME
    if args.check:
        committed = dot_path.read_text(encoding="utf-8") if dot_path.exists() else ""
        if committed == dot_text:
            print(f"{dot_path} is up to date")
            return 0
        sys.stdout.write(_diff(committed, dot_text, str(dot_path)))
        sys.stderr.write(f"{dot_path} is stale; regenerate with: {REGENERATE_COMMAND}\n")
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    dot_path.write_text(dot_text, encoding="utf-8")
    print(f"wrote {dot_path}")
    if args.no_svg:
        return 0
    try:
        rendered = render_svg(dot_path, args.out_dir / SVG_NAME)
    except DiagramError as exc:
        sys.stderr.write(f"render_diagram: {exc}\n")
        return 2
    if rendered:
        print(f"wrote {args.out_dir / SVG_NAME}")
    else:
        print("Graphviz `dot` is not installed (apt-get install graphviz): SVG not rendered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
