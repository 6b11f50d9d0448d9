"""AWS's tag shapes, normalised."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def tags_to_dict(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """Normalise AWS tag shapes ([{Key, Value}] of EC2/RDS, [{key, value}] of ECS, or a plain mapping)."""
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    result: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            result[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return result
