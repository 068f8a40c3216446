"""`kapi storage migrate`: copy a cluster's stored objects from one backend to another
(a data dir's SQLite file into etcd, as a cluster outgrows one machine).

Every key under /registry/ is read at one revision of the source (a consistent
snapshot) and created in the target with the same bytes, so uids, creationTimestamps,
finalizers, managedFields and every other field survive; resourceVersions become the
target's revisions (they are the store's, never part of the stored bytes). Values
encrypted at rest stay encrypted (the key, and so the authenticated data, is unchanged):
serve the target with the same --encryption-provider-config.

It refuses a target that already holds keys under /registry/ (two clusters are never
mixed), and never writes to the source. Keys and values are opaque here, as everywhere
in kapi.storage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from .etcd_options import ROOT, EtcdOptions
from .interface import Storage, StorageError

BATCH = 500  # keys read per page of the source
CONCURRENCY = 32  # creates in flight against the target


def etcd_target(url: str, *, cafile: str | None = None, certfile: str | None = None,
                keyfile: str | None = None) -> EtcdOptions:
    """EtcdOptions from `etcd://HOST:PORT[,HOST:PORT...][/prefix]` (etcds:// for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("etcd", "etcds") or not parts.netloc:
        raise ValueError(f"--to {url!r}: expected etcd://HOST:PORT[/prefix] "
                         "(etcds:// for TLS)")
    scheme = "https" if parts.scheme == "etcds" else "http"
    servers = tuple(f"{scheme}://{hp}" for hp in parts.netloc.split(",") if hp)
    prefix = parts.path.rstrip("/") or ROOT
    return EtcdOptions(servers=servers, prefix=prefix, cafile=cafile, certfile=certfile,
                       keyfile=keyfile)


async def migrate(source: Storage, target: Storage, *,
                  progress: Callable[[int], None] | None = None) -> int:
    """Copy every key under /registry/ from source to target; how many were copied."""
    prefix = ROOT + "/"
    if (await target.list(prefix, limit=1)).items:
        raise StorageError("the target already holds objects under "
                           f"{prefix} (kapi never mixes two clusters): use an empty etcd "
                           "or another --etcd-prefix")
    revision = await source.current_revision()
    copied, after = 0, ""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def put(key: str, value: bytes) -> None:
        async with gate:
            await target.create(key, value)
    while True:
        page = await source.list(prefix, revision=revision, start_after=after, limit=BATCH)
        await asyncio.gather(*(put(kv.key, kv.value) for kv in page.items))
        copied += len(page.items)
        if progress is not None:
            progress(copied)
        if not page.more or not page.items:
            return copied
        after = page.items[-1].key


async def from_data_dir(data_dir: Path, target: EtcdOptions) -> int:
    """Copy the SQLite store of `data_dir` into etcd as `target` says (prints progress)."""
    from . import SQLITE_FILE_NAME, open_storage
    if not (data_dir / SQLITE_FILE_NAME).is_file():
        raise StorageError(f"{data_dir} holds no {SQLITE_FILE_NAME} (is it a kapi data dir?)")
    source = open_storage("sqlite", data_dir=data_dir)
    sink = open_storage("etcd", etcd=target)
    await source.start()
    try:
        await sink.start()
        try:
            return await migrate(source, sink, progress=lambda n: print(
                f"kapi storage migrate: {n} objects copied", flush=True))
        finally:
            await sink.close()
    finally:
        await source.close()
