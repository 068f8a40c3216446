"""The storage layer: a revisioned key-value store (see interface.py for the contract).

Owns: choosing a backend by name (`open_storage`) and re-exporting the protocol, its
errors and dataclasses, so the rest of kapi imports only from `kapi.storage`.

Must never: know about Kubernetes objects; callers hand it opaque bytes under string keys.
"""

from __future__ import annotations

import pathlib
from typing import Callable

from .common import Compactor, compact_loop
from .etcd_options import EtcdOptions
from .interface import (
    Compacted,
    Conflict,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    Storage,
    StorageError,
)
from .memory import MemoryStorage
from .sqlite import SQLiteStorage

__all__ = [
    "BACKENDS",
    "Compacted",
    "Compactor",
    "Conflict",
    "EtcdOptions",
    "Event",
    "FutureRevision",
    "KeyExists",
    "KeyNotFound",
    "KeyValue",
    "ListResult",
    "MemoryStorage",
    "SQLiteStorage",
    "Storage",
    "StorageError",
    "compact_loop",
    "open_storage",
]

SQLITE_FILE_NAME = "kapi.db"


def _open_memory(data_dir: pathlib.Path | None, path: str | None,
                 etcd: EtcdOptions | None) -> Storage:
    return MemoryStorage()


def _open_etcd(data_dir: pathlib.Path | None, path: str | None,
               etcd: EtcdOptions | None) -> Storage:
    from .etcd import EtcdStorage  # imports gRPC: only when etcd is wanted

    return EtcdStorage(etcd or EtcdOptions())


def _open_sqlite(data_dir: pathlib.Path | None, path: str | None,
                 etcd: EtcdOptions | None) -> Storage:
    if path is None:
        if data_dir is None:
            raise ValueError("the sqlite storage needs a path or a data_dir")
        path = str(pathlib.Path(data_dir) / SQLITE_FILE_NAME)
    return SQLiteStorage(path)


# Every backend by name.
Factory = Callable[[pathlib.Path | None, str | None, EtcdOptions | None], Storage]
BACKENDS: dict[str, Factory] = {
    "etcd": _open_etcd,
    "memory": _open_memory,
    "sqlite": _open_sqlite,
}


def open_storage(
    kind: str, *, data_dir: pathlib.Path | None = None, path: str | None = None,
    etcd: EtcdOptions | None = None,
) -> Storage:
    """Builds (does not start) the backend named `kind`. For sqlite, `path` wins over
    `data_dir`, whose file is data_dir/kapi.db; etcd is reached as `etcd` says (default:
    one local member). Call `await storage.start()` next."""
    try:
        factory = BACKENDS[kind]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(f"unknown storage backend {kind!r} (known: {known})") from None
    return factory(data_dir, path, etcd)
