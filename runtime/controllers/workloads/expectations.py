"""Expectations: what a controller has asked for and not yet seen in its informer.

After creating or deleting pods a controller must not act again on a stale cache (it
would create the same pods twice). It records how many creations and deletions it
expects per key before issuing them; the pod handlers call `creation_observed` /
`deletion_observed`; `satisfied(key)` tells the reconciler whether it may manage pods
again. Expectations expire after `ttl` seconds, as upstream's do, so a lost event can
delay a controller but never wedge it.

In-memory and per process; must never do I/O. Time comes from an injected monotonic
clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Expected:
    adds: int
    dels: int
    at: float


class Expectations:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, ttl: float = 300.0) -> None:
        self.clock, self.ttl = clock, ttl
        self._by_key: dict[str, _Expected] = {}

    def expect(self, key: str, *, adds: int = 0, dels: int = 0) -> None:
        """Replace what is expected for key (upstream SetExpectations)."""
        if adds <= 0 and dels <= 0:
            self._by_key.pop(key, None)
            return
        self._by_key[key] = _Expected(adds, dels, self.clock())

    def creation_observed(self, key: str, n: int = 1) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.adds -= n

    def deletion_observed(self, key: str, n: int = 1) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.dels -= n

    def satisfied(self, key: str) -> bool:
        e = self._by_key.get(key)
        if e is None:
            return True
        if (e.adds <= 0 and e.dels <= 0) or self.clock() - e.at > self.ttl:
            del self._by_key[key]
            return True
        return False

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)
