"""The watch part of the storage contract, run twice per backend: against the backend's own
watch, and against the watch cache (kapi/storage/cacher.py) fed by that backend, which is
what every API watch reads. Both must give every event under a prefix after a revision,
exactly once, in order, then live events, whatever the timing of writes and watches.

Events are compared in one normalized form, (type, key, value, previous value, revision),
since the cache hands out decoded objects rather than storage's KeyValues; values are
small JSON objects under /registry/ keys, as the API server stores them.
"""

from __future__ import annotations

import asyncio
import pathlib
from contextlib import aclosing
from typing import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from kapi.storage import BACKENDS, Storage, fanout
from kapi.storage.cacher import WatchCache
from tests.storage.harness import TIMEOUT, opened, random_writes, take, watch_to_end

Seen = tuple[str, str, str | None, str | None, int]  # type, key, value, previous value, revision
BUCKETS = ["/registry/w/", "/registry/other/", "/registry/h/", "/registry/filler/",
           "/registry/k/"]


def v(text: str) -> bytes:
    return orjson.dumps({"v": text})


def _value(raw: bytes | dict | None) -> str | None:
    if raw is None:
        return None
    obj = orjson.loads(raw) if isinstance(raw, bytes) else raw
    return obj["v"]


class Source:
    """Where watches come from: the backend itself, or a watch cache fed by it."""

    def __init__(self, store: Storage, cached: bool) -> None:
        self.store = store
        self.cache = WatchCache(store, BUCKETS) if cached else None

    async def start(self) -> None:
        if self.cache is not None:
            await self.cache.start()

    async def close(self) -> None:
        if self.cache is not None:
            await self.cache.close()
        else:
            await self.store.close()

    async def watch(self, prefix: str, after: int) -> AsyncIterator[Seen]:
        if self.cache is None:
            async with aclosing(self.store.watch(prefix, after=after)) as stream:
                async for e in stream:
                    prev = _value(e.prev.value) if e.prev else None
                    yield (e.type, e.kv.key, _value(e.kv.value), prev, e.revision)
            return
        w = self.cache.watch(prefix, after, None)
        try:
            while (item := await w.next()) is not None:
                _, obj, rev, ev = item
                assert ev is not None
                yield (ev.type, ev.key, _value(obj), _value(ev.prev), rev)
        finally:
            self.cache.stop_watch(w)


Body = Callable[[Storage, Source], Awaitable[None]]


@pytest.fixture(params=[(b, c) for b in sorted(BACKENDS) for c in ("backend", "cache")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def run(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Callable[[Body], None]:
    backend, source = request.param

    def runner(body: Body) -> None:
        async def main() -> None:
            async with opened(request, backend, tmp_path / "watch.db") as store:
                src = Source(store, cached=source == "cache")
                await src.start()
                try:
                    await asyncio.wait_for(body(store, src), TIMEOUT)
                finally:
                    await src.close()

        asyncio.run(main())

    return runner


def test_watch_replays_history_then_live(run: Callable[[Body], None]) -> None:
    async def body(s: Storage, src: Source) -> None:
        await s.create("/registry/w/a", v("a1"))  # 1
        await s.create("/registry/other/z", v("z1"))  # 2
        await s.update("/registry/w/a", v("a2"), expected_revision=1)  # 3
        await s.create("/registry/w/b", v("b1"))  # 4
        await s.delete("/registry/w/a")  # 5
        async with aclosing(src.watch("/registry/w/", after=1)) as stream:
            assert await take(stream, 3) == [
                ("PUT", "/registry/w/a", "a2", "a1", 3),
                ("PUT", "/registry/w/b", "b1", None, 4),
                ("DELETE", "/registry/w/a", "a2", "a2", 5),
            ]
            await s.create("/registry/other/y", v("y"))  # 6, another prefix
            await s.create("/registry/w/a", v("a3"))  # 7
            await s.update("/registry/w/b", v("b2"), expected_revision=4)  # 8
            assert await take(stream, 2) == [
                ("PUT", "/registry/w/a", "a3", None, 7),
                ("PUT", "/registry/w/b", "b2", "b1", 8),
            ]

    run(body)


def test_watch_from_current_and_future_revision(run: Callable[[Body], None]) -> None:
    async def body(s: Storage, src: Source) -> None:
        await s.create("/registry/k/1", v("x"))
        now, future = src.watch("/registry/", after=1), src.watch("/registry/", after=3)
        async with aclosing(now), aclosing(future):
            now_task = asyncio.ensure_future(take(now, 3))
            future_task = asyncio.ensure_future(take(future, 1))
            await asyncio.sleep(0.01)
            assert not now_task.done() and not future_task.done()
            for i in range(2, 5):
                await s.create(f"/registry/k/{i}", v("x"))
            assert [seen[4] for seen in await now_task] == [2, 3, 4]
            assert [seen[4] for seen in await future_task] == [4]

    run(body)


def test_watch_ends_when_its_source_closes(run: Callable[[Body], None]) -> None:
    async def body(s: Storage, src: Source) -> None:
        await s.create("/registry/k/a", v("1"))
        stream = src.watch("/registry/", after=0)
        task = asyncio.ensure_future(take(stream, 5))
        await asyncio.sleep(0.01)
        if src.cache is not None:  # a cache passes on what it has been told (over a
            assert await src.cache.wait_for(1, timeout=TIMEOUT)  # network, not at once)
        await src.close()
        assert [seen[4] for seen in await task] == [1]
        await stream.aclose()

    run(body)


def test_watch_exactly_once_under_concurrent_writes(
    run: Callable[[Body], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout, "HISTORY_PAGE", 4)  # writes land between pages of a replay
    prefixes = ["/registry/h/a/", "/registry/h/b/", "/registry/h/c/"]
    keys = [p + str(i) for p in prefixes for i in range(6)]

    async def body(s: Storage, src: Source) -> None:
        async with aclosing(src.watch("/registry/", after=0)) as reference_stream:
            specs = [(i, prefixes[i % 3] if i % 4 else "/registry/h/") for i in range(16)]
            started: list[int] = []
            writers_done = asyncio.Event()
            watchers = [asyncio.ensure_future(watch_to_end(
                s, src.watch, lambda seen: seen[1], i, p, started, writers_done))
                for i, p in specs]
            await asyncio.gather(*(random_writes(s, 100 + i, keys, 120, v(str(100 + i)))
                                   for i in range(4)))
            writers_done.set()
            writes_done = await s.current_revision()
            while len(started) < len(watchers):
                await asyncio.sleep(0)
            for i in range(3):  # push the end markers past every watcher's start
                await s.create(f"/registry/filler/{i}", v(""))
            for prefix in prefixes + ["/registry/h/"]:
                await s.create(prefix + "~end", v(""))
            results = await asyncio.gather(*watchers)
            final = await s.current_revision()
            reference = await take(reference_stream, final)
        assert sum(0 < rev < writes_done for rev in started) >= len(specs) // 2
        assert [seen[4] for seen in reference] == list(range(1, final + 1))
        for (_, prefix), (after, got) in zip(specs, results, strict=True):
            end = next(seen[4] for seen in reference if seen[1] == prefix + "~end")
            assert got == [seen for seen in reference
                           if after < seen[4] <= end and seen[1].startswith(prefix)], (prefix, after)

    run(body)
