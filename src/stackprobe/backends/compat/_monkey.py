"""The two ways a patch changes a moto class: replace something that exists, or add something that does not.

Both check their assumption, so a moto upgrade that renames or implements the thing a patch touches fails
loudly at apply time instead of the patch silently doing nothing (or shadowing a new upstream fix).
"""

from __future__ import annotations


class MotoShapeChanged(RuntimeError):
    """moto no longer looks the way a patch was written against."""


def replace(owner: type, name: str, value: object) -> None:
    if name not in vars(owner):
        raise MotoShapeChanged(f"{owner.__module__}.{owner.__qualname__}.{name} no longer exists")
    setattr(owner, name, value)


def add(owner: type, name: str, value: object) -> None:
    if hasattr(owner, name):
        raise MotoShapeChanged(f"{owner.__module__}.{owner.__qualname__}.{name} exists already")
    setattr(owner, name, value)
