"""Opening every backend for the storage contract suites, etcd included.

The etcd backend runs against one real etcd for the whole session (the `etcd_server`
fixture in conftest.py). The contract is written for a store
that starts empty at revision 0; a shared etcd has neither, so each test sees it through
`Rebased`: its keys under a root of its own, and revisions counted from the etcd
revision the test started at. That is arithmetic only: every call, error and event
comes from the real backend and etcd, and an etcd revision is still one per write.
Tests run one at a time, so no other test's writes land between a test's revisions.
"""

from __future__ import annotations

import itertools
import pathlib
from typing import AsyncIterator

import pytest

from kapi.storage import (
    Compacted,
    Conflict,
    EtcdOptions,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    Storage,
    open_storage,
)
from tests.etcdenv import Etcd

_roots = itertools.count()


def open_backend(request: pytest.FixtureRequest, backend: str, path: pathlib.Path) -> Storage:
    """A fresh, empty store of `backend` (not started)."""
    if backend != "etcd":
        return open_storage(backend, path=str(path))
    etcd: Etcd = request.getfixturevalue("etcd_server")
    inner = open_storage("etcd", etcd=EtcdOptions(servers=(etcd.url,)))
    return Rebased(inner, f"/registry/contract-{next(_roots):06d}")  # none prefixes another


class Rebased:
    """`inner` as seen by one test: keys below `root`, revisions minus `base`."""

    def __init__(self, inner: Storage, root: str) -> None:
        self.inner, self.root, self.base = inner, root, 0

    async def start(self) -> None:
        await self.inner.start()
        self.base = await self.inner.current_revision()

    async def close(self) -> None:
        await self.inner.close()

    def _k(self, key: str) -> str:
        return self.root + key

    def _r(self, rev: int) -> int:
        return rev + self.base if rev else 0

    def _kv(self, kv: KeyValue) -> KeyValue:
        return KeyValue(kv.key[len(self.root):], kv.value, kv.create_revision - self.base,
                        kv.mod_revision - self.base)

    def _error(self, e: Exception) -> Exception:
        b = self.base
        if isinstance(e, Conflict):
            return Conflict(e.key[len(self.root):], e.expected - b, e.actual - b)
        if isinstance(e, Compacted):
            return Compacted(e.requested - b, max(0, e.compacted - b))
        if isinstance(e, FutureRevision):
            return FutureRevision(e.requested - b, e.current - b)
        if isinstance(e, KeyExists):
            return KeyExists(e.key[len(self.root):])
        if isinstance(e, KeyNotFound):
            return KeyNotFound(e.key[len(self.root):])
        return e

    async def current_revision(self) -> int:
        return await self.inner.current_revision() - self.base

    async def compacted_revision(self) -> int:
        return max(0, await self.inner.compacted_revision() - self.base)

    async def get(self, key: str) -> KeyValue | None:
        kv = await self.inner.get(self._k(key))
        return None if kv is None else self._kv(kv)

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> ListResult:
        after = self._k(start_after) if start_after else ""
        try:
            res = await self.inner.list(self._k(prefix), revision=self._r(revision),
                                        start_after=after, limit=limit)
        except (Compacted, FutureRevision) as e:
            raise self._error(e) from None
        return ListResult([self._kv(kv) for kv in res.items], res.revision - self.base,
                          res.more)

    async def count(self, prefix: str, *, revision: int = 0, start_after: str = "") -> int:
        after = self._k(start_after) if start_after else ""
        try:
            return await self.inner.count(self._k(prefix), revision=self._r(revision),
                                          start_after=after)
        except (Compacted, FutureRevision) as e:
            raise self._error(e) from None

    async def create(self, key: str, value: bytes) -> KeyValue:
        try:
            return self._kv(await self.inner.create(self._k(key), value))
        except KeyExists as e:
            raise self._error(e) from None

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        try:
            return self._kv(await self.inner.update(
                self._k(key), value, expected_revision=self._r(expected_revision)))
        except (Conflict, KeyNotFound) as e:
            raise self._error(e) from None

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        try:
            return self._kv(await self.inner.delete(
                self._k(key), expected_revision=self._r(expected_revision)))
        except (Conflict, KeyNotFound) as e:
            raise self._error(e) from None

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[Event]:
        try:
            stream = self.inner.watch(self._k(prefix), after=after + self.base)
        except Compacted as e:
            raise self._error(e) from None
        return self._events(stream)

    async def _events(self, stream: AsyncIterator[Event]) -> AsyncIterator[Event]:
        try:
            async for e in stream:
                prev = self._kv(e.prev) if e.prev is not None else None
                yield Event(e.type, self._kv(e.kv), prev, e.revision - self.base)
        except Compacted as e:
            raise self._error(e) from None
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def compact(self, revision: int) -> None:
        try:
            await self.inner.compact(revision + self.base)
        except FutureRevision as e:
            raise self._error(e) from None
