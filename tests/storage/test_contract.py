"""The storage contract: one suite that every backend must pass (see interface.py).

The watch tests here compare whole events (KeyValues with their create and mod
revisions); test_watch_contract.py runs the watch contract against each backend and its
watch cache (watching from the current or a future revision, a watch ending when its
source closes, ...)."""

from __future__ import annotations

import asyncio
import pathlib
import random
from contextlib import aclosing
from typing import Awaitable, Callable

import pytest

from kapi import storage
from kapi.storage import BACKENDS, Event, KeyValue, Storage, open_storage
from tests.storage.harness import TIMEOUT, opened, random_writes, take, watch_to_end

Body = Callable[[Storage], Awaitable[None]]


@pytest.fixture(params=sorted(BACKENDS))
def run(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Callable[[Body], None]:
    """run(body): opens a fresh store of the parametrized backend, awaits body(store)
    under a timeout, and closes the store."""

    def runner(body: Body) -> None:
        async def main() -> None:
            async with opened(request, request.param, tmp_path / "contract.db") as store:
                await asyncio.wait_for(body(store), TIMEOUT)

        asyncio.run(main())

    return runner


async def drain_history(store: Storage, prefix: str, after: int) -> list[Event]:
    """Every event currently recorded under prefix after `after`."""
    current = await store.current_revision()
    out: list[Event] = []
    if current <= after:
        return out
    async with aclosing(store.watch(prefix, after=after)) as stream:
        async for event in stream:
            out.append(event)
            if event.revision >= current:
                break
            if len(out) > current:
                raise AssertionError("more events than revisions")
    return out


async def watch_fails_compacted(store: Storage, after: int) -> storage.Compacted:
    with pytest.raises(storage.Compacted) as info:
        stream = store.watch("", after=after)
        async with aclosing(stream):
            await take(stream, 1)
    return info.value


def keys_of(items: list[KeyValue]) -> list[str]:
    return [kv.key for kv in items]


# -- basic key operations ----------------------------------------------------------


def test_create_get_update_delete(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        assert await s.current_revision() == 0
        assert await s.get("/a") is None
        created = await s.create("/a", b"one")
        assert created == KeyValue("/a", b"one", 1, 1)
        assert await s.get("/a") == created
        updated = await s.update("/a", b"two", expected_revision=1)
        assert updated == KeyValue("/a", b"two", 1, 2)
        assert await s.get("/a") == updated
        deleted = await s.delete("/a", expected_revision=2)
        assert deleted == KeyValue("/a", b"two", 1, 3)
        assert await s.get("/a") is None
        again = await s.create("/a", b"three")
        assert again == KeyValue("/a", b"three", 4, 4)
        assert await s.current_revision() == 4

    run(body)


def test_unconditional_update_and_delete(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await s.create("/a", b"1")
        await s.update("/a", b"2", expected_revision=1)
        assert await s.update("/a", b"3", expected_revision=0) == KeyValue("/a", b"3", 1, 3)
        assert await s.delete("/a") == KeyValue("/a", b"3", 1, 4)

    run(body)


def test_errors_and_no_revision_spent_on_failure(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await s.create("/a", b"1")
        with pytest.raises(storage.KeyExists) as exists:
            await s.create("/a", b"x")
        assert exists.value.key == "/a"
        with pytest.raises(storage.KeyNotFound):
            await s.update("/missing", b"x", expected_revision=1)
        with pytest.raises(storage.KeyNotFound):
            await s.delete("/missing")
        with pytest.raises(storage.Conflict) as conflict:
            await s.update("/a", b"x", expected_revision=7)
        assert (conflict.value.expected, conflict.value.actual) == (7, 1)
        with pytest.raises(storage.Conflict):
            await s.delete("/a", expected_revision=2)
        await s.delete("/a")
        with pytest.raises(storage.KeyNotFound):
            await s.update("/a", b"x", expected_revision=1)
        with pytest.raises(storage.KeyNotFound):
            await s.delete("/a")
        assert await s.current_revision() == 2
        assert (await s.create("/b", b"1")).mod_revision == 3
        assert await s.get("/a") is None

    run(body)


def test_revisions_gapless_and_monotonic(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        rnd = random.Random(7)
        revisions: list[int] = []
        for _ in range(300):
            key = f"/k/{rnd.randrange(20)}"
            kv = await s.get(key)
            if kv is None:
                revisions.append((await s.create(key, b"c")).mod_revision)
            elif rnd.random() < 0.3:
                revisions.append((await s.delete(key)).mod_revision)
            else:
                revisions.append((await s.update(key, b"u", expected_revision=0)).mod_revision)
        assert revisions == list(range(1, 301))
        assert await s.current_revision() == 300
        history = await drain_history(s, "", 0)
        assert [e.revision for e in history] == revisions

    run(body)


def test_values_are_opaque_bytes(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        value = bytes(range(256)) * 4 + b"\x00"
        await s.create("/bin", value)
        assert (await s.get("/bin")).value == value
        assert (await s.list("/bin")).items[0].value == value

    run(body)


# -- list --------------------------------------------------------------------------


def test_list_sorted_prefix_start_after_limit(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        names = [f"/r/pods/ns{n}/p{i:02d}" for n in (1, 2) for i in range(12)]
        others = ["/r/pods0", "/r/podsx/q", "/r/pod", "/r/services/ns1/s", "/a"]
        shuffled = names + others
        random.Random(3).shuffle(shuffled)
        for key in shuffled:
            await s.create(key, key.encode())
        full = await s.list("/r/pods/")
        assert keys_of(full.items) == sorted(names)
        assert full.more is False and full.revision == await s.current_revision()
        assert all(kv.value == kv.key.encode() for kv in full.items)
        assert keys_of((await s.list("/r/pods/ns2/")).items) == sorted(names)[12:]
        assert keys_of((await s.list("")).items) == sorted(names + others)
        assert keys_of((await s.list("/nothing/")).items) == []

        after = await s.list("/r/pods/", start_after="/r/pods/ns1/p05")
        assert keys_of(after.items) == sorted(names)[6:]
        # start_after before the prefix range does not widen it
        assert keys_of((await s.list("/r/pods/ns2/", start_after="/a")).items) == sorted(names)[12:]
        assert (await s.list("/r/pods/", start_after="/r/pods/zzz")).items == []

        exact = await s.list("/r/pods/", limit=len(names))
        assert keys_of(exact.items) == sorted(names) and exact.more is False
        pages, start, more = [], "", True
        while more:
            page = await s.list("/r/pods/", start_after=start, limit=5)
            assert len(page.items) <= 5
            pages.extend(keys_of(page.items))
            start, more = page.items[-1].key, page.more
            assert len(pages) <= len(names)
        assert pages == sorted(names)
        assert (await s.list("/r/pods/", limit=5)).more is True
        assert await s.count("/r/pods/") == len(names)
        assert await s.count("/r/pods/", start_after="/r/pods/ns1/p05") == len(names) - 6
        assert await s.count("/r/pods/ns2/", start_after="/a") == 12
        assert await s.count("/nothing/") == 0
        rev = await s.current_revision()
        await s.delete("/r/pods/ns1/p00")
        await s.create("/r/pods/ns3/p00", b"x")
        await s.create("/r/pods/ns3/p01", b"x")
        assert await s.count("/r/pods/", revision=rev) == len(names)
        assert await s.count("/r/pods/") == len(names) + 1

    run(body)


def test_list_at_old_revision(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await s.create("/p/a", b"a1")
        await s.create("/p/b", b"b1")
        await s.create("/p/c", b"c1")
        await s.create("/q/x", b"x1")
        snapshot = await s.list("/p/")
        r = snapshot.revision
        assert r == 4
        await s.update("/p/a", b"a2", expected_revision=1)
        await s.delete("/p/b")
        await s.create("/p/d", b"d1")
        await s.delete("/p/c")
        await s.create("/p/c", b"c2")
        await s.update("/q/x", b"x2", expected_revision=4)

        old = await s.list("/p/", revision=r)
        assert old.revision == r
        assert old.items == snapshot.items
        assert old.items == [
            KeyValue("/p/a", b"a1", 1, 1),
            KeyValue("/p/b", b"b1", 2, 2),
            KeyValue("/p/c", b"c1", 3, 3),
        ]
        mid = await s.list("/p/", revision=7)
        assert [(kv.key, kv.value) for kv in mid.items] == [
            ("/p/a", b"a2"),
            ("/p/c", b"c1"),
            ("/p/d", b"d1"),
        ]
        paged = await s.list("/p/", revision=r, start_after="/p/a", limit=1)
        assert keys_of(paged.items) == ["/p/b"] and paged.more is True
        now = await s.list("/p/")
        assert [(kv.key, kv.value) for kv in now.items] == [
            ("/p/a", b"a2"),
            ("/p/c", b"c2"),
            ("/p/d", b"d1"),
        ]
        assert (await s.list("/p/", revision=now.revision)).items == now.items
        assert (await s.list("", revision=1)).items == [KeyValue("/p/a", b"a1", 1, 1)]

    run(body)


def test_list_future_revision(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await s.create("/a", b"1")
        with pytest.raises(storage.FutureRevision) as info:
            await s.list("", revision=2)
        assert (info.value.requested, info.value.current) == (2, 1)
        assert (await s.list("", revision=0)).revision == 1

    run(body)


# -- watch -------------------------------------------------------------------------


def test_watch_replays_history_then_live(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await s.create("/w/a", b"a1")  # 1
        await s.create("/other/z", b"z1")  # 2
        await s.update("/w/a", b"a2", expected_revision=1)  # 3
        await s.create("/w/b", b"b1")  # 4
        await s.delete("/w/a")  # 5
        async with aclosing(s.watch("/w/", after=1)) as stream:
            replayed = await take(stream, 3)
            assert replayed == [
                Event("PUT", KeyValue("/w/a", b"a2", 1, 3), KeyValue("/w/a", b"a1", 1, 1), 3),
                Event("PUT", KeyValue("/w/b", b"b1", 4, 4), None, 4),
                Event("DELETE", KeyValue("/w/a", b"a2", 1, 5), KeyValue("/w/a", b"a2", 1, 3), 5),
            ]
            assert replayed[1].is_create and not replayed[0].is_create
            await s.create("/other/y", b"y")  # 6, filtered out
            await s.create("/w/a", b"a3")  # 7
            await s.update("/w/b", b"b2", expected_revision=4)  # 8
            live = await take(stream, 2)
        assert live == [
            Event("PUT", KeyValue("/w/a", b"a3", 7, 7), None, 7),
            Event("PUT", KeyValue("/w/b", b"b2", 4, 8), KeyValue("/w/b", b"b1", 4, 4), 8),
        ]
        everything = await drain_history(s, "", 0)
        assert [e.revision for e in everything] == list(range(1, 9))

    run(body)


def test_watch_exactly_once_under_concurrent_writes(
    run: Callable[[Body], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small history pages so that writes land between pages of a replay.
    monkeypatch.setattr(storage.fanout, "HISTORY_PAGE", 4)
    prefixes = ["/h/a/", "/h/b/", "/h/c/"]
    keys = [p + str(i) for p in prefixes for i in range(6)]

    async def body(s: Storage) -> None:
        log: list[tuple[int, str]] = []
        async with aclosing(s.watch("", after=0)) as reference_stream:
            watch_specs = [(i, prefixes[i % 3] if i % 4 else "/h/") for i in range(24)]
            started: list[int] = []
            writers_done = asyncio.Event()
            watchers = [asyncio.ensure_future(watch_to_end(
                s, lambda prefix, after: s.watch(prefix, after=after), lambda e: e.kv.key,
                i, p, started, writers_done)) for i, p in watch_specs]
            for done in await asyncio.gather(
                    *(random_writes(s, 100 + i, keys, 150, b"%d" % (100 + i)) for i in range(4))):
                log.extend(done)
            writers_done.set()
            writes_done = await s.current_revision()
            while len(started) < len(watchers):
                await asyncio.sleep(0)
            # Push the end markers past every watcher's start revision.
            for i in range(3):
                log.append(((await s.create(f"/filler/{i}", b"")).mod_revision, f"/filler/{i}"))
            for prefix in prefixes + ["/h/"]:
                done = await s.create(prefix + "~end", b"")
                log.append((done.mod_revision, prefix + "~end"))
            results = await asyncio.gather(*watchers)
            final = await s.current_revision()
            reference = await take(reference_stream, final)
        # The race is real: most watchers started while the writers were running.
        assert sum(0 < rev < writes_done for rev in started) >= len(watch_specs) // 2
        assert sorted(rev for rev, _ in log) == list(range(1, final + 1))
        assert [e.revision for e in reference] == list(range(1, final + 1))
        assert [e.kv.key for e in reference] == [key for _, key in sorted(log)]
        for (_, prefix), (after, got) in zip(watch_specs, results, strict=True):
            end = next(e.revision for e in reference if e.kv.key == prefix + "~end")
            expected = [
                e for e in reference if after < e.revision <= end and e.kv.key.startswith(prefix)
            ]
            assert got == expected, (prefix, after)

    run(body)


# -- compaction --------------------------------------------------------------------


async def _churn(s: Storage) -> None:
    """Revisions 1..10 with updates, deletes and a re-create."""
    await s.create("/c/a", b"a1")  # 1
    await s.create("/c/b", b"b1")  # 2
    await s.update("/c/a", b"a2", expected_revision=1)  # 3
    await s.create("/c/c", b"c1")  # 4
    await s.delete("/c/b")  # 5
    await s.update("/c/a", b"a3", expected_revision=3)  # 6
    await s.create("/c/d", b"d1")  # 7
    await s.delete("/c/c")  # 8
    await s.create("/c/b", b"b2")  # 9
    await s.update("/c/d", b"d2", expected_revision=7)  # 10


def test_compaction(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await _churn(s)
        before_now = await s.list("/c/")
        before = {r: await s.list("/c/", revision=r) for r in range(6, 11)}
        history_after_6 = await drain_history(s, "", 6)
        await s.compact(6)
        assert await s.compacted_revision() == 6
        with pytest.raises(storage.Compacted) as info:
            await s.list("/c/", revision=5)
        assert (info.value.requested, info.value.compacted) == (5, 6)
        assert (await watch_fails_compacted(s, 5)).compacted == 6
        with pytest.raises(storage.Compacted):
            s.watch("/c/", after=0)  # raised by the call itself, before iterating
        assert (await s.list("/c/")).items == before_now.items
        for r in range(6, 11):
            assert (await s.list("/c/", revision=r)).items == before[r].items
        assert await drain_history(s, "", 6) == history_after_6
        assert (await s.get("/c/a")) == KeyValue("/c/a", b"a3", 1, 6)

        await s.compact(3)  # older than the compacted revision: nothing happens
        assert await s.compacted_revision() == 6
        with pytest.raises(storage.FutureRevision):
            await s.compact(11)
        await s.compact(10)
        assert (await s.list("/c/")).items == before_now.items
        assert (await s.list("/c/", revision=10)).items == before_now.items
        assert (await s.create("/c/e", b"e")).mod_revision == 11

    run(body)


def test_compaction_of_a_trailing_tombstone_keeps_revisions(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        await s.create("/t", b"1")
        await s.delete("/t")
        await s.compact(2)
        assert await s.current_revision() == 2
        assert (await s.list("")).items == []
        assert await s.create("/t", b"2") == KeyValue("/t", b"2", 3, 3)
        assert [e.revision for e in await drain_history(s, "", 2)] == [3]

    run(body)


def test_compaction_during_replay_fails_the_watch(
    run: Callable[[Body], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.fanout, "HISTORY_PAGE", 3)

    async def body(s: Storage) -> None:
        for i in range(10):
            await s.create(f"/k{i}", b"x")
        stream = s.watch("", after=0)
        async with aclosing(stream):
            assert [e.revision for e in await take(stream, 3)] == [1, 2, 3]
            await s.compact(8)
            with pytest.raises(storage.Compacted):
                await take(stream, 1)

    run(body)


def test_compactor_keeps_revisions_and_age(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        now = [0.0]
        compactor = storage.Compactor(s, keep_revisions=5, keep_seconds=10, clock=lambda: now[0])
        for i in range(20):
            await s.create(f"/k{i}", b"x")
        assert await compactor.step() == 0  # nothing is 10 s old yet
        now[0] = 5.0
        for i in range(20, 30):
            await s.create(f"/k{i}", b"x")
        assert await compactor.step() == 0
        now[0] = 12.0
        assert await compactor.step() == 20  # the revision seen 10+ s ago (t=0)
        now[0] = 16.0
        assert await compactor.step() == 25  # age allows 30 (t=5), count allows 25
        assert await s.compacted_revision() == 25
        assert len((await s.list("")).items) == 30

    run(body)


def test_compact_loop_runs(run: Callable[[Body], None]) -> None:
    async def body(s: Storage) -> None:
        for i in range(10):
            await s.create(f"/k{i}", b"x")
        task = asyncio.ensure_future(
            storage.compact_loop(s, interval=0.005, keep_revisions=3, keep_seconds=0)
        )
        try:
            for _ in range(400):
                if await s.compacted_revision() == 7:
                    break
                await asyncio.sleep(0.005)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert await s.compacted_revision() == 7

    run(body)


# -- factory -----------------------------------------------------------------------


def test_open_storage_factory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="unknown storage backend 'nope'"):
        open_storage("nope")
    with pytest.raises(ValueError):
        open_storage("sqlite")
    store = open_storage("sqlite", data_dir=tmp_path / "d")

    async def main() -> None:
        await store.start()
        await store.create("/a", b"1")
        await store.close()

    asyncio.run(main())
    assert (tmp_path / "d" / "kapi.db").exists()
