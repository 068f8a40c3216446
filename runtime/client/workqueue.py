"""A de-duplicating work queue with delayed adds and per-key exponential back-off.

Semantics as client-go's: a key is processed by at most one worker at a time; a key
added while it is being processed is processed again afterwards; `add_rate_limited`
delays by 5 ms * 2^failures up to 60 s; `forget` resets a key's failures. Time comes
from an injected monotonic clock so tests can control it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Callable


class WorkQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self.clock = clock
        self.base_delay, self.max_delay = base_delay, max_delay
        self._queue: list[str] = []
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._delayed: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._cond = asyncio.Condition()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        heapq.heappush(self._delayed, (self.clock() + delay, next(self._seq), key))
        self._wake()

    def add_rate_limited(self, key: str) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.base_delay * (2 ** n), self.max_delay))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()
        try:
            asyncio.get_running_loop().create_task(notify())
        except RuntimeError:
            pass

    def _promote_due(self) -> float | None:
        """Move due delayed keys into the queue; return seconds until the next one."""
        now = self.clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            self.add(key)
        return self._delayed[0][0] - now if self._delayed else None

    async def get(self) -> str | None:
        """The next key, or None once shut down."""
        async with self._cond:
            while True:
                if self._shutdown:
                    return None
                wait = self._promote_due()
                if self._queue:
                    key = self._queue.pop(0)
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                # cancellation that races its timeout, and a stopping worker would hang
                try:
                    async with asyncio.timeout(wait if wait is not None else 1.0):
                        await self._cond.wait()
                except TimeoutError:
                    pass

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake()

    def shutdown(self) -> None:
        self._shutdown = True
        self._wake()
