"""The watch cache: one storage watch feeding every API watcher and most reads.

It holds the decoded current state of every object plus a window of recent events.
N watchers cost one storage read and one JSON decode per event; lists at "any recent"
or "consistent" revisions are served from memory. It knows objects only as JSON dicts
with metadata.resourceVersion; it never knows kinds, validation or HTTP.

Invariants: `rev` only grows; `objects` is exactly the storage state at `rev`;
`events` holds every event with revision in (evicted_rev, rev]. Objects in the cache
are shared and must never be mutated by readers.

Memory is bounded twice, as a window of at most `capacity` events and `max_bytes`
bytes (an event costs twice its stored size: the decoded object and its encoded form),
and per watcher: a watcher whose unread backlog passes MAX_BACKLOG events or `max_bytes`
is closed and its backlog dropped, so a client that stops reading pins nothing. A
watch from before the window (but after the cache started) is 410 Expired, as
upstream's watch cache answers; the window also gives back what storage compacted.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

from kapi.meta.order import go_order
from kapi.storage.interface import Compacted, Event, KeyValue, Storage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Filter = Callable[[Obj], bool]

# Events a reader takes between yields to the event loop when replaying or listing many
# (one pass over 50,000 events would otherwise hold every other request for seconds).
REPLAY_CHUNK = 200


def decode(kv: KeyValue) -> Obj:
    obj: Obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return go_order(obj)  # once per stored version: every read then has Go's order


def bucket_of(key: str, buckets: dict[str, dict[str, Obj]]) -> str | None:
    """The registered resource prefix a key lives under (namespaced or cluster keys)."""
    p = key.rsplit("/", 2)[0] + "/"
    if p in buckets:
        return p
    p = key.rsplit("/", 1)[0] + "/"
    return p if p in buckets else None


@dataclass(slots=True)
class CacheEvent:
    type: str  # "PUT" or "DELETE"
    key: str
    obj: Obj  # the new object (DELETE: last state with the delete's resourceVersion)
    prev: Obj | None
    rev: int
    memo: dict[Any, bytes] = field(default_factory=dict)  # encoded forms, per output
    size: int = 0  # bytes it is counted for in the window and in backlogs

    @staticmethod
    def cost(kv: KeyValue) -> int:
        return 2 * len(kv.value) + 200  # decoded + encoded, plus the bookkeeping


Item = tuple[str, Obj, int, "CacheEvent | None"]


class Watcher:
    """One client watch: events replayed from the window, then a queue of
    (type, obj, rev, event) tuples; None ends it.

    The replay is taken lazily by the reader (`next_nowait`), so starting a watch from
    an old revision costs no work on the event loop up front.

    Only events after revision `after` are delivered: a watch may start ahead of what the
    cache has applied (a client's resourceVersion from a write the cache has not seen yet),
    and then the events in between arrive live and must be skipped."""

    MAX_BACKLOG = 50_000

    def __init__(self, prefix: str, flt: Filter | None, after: int = 0, *,
                 max_bytes: int = 256 * 1024 * 1024) -> None:
        self.prefix = prefix
        self.filter = flt
        self.after = after
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self.replay: collections.deque[CacheEvent] = collections.deque()
        # the objects listed at the start (sendInitialEvents), dropped with the backlog
        self.initial: collections.deque[tuple[str, Obj]] = collections.deque()
        self.max_bytes = max_bytes
        self.backlog_bytes = 0
        self.closed = False
        self.task: asyncio.Task[None] | None = None  # set when fed from storage, not the cache

    def offer(self, ev: CacheEvent) -> None:
        if self.closed or ev.rev <= self.after or not ev.key.startswith(self.prefix):
            return
        t = self._type(ev)
        if t is None:
            return
        if self.queue.qsize() > self.MAX_BACKLOG or self.backlog_bytes > self.max_bytes:
            self.close(drop_backlog=True)  # too slow: end it, the client re-watches
            return
        self.backlog_bytes += ev.size
        self.queue.put_nowait((t, ev.obj, ev.rev, ev))

    def next_nowait(self) -> Item | None:
        """The next replayed event that matches, else the next queued item, else None
        when nothing is waiting (a queued None, the end, is returned as END)."""
        while self.replay:
            ev = self.replay.popleft()
            if ev.key.startswith(self.prefix):
                t = self._type(ev)
                if t is not None:
                    return (t, ev.obj, ev.rev, ev)
        if self.queue.empty():
            return None
        return self._took(self.queue.get_nowait())

    async def next(self) -> Item | None:
        """The next event, waiting for one; None when the watch has ended."""
        item = self.next_nowait()
        if item is not None:
            return None if item is END else item
        item = self._took(await self.queue.get())
        return None if item is END else item

    def pending(self) -> bool:
        return bool(self.replay) or not self.queue.empty()

    def _took(self, item: Item | None) -> Item | None:
        if item is None:
            return END
        ev = item[3]
        if ev is not None:
            self.backlog_bytes -= ev.size
        return item

    def _type(self, ev: CacheEvent) -> str | None:
        f = self.filter
        if ev.type == "DELETE":
            return "DELETED" if f is None or f(ev.obj) else None
        if f is None:
            return "MODIFIED" if ev.prev is not None else "ADDED"
        now = f(ev.obj)
        before = ev.prev is not None and f(ev.prev)
        if now:
            return "MODIFIED" if before else "ADDED"
        return "DELETED" if before else None

    def close(self, *, drop_backlog: bool = False) -> None:
        if not self.closed:
            self.closed = True
            if drop_backlog:
                self.replay.clear()
                self.initial.clear()
                while not self.queue.empty():
                    self.queue.get_nowait()
                self.backlog_bytes = 0
            self.queue.put_nowait(None)


# What Watcher.next_nowait returns for the end of a watch (None means "nothing yet").
END: Item = ("END", {}, 0, None)


class WatchCache:
    def __init__(self, storage: Storage, prefixes: list[str], *, capacity: int = 100_000,
                 max_bytes: int = 256 * 1024 * 1024) -> None:
        self.storage = storage
        self.buckets: dict[str, dict[str, Obj]] = {p: {} for p in prefixes}
        # objects under no bucket yet (custom resources whose definition is not served
        # yet): kept so that serving them later needs no second read of storage
        self.stray: dict[str, Obj] = {}
        self.capacity, self.max_bytes = capacity, max_bytes
        self.events: collections.deque[CacheEvent] = collections.deque()
        self.bytes = 0  # sum of the window's event sizes
        self.evicted_rev = 0  # the newest revision that left the window
        self.rev = 0
        self.start_rev = 0
        self.watchers: set[Watcher] = set()
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        rev = await self._load()
        self.rev = self.start_rev = rev
        self._task = asyncio.create_task(self._run(), name="watch-cache")
        self.ready.set()

    async def _load(self) -> int:
        res = await self.storage.list("/registry/", limit=10_000)
        rev = res.revision
        while True:
            for kv in res.items:
                b = bucket_of(kv.key, self.buckets)
                (self.buckets[b] if b is not None else self.stray)[kv.key] = decode(kv)
            if not res.more:
                return rev
            res = await self.storage.list("/registry/", revision=rev,
                                          start_after=res.items[-1].key, limit=10_000)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for w in list(self.watchers):
            w.close()

    async def _run(self) -> None:
        while True:
            try:
                async for ev in self.storage.watch("/registry/", after=self.rev):
                    await self._apply(ev)
            except asyncio.CancelledError:
                raise
            except Compacted:
                log.warning("watch cache fell behind compaction; reloading")
                await self._reload()
            except Exception:
                log.exception("watch cache storage watch failed; retrying")
                await asyncio.sleep(0.5)

    async def _reload(self) -> None:
        for b in self.buckets.values():
            b.clear()
        self.stray.clear()
        self.events.clear()
        self.bytes = 0
        for w in list(self.watchers):
            w.close()
        await self._set_rev(await self._load())
        self.start_rev = self.rev

    async def _apply(self, sev: Event) -> None:
        b = bucket_of(sev.kv.key, self.buckets)
        # a key under no bucket is still kept (stray) and its events still reach a watch
        # that names its prefix: a custom resource served a moment later needs them
        bucket = self.buckets[b] if b is not None else self.stray
        obj = decode(sev.kv)
        prev = bucket.get(sev.kv.key)
        if sev.type == "DELETE":
            bucket.pop(sev.kv.key, None)
            obj["metadata"]["resourceVersion"] = str(sev.revision)
        else:
            bucket[sev.kv.key] = obj
        ev = CacheEvent(sev.type, sev.kv.key, obj, prev, sev.revision,
                        size=CacheEvent.cost(sev.kv))
        self._append(ev)
        for w in list(self.watchers):
            w.offer(ev)
        await self._set_rev(sev.revision)

    def _append(self, ev: CacheEvent) -> None:
        """Adds ev to the window, evicting the oldest events past either bound."""
        evs = self.events
        evs.append(ev)
        self.bytes += ev.size
        while len(evs) > 1 and (len(evs) > self.capacity or self.bytes > self.max_bytes):
            self._evict()

    def _evict(self) -> None:
        old = self.events.popleft()
        self.bytes -= old.size
        self.evicted_rev = old.rev

    def forget_before(self, rev: int) -> None:
        """Drops the window's events at or before rev (storage compacted them): watches
        from there are 410 anyway, and the memory goes back."""
        while self.events and self.events[0].rev <= rev:
            self._evict()

    async def _set_rev(self, rev: int) -> None:
        self.rev = rev
        async with self._advanced:
            self._advanced.notify_all()

    async def wait_for(self, rev: int, timeout: float = 3.0) -> bool:
        """Wait until the cache has seen revision rev; False on timeout."""
        if self.rev >= rev:
            return True
        async def _wait() -> None:
            async with self._advanced:
                await self._advanced.wait_for(lambda: self.rev >= rev)
        try:
            await asyncio.wait_for(_wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- reads ------------------------------------------------------------------------
    def add_bucket(self, prefix: str) -> None:
        """Keep objects under prefix as one bucket from now on (a resource served at run
        time), moving in those already held; a no-op for a known prefix."""
        if prefix in self.buckets:
            return
        bucket = self.buckets[prefix] = {}
        for key in [k for k in self.stray if k.startswith(prefix)]:
            bucket[key] = self.stray.pop(key)

    def drop_bucket(self, prefix: str) -> None:
        """The reverse of add_bucket: what remains under prefix goes back to stray."""
        self.stray.update(self.buckets.pop(prefix, {}))

    def get(self, bucket: str, key: str) -> Obj | None:
        return self.buckets[bucket].get(key)

    def list(self, bucket: str, prefix: str) -> list[Obj]:
        """Objects whose key starts with prefix (within bucket), sorted by key."""
        items = self.buckets[bucket]
        if prefix == bucket:
            keys = sorted(items)
        else:
            keys = sorted(k for k in items if k.startswith(prefix))
        return [items[k] for k in keys]

    def oldest_watchable(self) -> int:
        """Watches from a revision >= this are served from the cache's window."""
        return max(self.start_rev, self.evicted_rev)

    def watch(self, prefix: str, after: int, flt: Filter | None) -> Watcher:
        """Every event after revision `after` under prefix. Caller checks the window."""
        w = Watcher(prefix, flt, after, max_bytes=self.max_bytes)
        w.replay.extend(self._since(after))
        self.watchers.add(w)
        return w

    def _since(self, after: int) -> builtins.list[CacheEvent]:
        evs = self.events
        if not evs or evs[-1].rev <= after:
            return []
        # binary search on the deque (revisions are increasing)
        lo, hi = 0, len(evs)
        while lo < hi:
            mid = (lo + hi) // 2
            if evs[mid].rev <= after:
                lo = mid + 1
            else:
                hi = mid
        return list(itertools.islice(evs, lo, None))

    def stop_watch(self, w: Watcher) -> None:
        self.watchers.discard(w)
        w.closed = True
