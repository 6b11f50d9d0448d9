"""The two ways a patch changes a moto class: replace something that exists, or add something that does not.

Both check their assumption, so a moto upgrade that renames or implements the thing a patch touches fails
loudly at apply time instead of the patch silently doing nothing (or shadowing a new upstream fix).
"""

from __future__ import annotations

from types import ModuleType


class MotoShapeChanged(RuntimeError):
    """moto no longer looks the way a patch was written against."""


def _where(owner: type | ModuleType) -> str:
    if isinstance(owner, ModuleType):
        return owner.__name__
    return f"{owner.__module__}.{owner.__qualname__}"


def replace(owner: type | ModuleType, name: str, value: object) -> None:
    """Replace a class attribute, or a module's function (for callers that look it up at call time)."""
    if name not in vars(owner):
        raise MotoShapeChanged(f"{_where(owner)}.{name} no longer exists")
    setattr(owner, name, value)


def add(owner: type, name: str, value: object) -> None:
    if hasattr(owner, name):
        raise MotoShapeChanged(f"{_where(owner)}.{name} exists already")
    setattr(owner, name, value)
