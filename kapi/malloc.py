"""Giving freed memory back to the operating system (glibc's allocator; no-ops elsewhere).

Large objects (a 256 KiB ConfigMap's data, a decoded body) come and go. glibc serves
them from mmap at first, but after the first such free it raises its mmap threshold and
serves them from heap arenas, one per thread that allocated, where freed memory stays in
the process: RSS then only grows. `tune()` pins the threshold (and caps the arenas) at
start; `trim()` returns what the heaps hold free, after a compaction freed the cache's
old events. Owns nothing else; must never be needed for correctness.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept fixed
ARENA_MAX = 2


def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def tune() -> bool:
    """Fixes glibc's mmap threshold and arena count for this process; False elsewhere."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_ARENA_MAX, ARENA_MAX))


def trim() -> None:
    """Returns free heap memory to the system (a few milliseconds)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
