"""The two ways a patch changes a moto class: replace something that exists, or add something that does not.

Both check their assumption, so a moto upgrade that renames or implements the thing a patch touches fails
loudly at apply time instead of the patch silently doing nothing (or shadowing a new upstream fix).
"""

from __future__ import annotations

from types import ModuleType


class ShapeMismatch(Exception):
    """moto no longer looks the way a patch was written against.

    Raised while a patch installs; `MotoPatch.apply` turns it into `stackprobe.errors.MotoShapeChanged`,
    which names the patch, the installed moto and the remedy (this module knows none of them).
    """


def _where(owner: type | ModuleType) -> str:
    if isinstance(owner, ModuleType):
        return owner.__name__
    return f"{owner.__module__}.{owner.__qualname__}"


def replace(owner: type | ModuleType, name: str, value: object) -> None:
    """Replace a class attribute, or a module's function (for callers that look it up at call time)."""
    if name not in vars(owner):
        raise ShapeMismatch(f"{_where(owner)}.{name} no longer exists")
    setattr(owner, name, value)


def add(owner: type, name: str, value: object) -> None:
    if hasattr(owner, name):
        raise ShapeMismatch(f"{_where(owner)}.{name} exists already (moto may implement it now)")
    setattr(owner, name, value)
