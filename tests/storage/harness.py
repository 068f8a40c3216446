"""What the storage contract suites share: a started store of a named backend, the time
any one test body may take, reading the first n items of a watch stream, and the
random writers and watchers of the exactly-once stress tests."""

from __future__ import annotations

import asyncio
import pathlib
import random
from contextlib import aclosing, asynccontextmanager
from typing import AsyncIterator, Callable, TypeVar

import pytest

from kapi.storage import Conflict, KeyExists, KeyNotFound, Storage
from tests.storage.backends import open_backend

TIMEOUT = 10.0
T = TypeVar("T")


@asynccontextmanager
async def opened(request: pytest.FixtureRequest, backend: str,
                 path: pathlib.Path) -> AsyncIterator[Storage]:
    """A started, empty store of `backend` at path (etcd: see backends.py), closed on the
    way out."""
    store = open_backend(request, backend, path)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def take(stream: AsyncIterator[T], n: int) -> list[T]:
    """The first n items of stream (none when n is 0; the stream is not read then)."""
    out: list[T] = []
    if n:
        async for item in stream:
            out.append(item)
            if len(out) == n:
                break
    return out


async def random_writes(s: Storage, seed: int, keys: list[str], count: int,
                        value: bytes) -> list[tuple[int, str]]:
    """`count` random creates, updates and deletes over keys (a refused one skipped),
    yielding to the event loop between them; the (revision, key) of each that was done."""
    rnd = random.Random(seed)
    done: list[tuple[int, str]] = []
    for _ in range(count):
        key = rnd.choice(keys)
        kv = await s.get(key)
        try:
            if kv is None:
                wrote = await s.create(key, value)
            elif rnd.random() < 0.3:
                wrote = await s.delete(key, expected_revision=kv.mod_revision)
            else:
                wrote = await s.update(key, value, expected_revision=kv.mod_revision)
            done.append((wrote.mod_revision, key))
        except (KeyExists, KeyNotFound, Conflict):
            pass
        for _ in range(rnd.randrange(3)):
            await asyncio.sleep(0)
    return done


async def watch_to_end(s: Storage, watch: Callable[[str, int], AsyncIterator[T]],
                       key: Callable[[T], str], seed: int, prefix: str,
                       started: list[int], writers_done: asyncio.Event) -> tuple[int, list[T]]:
    """Once the writers have made a random number of revisions (counted in revisions, not
    loop turns, so that a backend behind a network races as much), watch prefix from a
    random revision (past, present or slightly future) until its `~end` key; (that
    revision, what was seen). The current revision at the start is appended to
    `started`."""
    rnd = random.Random(seed)
    target = rnd.randrange(250)
    current = await s.current_revision()
    while current < target and not writers_done.is_set():
        await asyncio.sleep(0)
        current = await s.current_revision()
    after = rnd.randint(0, current + 2)
    started.append(current)
    got: list[T] = []
    async with aclosing(watch(prefix, after)) as stream:
        async for item in stream:
            got.append(item)
            if key(item) == prefix + "~end":
                break
            if rnd.random() < 0.5:
                await asyncio.sleep(0)
    return after, got
