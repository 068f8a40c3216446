"""Expectations: what a controller has asked for and not yet seen in its informer
(upstream's UIDTrackingControllerExpectations).

After creating or deleting pods a controller must not act again on a stale cache (it
would create the same pods twice). Before issuing them it records how many creations
it expects and which pods it deletes; the pod event handlers call `creation_observed`
/ `deletion_observed`; `satisfied(key)` tells the reconciler whether it may manage
pods again. Deletions are tracked per pod key, so a pod seen twice (marked for
deletion, then gone) counts once. One record holds creations and deletions together
(a DaemonSet surge step issues both). Records expire after `ttl` seconds, as
upstream's do, so a lost event can delay a controller but never wedge it.

In-memory and per process; must never do I/O. Time comes from an injected timer
(`runtime.util.clock.seconds(ctx.clock)` in the controllers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

EXPECTATIONS_TIMEOUT = 300.0  # upstream's ExpectationsTimeout: 5 minutes


@dataclass
class _Expected:
    adds: int
    at: float
    deleting: set[str] = field(default_factory=set)


class Expectations:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 ttl: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock, self.ttl = clock, ttl
        self._by_key: dict[str, _Expected] = {}

    def expect(self, key: str, *, adds: int = 0, deletes: Iterable[str] = ()) -> None:
        """Replace what is expected for key: `adds` pods, and the deletion of these pods
        (namespace/name keys)."""
        gone = set(deletes)
        if adds <= 0 and not gone:
            self._by_key.pop(key, None)
            return
        self._by_key[key] = _Expected(adds, self.clock(), gone)

    def creation_observed(self, key: str, n: int = 1) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.adds -= n

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.deleting.discard(pod_key)

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, the record expired, or there is no record."""
        e = self._by_key.get(key)
        if e is None:
            return True
        if (e.adds <= 0 and not e.deleting) or self.clock() - e.at > self.ttl:
            del self._by_key[key]
            return True
        return False

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected."""
        e = self._by_key.get(key)
        return (e.adds, len(e.deleting)) if e else (0, 0)

    def forget(self, key: str) -> None:
        """The controller object is gone: drop its record."""
        self._by_key.pop(key, None)
