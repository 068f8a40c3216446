"""The reconciler base: level-based controllers keyed by namespace/name.

A Controller owns a WorkQueue and N workers; each worker takes a key and calls
`reconcile(key)`. An exception means a rate-limited retry; a returned number of seconds
means "look again after that long". Reconcilers read from informer caches (never mutate
what they read) and write through the API client only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from runtime.client.informer import key_of
from runtime.client.rest import ApiError
from runtime.client.workqueue import WorkQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Reconcile = Callable[[str], Awaitable[float | None]]


class Controller:
    def __init__(self, name: str, reconcile: Reconcile, *, workers: int = 2,
                 queue: WorkQueue | None = None, max_retries: int = 15) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue = queue or WorkQueue()
        self.max_retries = max_retries
        self._tasks: list[asyncio.Task[None]] = []

    def enqueue(self, obj_or_key: Obj | str) -> None:
        self.queue.add(obj_or_key if isinstance(obj_or_key, str) else key_of(obj_or_key))

    def enqueue_after(self, key: str, delay: float) -> None:
        self.queue.add_after(key, delay)

    def start(self) -> None:
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-{i}"))

    async def stop(self) -> None:
        self.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                again = await self.reconcile(key)
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if isinstance(e, ApiError) and e.conflict:
                    log.debug("%s: %s: conflict, retrying", self.name, key)
                else:
                    log.warning("%s: reconciling %s failed: %s", self.name, key, e,
                                exc_info=not isinstance(e, ApiError))
                if self.queue.failures(key) < self.max_retries:
                    self.queue.add_rate_limited(key)
                else:
                    self.queue.forget(key)
            finally:
                self.queue.done(key)


class Reconciler:
    """What a controller offers the manager: `start()` the workers of its work queues,
    `stop()` them. Subclasses set `self.controller` in their constructor, or name their
    several queues in `queues()`."""

    controller: Controller

    def queues(self) -> tuple[Controller, ...]:
        return (self.controller,)

    def start(self) -> None:
        for q in self.queues():
            q.start()

    async def stop(self) -> None:
        for q in self.queues():
            await q.stop()


def split_key(key: str) -> tuple[str | None, str]:
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key

