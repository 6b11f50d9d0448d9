"""Reading docs/ARCHITECTURE.md's Mermaid diagram back (tools/render_diagram.py), as the tests that compare it
with the deployed stack do (tests/integration/test_reference_stack.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_diagram", REPO / "tools" / "render_diagram.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("render_diagram", module)
    spec.loader.exec_module(module)
    return module


render_diagram = _tool()

DOCUMENT = """
```mermaid
flowchart LR
    api["API<br/>gunicorn"]
    redis[("Redis<br/>(optional)")]
    users -->|HTTPS| waf --> alb -->|container port only| api
    sqs -.->|after maxReceiveCount| dlq
```
"""


def test_chains_are_split_into_edges_with_their_labels() -> None:
    edges = [(e.source, e.target, e.label) for e in render_diagram.mermaid_edges(DOCUMENT)]
    assert edges == [
        ("users", "waf", "HTTPS"),
        ("waf", "alb", ""),
        ("alb", "api", "container port only"),
        ("sqs", "dlq", "after maxReceiveCount"),
    ]


def test_node_labels_are_read_whatever_the_shape() -> None:
    assert render_diagram.mermaid_nodes(DOCUMENT) == {"api": "API<br/>gunicorn", "redis": "Redis<br/>(optional)"}


def test_the_architecture_diagram_has_no_worker_database_edge() -> None:
    """The defect the reviewer found: a worker -> proxy 'job state' edge, where job state is in S3."""
    edges = render_diagram.mermaid_edges((REPO / "docs" / "ARCHITECTURE.md").read_text())
    assert not [e for e in edges if {e.source, e.target} & {"worker"} and {e.source, e.target} & {"proxy", "rds"}]
