"""SQLiteStorage keeps acknowledged writes across a clean restart and across SIGKILL."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import aclosing

from kapi.storage import Event, KeyValue, SQLiteStorage

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 10.0


async def _history(store: SQLiteStorage, after: int) -> list[Event]:
    """Every recorded event after `after` (bounded: never waits for live events)."""
    current = await store.current_revision()
    out: list[Event] = []
    if current <= after:
        return out

    async def read() -> None:
        async with aclosing(store.watch("", after=after)) as stream:
            async for event in stream:
                out.append(event)
                if event.revision >= current:
                    break

    await asyncio.wait_for(read(), TIMEOUT)
    return out


async def _write_some(store: SQLiteStorage) -> None:
    for i in range(50):
        await store.create(f"/d/{i:02d}", b"v%d" % i)
    for i in range(0, 50, 2):
        await store.update(f"/d/{i:02d}", b"u%d" % i, expected_revision=0)
    for i in range(0, 50, 5):
        await store.delete(f"/d/{i:02d}")
    await store.create("/d/00", b"again")


def test_restart_keeps_everything(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "kapi.db"

    async def first() -> tuple[int, list[KeyValue], list[Event], list[KeyValue]]:
        store = SQLiteStorage(path)
        await store.start()
        await _write_some(store)  # revisions 1..86
        old_list = (await store.list("/d/", revision=60)).items
        await store.compact(40)
        history = await _history(store, 40)
        await store.delete("/d/49")  # a trailing tombstone ...
        await store.compact(await store.current_revision())  # ... compacted away
        current = await store.current_revision()
        items = (await store.list("")).items
        await store.close()
        return current, items, history, old_list

    current, items, history, old_list = asyncio.run(first())
    assert current == 87

    async def second() -> None:
        store = SQLiteStorage(path)
        await store.start()
        try:
            assert await store.current_revision() == current
            assert await store.compacted_revision() == current
            assert (await store.list("")).items == items
            assert await store.get("/d/00") == KeyValue("/d/00", b"again", 86, 86)
            assert await store.get("/d/49") is None
            assert (await store.create("/d/new", b"n")).mod_revision == current + 1
        finally:
            await store.close()

    asyncio.run(second())
    assert len(history) == 46 and [e.revision for e in history] == list(range(41, 87))
    assert len(old_list) == 50


def test_watch_replays_writes_made_before_restart(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "kapi.db"

    async def first() -> list[Event]:
        store = SQLiteStorage(path)
        await store.start()
        await _write_some(store)
        history = await _history(store, 10)
        await store.close()
        return history

    async def second() -> tuple[list[Event], list[KeyValue]]:
        store = SQLiteStorage(path)
        await store.start()
        try:
            return await _history(store, 10), (await store.list("", revision=60)).items
        finally:
            await store.close()

    before = asyncio.run(first())
    after, old_list = asyncio.run(second())
    assert len(before) == 76
    assert after == before
    assert len(old_list) == 50


CHILD = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from kapi.storage.sqlite import SQLiteStorage

async def main() -> None:
    store = SQLiteStorage(sys.argv[1])
    await store.start()
    for i in range(200_000):
        key = f"/crash/{i:06d}"
        kv = await store.create(key, b"c%d" % i)
        sys.stdout.write(f"{key} {kv.mod_revision} c{i}\\n")
        if i % 3 == 0:
            kv = await store.update(key, b"u%d" % i, expected_revision=kv.mod_revision)
            sys.stdout.write(f"{key} {kv.mod_revision} u{i}\\n")
        sys.stdout.flush()

asyncio.run(main())
"""

ACKS_BEFORE_KILL = 600
DEADLINE_S = 20.0


def _read_acks_then_kill(proc: subprocess.Popen[str]) -> list[str]:
    """Reads acknowledgement lines until enough arrived, SIGKILLs the child by its pid,
    then collects the lines it flushed before dying. A watchdog bounds the wait."""
    watchdog = threading.Timer(DEADLINE_S, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for _ in range(ACKS_BEFORE_KILL):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=DEADLINE_S)
        lines.extend(proc.stdout.readlines())
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return [line for line in lines if line.endswith("\n")]


def test_acknowledged_writes_survive_sigkill(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = _read_acks_then_kill(proc)
    assert proc.returncode == -signal.SIGKILL
    acked = [line.split() for line in lines]
    assert len(acked) >= ACKS_BEFORE_KILL
    assert [int(rev) for _, rev, _ in acked] == list(range(1, len(acked) + 1))

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = [row[0] for row in db.execute("SELECT id FROM log ORDER BY id")]
    db.close()
    assert ids == list(range(1, len(ids) + 1))  # gapless, nothing half-written
    assert len(ids) >= len(acked)

    async def check() -> None:
        store = SQLiteStorage(path)
        await store.start()
        try:
            assert await store.current_revision() == len(ids)
            # Every acknowledged write is in the log with its revision, key and value.
            # (Writes committed after the last acknowledgement may exist too.)
            stored = {e.revision: (e.kv.key, e.kv.value) for e in await _history(store, 0)}
            for key, rev, value in acked:
                assert stored[int(rev)] == (key, value.encode()), rev
            keys = {kv.key for kv in (await store.list("/crash/")).items}
            assert {key for key, _, _ in acked} <= keys
            next_rev = (await store.create("/after-crash", b"x")).mod_revision
            assert next_rev == len(ids) + 1
        finally:
            await store.close()

    asyncio.run(check())
