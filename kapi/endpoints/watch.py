"""Watch streaming: a Watcher's events as newline-delimited JSON WatchEvents.

Owns the wire form of watch (initial events, bookmarks, the initial-events-end
annotation, timeouts, Table rows for `kubectl get -w`). Ends when the client goes away,
the timeout passes, or the watcher is closed (the client then re-watches).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, AsyncIterator

import orjson

from kapi import errors
from kapi.endpoints.codec import Output
from kapi.endpoints.tables import to_table
from kapi.meta import objects
from kapi.meta.resources import Resource
from kapi.registry.kinds.base import strategy_of
from kapi.registry.store import Store
from kapi.storage.cacher import END, REPLAY_CHUNK, CacheEvent, Watcher

Obj = dict[str, Any]

BOOKMARK_INTERVAL = 5.0  # seconds between bookmarks on a quiet watch
DEFAULT_TIMEOUT = 1800  # upstream's minimum request timeout; randomised up to 2x


class WatchStream:
    def __init__(self, *, store: Store, resource: Resource, watcher: Watcher,
                 initial: list[tuple[str, Obj]], start_rev: int, output: Output,
                 bookmarks: bool, send_initial: bool, timeout: int | None,
                 clock: objects.Clock) -> None:
        self.store, self.r, self.w = store, resource, watcher
        watcher.initial.extend(initial)  # held by the watcher: dropped if it is cut off
        self.start_rev = start_rev
        self.output, self.bookmarks, self.send_initial = output, bookmarks, send_initial
        self.clock = clock
        t = timeout if timeout is not None and timeout > 0 else DEFAULT_TIMEOUT * (1 + random.random())
        self.deadline = time.monotonic() + t
        self.last_rev = start_rev
        self.first_table = True
        self.external = strategy_of(resource).external_conversion is not None
        self._failed = b""

    def _encode(self, etype: str, obj: Obj, ev: CacheEvent | None) -> bytes:
        out = self.output
        if out.table:
            table = to_table(self.r, [self.store.out(self.r, obj)], now=self.clock(),
                             include_object=out.include_object,
                             list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                             with_headers=self.first_table)
            self.first_table = False
            table["apiVersion"] = f"meta.k8s.io/{out.meta_version}"
            return orjson.dumps({"type": etype, "object": table}) + b"\n"
        if out.partial_metadata:
            obj = {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{out.meta_version}",
                   "metadata": obj.get("metadata", {})}
            return orjson.dumps({"type": etype, "object": obj}) + b"\n"
        if ev is None:
            return orjson.dumps({"type": etype, "object": self.store.out(self.r, obj)}) + b"\n"
        memo_key = (etype, self.r.api_version)
        data = ev.memo.get(memo_key)
        if data is None:  # encoded once per event for all watchers of the same form
            data = orjson.dumps({"type": etype, "object": self.store.out(self.r, obj)}) + b"\n"
            ev.memo[memo_key] = data
        return data

    async def _converted(self, obj: Obj) -> Obj | None:
        """The object at the watch's version when a webhook converts it (None, with the
        ERROR event kept in `_failed`, when the conversion failed: the watch ends)."""
        if not self.external:
            return obj
        try:
            return (await self.store.out_many(self.r, [obj]))[0]
        except errors.APIError as e:
            self._failed = orjson.dumps({"type": "ERROR", "object": e.status()}) + b"\n"
            return None

    def _bookmark(self, rev: int, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(rev)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        if self.output.table:
            obj: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                        "columnDefinitions": [], "rows": []}
        else:
            obj = {"kind": self.r.kind, "apiVersion": self.r.api_version, "metadata": meta}
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            pending, sent = self.w.initial, 0
            while pending:
                etype, stored = pending.popleft()
                obj = await self._converted(stored)
                if obj is None:
                    yield self._failed
                    return
                yield self._encode(etype, obj, None)
                sent += 1
                if sent % REPLAY_CHUNK == 0:  # sending may never wait: let others run
                    await asyncio.sleep(0)
            # a watcher cut off meanwhile lost the rest of its initial state: claim nothing
            if self.send_initial and self.bookmarks and not self.w.closed:
                yield self._bookmark(self.start_rev, initial_end=True)
            async for chunk in self._live():
                yield chunk
        finally:
            self.store.stop_watch(self.w)

    async def _live(self) -> AsyncIterator[bytes]:
        w = self.w
        ready = 0  # events sent without waiting: a long replay yields every REPLAY_CHUNK
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return
            item = w.next_nowait()
            if item is None:
                ready = 0
                try:
                    wait = min(remaining, BOOKMARK_INTERVAL) if self.bookmarks else remaining
                    async with asyncio.timeout(wait):  # 3.11 wait_for may swallow a cancel
                        item = await w.next()
                except TimeoutError:
                    if self.bookmarks and not w.pending() and not w.closed and w.task is None:
                        rev = self.store.cache.rev
                        if rev > self.last_rev:
                            self.last_rev = rev
                            yield self._bookmark(rev)
                    continue
                if item is None:
                    return
            elif item is END:
                return
            else:
                ready += 1
                if ready % REPLAY_CHUNK == 0:
                    await asyncio.sleep(0)
            etype, stored, rev, ev = item
            self.last_rev = rev
            obj = await self._converted(stored) if self.external else stored
            if obj is None:
                yield self._failed
                return
            yield self._encode(etype, obj, ev)
