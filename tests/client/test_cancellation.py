"""A cancelled component stops: waiting for informers to sync never swallows the
cancellation (as asyncio.wait_for does on 3.11 when the cancel races the sync's end),
or a controller manager stopped at start-up would start its controllers and run on,
and `kapi up` would hang on SIGTERM."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.client.informer import InformerFactory


class _Synced:
    def __init__(self) -> None:
        self.synced = asyncio.Event()


def test_wait_synced_is_cancelled_even_when_the_sync_ends_at_that_moment() -> None:
    async def scenario(ticks: int) -> bool:
        factory = InformerFactory(client=None)  # type: ignore[arg-type]
        informer = _Synced()
        factory.informers = {"x": informer}  # type: ignore[dict-item]
        task = asyncio.create_task(factory.wait_synced())
        await asyncio.sleep(0)  # it waits
        informer.synced.set()
        for _ in range(ticks):  # the sync completes inside, then the cancel arrives
            await asyncio.sleep(0)
        if task.done():
            return True  # finished before the cancel came: nothing was swallowed
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    results: list[Any] = [asyncio.run(scenario(ticks)) for ticks in range(6)]
    assert all(results), results
