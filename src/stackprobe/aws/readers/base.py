"""What every service reader shares: each answer read at most once, and nothing from an unserved service.

A reader is the only code that calls its service's read APIs for a snapshot. It asks when first asked
(a check that reads only S3 costs no EC2 call), keeps the answer for the snapshot's life, and hands the
same answer to every later caller, from any thread. A read that failed is kept as well: each caller
gets the error it would have got by asking itself, and the emulator is not asked again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from stackprobe.aws import Clients

T = TypeVar("T")


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: object = None
    error: Exception | None = None


class ReadOnce:
    """Answers computed at most once per key, however many threads ask for one at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
        with entry.lock:
            if not entry.done:
                try:
                    entry.value = read()
                except Exception as exc:  # kept, and raised to every caller: see the module docstring
                    entry.error = exc
                entry.done = True
        if entry.error is not None:
            raise entry.error
        return cast(T, entry.value)


class ServiceReader:
    """One AWS service of one account and region, read lazily and once (see the module docstring).

    `service` is the boto3 service name. A service the backend does not serve holds nothing: every
    listing is empty, as it is for the parts of an account a stack does not use.
    """

    service: ClassVar[str]

    def __init__(self, clients: Clients, region: str | None = None) -> None:
        self._clients = clients
        self._region = region
        self._once = ReadOnce()

    @property
    def served(self) -> bool:
        return self._clients.backend.serves(self.service)

    def client(self, region: str | None = None) -> Any:
        return self._clients.client(self.service, region_name=region or self._region)

    def read(self, key: Hashable, read: Callable[[], T]) -> T:
        """`read()`'s answer, computed on the first call for `key` only."""
        return self._once.get(key, read)

    def listing(self, key: Hashable, read: Callable[[], Iterable[T]]) -> tuple[T, ...]:
        """A listing of the service: `read()` once, or nothing when the backend does not serve it.

        A tuple, because every caller shares it."""
        return self._once.get(key, lambda: tuple(read())) if self.served else ()

    def paginate(self, operation: str, key: str, **kwargs: Any) -> list[Any]:
        """Every item under `key` of every page of `operation` (one call when it does not paginate)."""
        return paginate(self.client(), operation, key, **kwargs)


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return list(getattr(client, operation)(**kwargs).get(key, []))


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
