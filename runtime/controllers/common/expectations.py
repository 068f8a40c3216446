"""Expectations with tracked deletions (upstream's UIDTrackingControllerExpectations).

Before a controller creates or deletes pods it records what it expects to see; the pod
event handlers lower those expectations as the informer observes the results; the
reconciler manages pods again only once they are satisfied (or expired after `ttl`,
so a lost event delays a controller but never wedges it). Deletions are tracked per
pod key, so a pod seen twice (marked for deletion, then deleted) counts once.

In-memory and per process; must never do I/O. Time comes from an injected monotonic
clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

EXPECTATIONS_TIMEOUT = 300.0  # upstream's ExpectationsTimeout: 5 minutes


@dataclass
class _Expected:
    adds: int
    dels: int
    at: float
    deleting: set[str] = field(default_factory=set)


class Expectations:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 ttl: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock, self.ttl = clock, ttl
        self._by_key: dict[str, _Expected] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, the record expired, or there is no record."""
        e = self._by_key.get(key)
        if e is None:
            return True
        if e.adds <= 0 and e.dels <= 0:
            return True
        return self.clock() - e.at > self.ttl

    def expect_creations(self, key: str, adds: int) -> None:
        self._by_key[key] = _Expected(adds, 0, self.clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        keys = set(pod_keys)
        self._by_key[key] = _Expected(0, len(keys), self.clock(), keys)

    def creation_observed(self, key: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._by_key.get(key)
        if e is not None and pod_key in e.deleting:
            e.deleting.discard(pod_key)
            e.dels -= 1

    def pending(self, key: str) -> tuple[int, int]:
        e = self._by_key.get(key)
        return (e.adds, e.dels) if e else (0, 0)

    def forget(self, key: str) -> None:
        """The controller object is gone: drop its record."""
        self._by_key.pop(key, None)
