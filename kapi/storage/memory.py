"""MemoryStorage: the in-memory Storage backend, for unit tests and `--storage memory`.

Owns: the current key -> KeyValue map, a sorted key index for range reads, and the
revision log (every event after the compacted revision) that serves reads at old
revisions and watch replay. Nothing survives the process.

Must never: know about Kubernetes objects, or await between deciding a write and
publishing it (every write is one synchronous step on the event loop thread, which is
what keeps revisions gapless and watch delivery ordered).
"""

from __future__ import annotations

import builtins
from bisect import bisect_left, bisect_right, insort
from typing import AsyncIterator

from .common import check_compact_revision, read_revision
from .fanout import Fanout, watch_stream
from .interface import Conflict, Event, KeyExists, KeyNotFound, KeyValue, ListResult


class MemoryStorage:
    def __init__(self) -> None:
        self._rev = 0
        self._compacted = 0
        self._current: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted keys of _current
        self._log: list[Event] = []  # _log[i].revision == _compacted + 1 + i
        self._fanout = Fanout()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._fanout.close()

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        return self._current.get(key)

    # -- writes ------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        if key in self._current:
            raise KeyExists(key)
        rev = self._rev + 1
        kv = KeyValue(key, bytes(value), rev, rev)
        self._commit(Event("PUT", kv, None, rev))
        return kv

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        prev = self._existing(key, expected_revision)
        rev = self._rev + 1
        kv = KeyValue(key, bytes(value), prev.create_revision, rev)
        self._commit(Event("PUT", kv, prev, rev))
        return kv

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        prev = self._existing(key, expected_revision)
        rev = self._rev + 1
        kv = KeyValue(key, prev.value, prev.create_revision, rev)
        self._commit(Event("DELETE", kv, prev, rev))
        return kv

    def _existing(self, key: str, expected_revision: int) -> KeyValue:
        kv = self._current.get(key)
        if kv is None:
            raise KeyNotFound(key)
        if expected_revision and kv.mod_revision != expected_revision:
            raise Conflict(key, expected_revision, kv.mod_revision)
        return kv

    def _commit(self, event: Event) -> None:
        key = event.kv.key
        if event.type == "DELETE":
            del self._current[key]
            del self._keys[bisect_left(self._keys, key)]
        else:
            if event.prev is None:
                insort(self._keys, key)
            self._current[key] = event.kv
        self._log.append(event)
        self._rev = event.revision
        self._fanout.publish(event)

    # -- reads -------------------------------------------------------------------

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        rev = read_revision(revision, self._rev, self._compacted)
        if rev == self._rev:
            kvs = self._current_range(prefix, start_after, limit)
        else:
            kvs = self._past_range(prefix, start_after, rev)
        more = bool(limit) and len(kvs) > limit
        return ListResult(items=kvs[:limit] if more else kvs, revision=rev, more=more)

    async def count(self, prefix: str, *, revision: int = 0, start_after: str = "") -> int:
        return len((await self.list(prefix, revision=revision, start_after=start_after)).items)

    def _current_range(self, prefix: str, start_after: str, limit: int) -> builtins.list[KeyValue]:
        keys = self._keys
        if start_after and start_after >= prefix:
            i = bisect_right(keys, start_after)
        else:
            i = bisect_left(keys, prefix)
        out: list[KeyValue] = []
        want = limit + 1 if limit else len(keys)
        while i < len(keys) and len(out) < want and keys[i].startswith(prefix):
            out.append(self._current[keys[i]])
            i += 1
        return out

    def _past_range(self, prefix: str, start_after: str, rev: int) -> builtins.list[KeyValue]:
        """The state at `rev`: the current state with every later event undone."""
        state = {kv.key: kv for kv in self._current_range(prefix, start_after, 0)}
        first_undone = rev - self._compacted  # index of the event at rev + 1
        for event in reversed(self._log[first_undone:]):
            key = event.kv.key
            if not key.startswith(prefix) or (start_after and key <= start_after):
                continue
            if event.prev is None:
                state.pop(key, None)
            else:
                state[key] = event.prev
        return [state[k] for k in sorted(state)]

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[Event]:
        return watch_stream(self._fanout, prefix, after, self._history, self._compacted_now)

    def _compacted_now(self) -> int:
        return self._compacted

    def _history(self, prefix: str, after: int, limit: int) -> builtins.list[Event]:
        out: list[Event] = []
        for i in range(max(0, after - self._compacted), len(self._log)):
            event = self._log[i]
            if event.kv.key.startswith(prefix):
                out.append(event)
                if len(out) >= limit:
                    break
        return out

    async def compact(self, revision: int) -> None:
        check_compact_revision(revision, self._rev)
        if revision <= self._compacted:
            return
        del self._log[: revision - self._compacted]
        self._compacted = revision
