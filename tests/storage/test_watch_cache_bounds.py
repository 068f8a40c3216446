"""The watch cache's memory is bounded by bytes as well as by events, a watcher that
stops reading is cut off with its backlog dropped, compaction gives the window back, a
replay from an old revision lets the event loop run, and SQLite's file stays bounded
under compaction."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import orjson

from kapi.endpoints.codec import Output
from kapi.endpoints.watch import WatchStream
from kapi.registry.kinds import SCHEME
from kapi.storage import MemoryStorage, SQLiteStorage
from kapi.storage.cacher import REPLAY_CHUNK, WatchCache

PREFIX = "/registry/configmaps/"
KIB = 1024


def _cm(name: str, size: int) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "d"},
                         "data": {"x": "y" * size}})


async def _cache(*, capacity: int = 100_000, max_bytes: int = 1024 * KIB
                 ) -> tuple[MemoryStorage, WatchCache]:
    storage = MemoryStorage()
    await storage.start()
    cache = WatchCache(storage, [PREFIX], capacity=capacity, max_bytes=max_bytes)
    await cache.start()
    return storage, cache


async def _write(storage: MemoryStorage, cache: WatchCache, n: int, size: int) -> int:
    rev = 0
    for i in range(n):
        rev = (await storage.create(f"{PREFIX}d/cm{i}", _cm(f"cm{i}", size))).mod_revision
    assert await cache.wait_for(rev)
    return rev


def test_the_window_is_bounded_by_bytes_then_by_events() -> None:
    async def run() -> None:
        storage, cache = await _cache(max_bytes=1024 * KIB)
        first = await storage.current_revision() + 1
        last = await _write(storage, cache, 40, 100 * KIB)  # 40 events of ~200 KiB each
        assert cache.bytes <= 1024 * KIB
        assert 1 <= len(cache.events) < 40 and cache.events[-1].rev == last
        assert cache.oldest_watchable() > first  # the first events are gone: 410 for them
        assert len(cache.buckets[PREFIX]) == 40  # the current state stays whole
        await cache.close()
        storage, cache = await _cache(capacity=100, max_bytes=1024 * KIB)
        await _write(storage, cache, 150, 10)
        assert len(cache.events) == 100
        await cache.close()
    asyncio.run(run())


def test_a_watcher_that_stops_reading_is_cut_off_and_pins_nothing() -> None:
    async def run() -> None:
        storage, cache = await _cache(max_bytes=1024 * KIB)
        stuck = cache.watch(PREFIX, cache.rev, None)
        stuck.initial.extend(("ADDED", {"big": "x" * KIB}) for _ in range(100))
        await _write(storage, cache, 30, 100 * KIB)
        assert stuck.closed and stuck.backlog_bytes == 0 and not stuck.initial
        assert stuck.queue.qsize() == 1 and await stuck.next() is None  # just the end
        await cache.close()
    asyncio.run(run())


def test_compaction_gives_the_window_back() -> None:
    async def run() -> None:
        storage, cache = await _cache(max_bytes=64 * 1024 * KIB)
        last = await _write(storage, cache, 20, 10 * KIB)
        assert len(cache.events) == 20
        await storage.compact(last - 5)
        cache.forget_before(last - 5)
        assert [e.rev for e in cache.events] == list(range(last - 4, last + 1))
        assert cache.oldest_watchable() == last - 5
        await cache.close()
    asyncio.run(run())


class _Store:
    """What WatchStream needs of the store: output form, the cache, stopping."""

    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    def out(self, r: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return obj

    def stop_watch(self, w: Any) -> None:
        self.cache.stop_watch(w)


def test_a_long_replay_lets_other_tasks_run_while_it_is_sent() -> None:
    """Replaying 2,000 events: a task that counts its turns gets many of them before
    the last replayed event is sent (before, the replay ran in one go)."""
    async def run() -> None:
        storage, cache = await _cache(max_bytes=64 * 1024 * KIB)
        start = cache.rev
        last = await _write(storage, cache, 2000, 10)
        w = cache.watch(PREFIX, start, None)
        configmaps = SCHEME.get("", "v1", "configmaps")
        assert configmaps is not None
        stream = WatchStream(store=_Store(cache), resource=configmaps,  # type: ignore[arg-type]
                             watcher=w, initial=[], start_rev=start, output=Output(),
                             bookmarks=False, send_initial=False, timeout=60,
                             clock=lambda: None)  # type: ignore[arg-type,return-value]
        turns = 0

        async def other() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(other())
        await asyncio.sleep(0)
        seen_at: list[int] = []
        async for chunk in stream.__aiter__():
            seen_at.append(turns)
            if orjson.loads(chunk)["object"]["metadata"]["resourceVersion"] == str(last):
                break
        ticker.cancel()
        assert len(seen_at) == 2000
        assert seen_at[-1] - seen_at[0] >= 2000 // REPLAY_CHUNK - 1
        await cache.close()
    asyncio.run(run())


def test_sqlite_file_stays_bounded_when_a_value_is_rewritten_and_compacted(
        tmp_path: pathlib.Path) -> None:
    async def run() -> None:
        path = tmp_path / "kapi.db"
        store = SQLiteStorage(path)
        await store.start()
        kv = await store.create("/registry/configmaps/d/big", b"x" * 256 * KIB)
        for i in range(200):  # 50 MiB written in all
            kv = await store.update(kv.key, bytes([65 + i % 26]) * 256 * KIB,
                                    expected_revision=kv.mod_revision)
            if i % 20 == 19:
                await store.compact(kv.mod_revision - 1)
        on_disk = sum(p.stat().st_size for p in tmp_path.glob("kapi.db*"))  # with the WAL
        assert on_disk < 4 * 1024 * KIB, on_disk  # one live value, a little history
        await store.close()
    asyncio.run(run())
