"""Which environment a deployed resource belongs to, read from its tags (never from its name).

Some rules are stricter in production (Multi-AZ, deletion protection, two or more tasks). A check
cannot know a third-party stack's naming scheme, but tagging by environment is near universal, so
production is recognised from the usual tag keys and values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackprobe.aws.tags import tags_to_dict

ENVIRONMENT_TAG_KEYS = ("environment", "env", "stage", "tier")
PRODUCTION_VALUES = {"prod", "production", "prd", "live"}


def environment_of(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> str | None:
    for key, value in tags_to_dict(tags).items():
        if key.lower() in ENVIRONMENT_TAG_KEYS:
            return value
    return None


def is_production(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> bool:
    environment = environment_of(tags)
    return environment is not None and environment.lower() in PRODUCTION_VALUES
