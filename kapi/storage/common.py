"""Small pieces shared by the storage backends: revision checks, key ranges, and the
periodic compactor.

Must never: know about Kubernetes objects or any backend's internals; everything here
works on plain revisions, strings, or the public Storage protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Callable

from .interface import Compacted, FutureRevision, Storage

log = logging.getLogger(__name__)


def read_revision(requested: int, current: int, compacted: int) -> int:
    """The revision a read at `requested` (0 = now) is served at, or the error."""
    if requested < 0:
        raise ValueError(f"revision must be >= 0, got {requested}")
    if requested == 0:
        return current
    if requested > current:
        raise FutureRevision(requested, current)
    if requested < compacted:
        raise Compacted(requested, compacted)
    return requested


def check_compact_revision(requested: int, current: int) -> None:
    if requested < 0:
        raise ValueError(f"revision must be >= 0, got {requested}")
    if requested > current:
        raise FutureRevision(requested, current)


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with prefix, or None when
    there is none (empty prefix, or only maximal code points)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < 0x10FFFF:
            code += 1
            if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be encoded; skip them
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


class Compactor:
    """Decides and runs compactions: history is kept for at least the last
    `keep_revisions` revisions AND at least the last `keep_seconds` seconds (whichever
    keeps more). `keep_seconds <= 0` disables the age rule."""

    def __init__(
        self,
        storage: Storage,
        *,
        keep_revisions: int = 10_000,
        keep_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.keep_revisions = max(0, keep_revisions)
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._samples: deque[tuple[float, int]] = deque()  # (time, current revision)

    def _revision_by_age(self, now: float, current: int) -> int:
        if self.keep_seconds <= 0:
            return current
        self._samples.append((now, current))
        cutoff = now - self.keep_seconds
        # Keep only the newest sample at or before the cutoff, plus the newer ones.
        while len(self._samples) > 1 and self._samples[1][0] <= cutoff:
            self._samples.popleft()
        first_time, first_rev = self._samples[0]
        return first_rev if first_time <= cutoff else 0

    async def step(self) -> int:
        """Compacts if useful; returns the revision compacted to, or 0."""
        current = await self.storage.current_revision()
        target = min(current - self.keep_revisions, self._revision_by_age(self.clock(), current))
        if target <= 0 or target <= await self.storage.compacted_revision():
            return 0
        await self.storage.compact(target)
        return target


async def compact_loop(
    storage: Storage,
    *,
    interval: float = 60.0,
    keep_revisions: int = 10_000,
    keep_seconds: float = 300.0,
    on_compacted: Callable[[int], None] | None = None,
) -> None:
    """Runs forever (cancel the task to stop), compacting every `interval` seconds and
    telling `on_compacted` the revision compacted to (the watch cache drops its older
    events). A failed compaction is logged and retried at the next tick."""
    compactor = Compactor(storage, keep_revisions=keep_revisions, keep_seconds=keep_seconds)
    while True:
        try:
            done = await compactor.step()
            if done and on_compacted is not None:
                on_compacted(done)
        except Exception:  # keep compacting later rather than dying with the server up
            log.exception("storage compaction failed")
        await asyncio.sleep(interval)
