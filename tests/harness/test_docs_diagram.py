"""docs/ARCHITECTURE.md and docs/diagram/ stay true to terraform/.

- The committed docs/diagram/stack.dot equals what tools/render_diagram.py generates from the stack now.
- The Mermaid diagram in ARCHITECTURE.md names every module under terraform/modules (`module.<name>`).
- The committed SVG shows the same modules as the DOT, and the document embeds it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from stackprobe.errors import ProviderUnavailable, TerraformNotFound

pytestmark = pytest.mark.harness

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / "tools" / "render_diagram.py"
ARCHITECTURE = REPO_ROOT / "docs" / "ARCHITECTURE.md"
DIAGRAM_DIR = REPO_ROOT / "docs" / "diagram"
MODULES_DIR = REPO_ROOT / "terraform" / "modules"
MERMAID_BLOCK = re.compile(r"^```mermaid\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SVG_TITLE = re.compile(r"<title>([^<]+)</title>")


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_diagram", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_diagram", module)
    spec.loader.exec_module(module)
    return module


render_diagram = _load_tool()


def stack_modules() -> list[str]:
    return sorted(p.name for p in MODULES_DIR.iterdir() if p.is_dir() and any(p.glob("*.tf")))


def mermaid_text(markdown: str) -> str:
    return "\n".join(MERMAID_BLOCK.findall(markdown))


def modules_missing_from(mermaid: str, modules: list[str]) -> list[str]:
    return [name for name in modules if not re.search(rf"\bmodule\.{re.escape(name)}\b", mermaid)]


# -- the simplifier, on small graphs of both formats ---------------------------------------------------

MODERN_GRAPH = """digraph G {
  rankdir = "RL";
  subgraph "cluster_module.network" {
    "module.network.aws_vpc.this" [label="aws_vpc.this"];
    "module.network.aws_subnet.app" [label="aws_subnet.app"];
  }
  subgraph "cluster_module.service" {
    "module.service.aws_ecs_service.api" [label="aws_ecs_service.api"];
    "module.service.module.inner.aws_iam_role.x" [label="aws_iam_role.x"];
  }
  "module.kms.aws_kms_key.this" [label="aws_kms_key.this"];
  "module.network.aws_subnet.app" -> "module.network.aws_vpc.this";
  "module.service.aws_ecs_service.api" -> "module.network.aws_subnet.app";
  "module.service.module.inner.aws_iam_role.x" -> "module.kms.aws_kms_key.this";
  "module.service.aws_ecs_service.api" -> "module.network.aws_vpc.this";
}
"""

LEGACY_GRAPH = r"""digraph {
 compound = "true"
 subgraph "root" {
  "[root] module.network.aws_vpc.this (expand)" [label = "module.network.aws_vpc.this", shape = "box"]
  "[root] provider[\"registry.terraform.io/hashicorp/aws\"]" [label = "provider", shape = "diamond"]
  "[root] module.network.aws_vpc.this (expand)" -> "[root] provider[\"registry.terraform.io/hashicorp/aws\"]"
  "[root] module.service.aws_ecs_service.api (expand)" -> "[root] module.network.aws_subnet.app (expand)"
  "[root] provider[\"registry.terraform.io/hashicorp/aws\"] (close)" -> "[root] module.service.aws_ecs_service.api"
  "[root] module.service.var.kms (expand)" -> "[root] module.kms.output.arn (expand)"
  "[root] aws_s3_bucket.logs (expand)" -> "[root] module.kms.aws_kms_key.this (expand)"
  "[root] var.name" -> "[root] local.name (expand)"
 }
}
"""


def test_simplify_collapses_resources_to_top_level_modules() -> None:
    graph = render_diagram.simplify(MODERN_GRAPH)
    assert graph.nodes == {"network", "service", "kms"}
    assert graph.edges == {("service", "network"), ("service", "kms")}  # no self-edge network -> network


def test_simplify_reads_the_pre_1_7_format_and_ignores_providers_and_variables() -> None:
    graph = render_diagram.simplify(LEGACY_GRAPH)
    assert graph.nodes == {"network", "service", "kms", render_diagram.ROOT_NODE}
    assert graph.edges == {("service", "network"), ("service", "kms"), (render_diagram.ROOT_NODE, "kms")}


def test_render_is_deterministic_and_places_unknown_modules() -> None:
    forward = render_diagram.ModuleGraph(nodes={"kms", "edge", "brand_new"}, edges={("edge", "kms")})
    backward = render_diagram.ModuleGraph(nodes={"brand_new", "kms", "edge"}, edges={("edge", "kms")})
    text = render_diagram.render_dot(forward)
    assert text == render_diagram.render_dot(backward)
    assert '"brand_new" [label="module.brand_new"' in text  # a module missing from TIERS is still drawn
    assert '"edge" -> "kms"' in text


# -- the committed artefacts against the stack -----------------------------------------------------------


def test_committed_dot_matches_the_stack() -> None:
    committed = (DIAGRAM_DIR / render_diagram.DOT_NAME).read_text(encoding="utf-8")
    try:
        generated = render_diagram.generate()
    except (TerraformNotFound, ProviderUnavailable) as exc:
        pytest.skip(f"cannot run terraform graph here: {exc}")
    assert generated == committed, (
        f"docs/diagram/stack.dot is stale; regenerate it with: {render_diagram.REGENERATE_COMMAND}"
    )


def test_committed_svg_shows_the_modules_of_the_dot() -> None:
    dot = (DIAGRAM_DIR / render_diagram.DOT_NAME).read_text(encoding="utf-8")
    svg_path = DIAGRAM_DIR / render_diagram.SVG_NAME
    assert svg_path.is_file(), f"{svg_path} is missing; regenerate with: {render_diagram.REGENERATE_COMMAND}"
    svg_nodes = {t for t in SVG_TITLE.findall(svg_path.read_text(encoding="utf-8")) if "&#45;&gt;" not in t}
    dot_nodes = set(re.findall(r'^\s*"([^"]+)" \[label=', dot, flags=re.MULTILINE))
    assert dot_nodes
    assert dot_nodes <= svg_nodes, (
        f"stack.svg lacks {sorted(dot_nodes - svg_nodes)}; regenerate with: {render_diagram.REGENERATE_COMMAND}"
    )


def test_architecture_mermaid_names_every_module() -> None:
    mermaid = mermaid_text(ARCHITECTURE.read_text(encoding="utf-8"))
    assert mermaid, "docs/ARCHITECTURE.md has no ```mermaid block"
    missing = modules_missing_from(mermaid, stack_modules())
    shown = ", ".join(f"module.{name}" for name in missing)
    assert missing == [], f"the Mermaid diagram in docs/ARCHITECTURE.md does not show: {shown}"


def test_mermaid_check_notices_an_undocumented_module() -> None:
    mermaid = mermaid_text(ARCHITECTURE.read_text(encoding="utf-8"))
    assert stack_modules(), "terraform/modules has no module"
    assert modules_missing_from(mermaid, [*stack_modules(), "brand_new"]) == ["brand_new"]
    without_cache = re.sub(r"\bmodule\.cache\b", "cache", mermaid)
    assert modules_missing_from(without_cache, stack_modules()) == ["cache"]


def test_architecture_embeds_the_generated_diagram() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert "](diagram/stack.svg)" in text
