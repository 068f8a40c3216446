"""In-process watch delivery shared by the storage backends.

Owns: the subscriber registry (one unbounded asyncio.Queue per watcher), publishing a
committed Event to the watchers whose prefix matches, and the replay-then-live watch
algorithm that gives every event exactly once and in order.

Must never: know about Kubernetes objects, touch a backend's storage directly (history
is read through a callback), or block the event loop waiting on a slow watcher.

Why exactly once: a watcher subscribes *before* it reads history, so anything committed
after the subscription is in its queue and anything committed before is in the log. It
replays the log page by page until an empty page says it has caught up (a backend may
cut a page short, e.g. by bytes), remembering the last revision it yielded, and then drains its queue, dropping events whose revision is
not greater than that one. Backends must publish events in revision order.

Queues are unbounded on purpose: a slow consumer costs memory rather than blocking
writers or losing events. The API layer is expected to close watches it cannot serve.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Callable

from .interface import Compacted, Event

# Reads up to `limit` events under `prefix` with revision > `after`, in revision order.
# It must be synchronous (no await), so that it runs atomically on the loop thread.
HistoryReader = Callable[[str, int, int], "list[Event]"]
CompactedRevision = Callable[[], int]

HISTORY_PAGE = 1000


class _Subscriber:
    __slots__ = ("prefix", "queue")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()


class Fanout:
    """Registry of live watchers, grouped by prefix so publishing scans each prefix once."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, set[_Subscriber]] = {}
        self._closed = False

    def subscribe(self, prefix: str) -> _Subscriber:
        sub = _Subscriber(prefix)
        if self._closed:
            sub.queue.put_nowait(None)
        else:
            self._by_prefix.setdefault(prefix, set()).add(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        subs = self._by_prefix.get(sub.prefix)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._by_prefix[sub.prefix]

    def publish(self, event: Event) -> None:
        key = event.kv.key
        for prefix, subs in self._by_prefix.items():
            if key.startswith(prefix):
                for sub in subs:
                    sub.queue.put_nowait(event)

    def close(self) -> None:
        """Ends every watch: each watcher finishes after the events already queued."""
        self._closed = True
        for subs in self._by_prefix.values():
            for sub in subs:
                sub.queue.put_nowait(None)
        self._by_prefix.clear()


def check_watch_start(after: int, compacted: int) -> None:
    if after < 0:
        raise ValueError(f"watch revision must be >= 0, got {after}")
    if after < compacted:
        raise Compacted(after, compacted)


def watch_stream(
    fanout: Fanout,
    prefix: str,
    after: int,
    history: HistoryReader,
    compacted: CompactedRevision,
) -> AsyncIterator[Event]:
    """Checks `after` now (so Compacted is raised by the call itself) and returns the
    stream, which checks again when first iterated in case a compaction ran between."""
    check_watch_start(after, compacted())
    return _stream(fanout, prefix, after, history, compacted)


async def _stream(
    fanout: Fanout,
    prefix: str,
    after: int,
    history: HistoryReader,
    compacted: CompactedRevision,
) -> AsyncIterator[Event]:
    sub = fanout.subscribe(prefix)
    event: Event | None  # None on the queue: the stream has ended
    try:
        last = after
        while True:
            # Checking and reading happen with no await in between, so a compaction
            # cannot slip in and remove rows this page still needs.
            check_watch_start(last, compacted())
            page = history(prefix, last, HISTORY_PAGE)
            if not page:
                break
            for event in page:
                last = event.revision
                yield event
        while True:
            event = await sub.queue.get()
            if event is None:
                return
            if event.revision > last:
                last = event.revision
                yield event
    finally:
        fanout.unsubscribe(sub)
