"""SQLiteStorage: the embedded, persistent Storage backend (the default).

Owns: one SQLite file holding an append-only log table whose integer primary key is
the revision (the design of kine's log-structured SQL backend), plus a tiny meta table
that remembers the compacted revision. The newest row of a key is its current state; a
row with deleted=1 is a tombstone. Reading at revision R takes, per key, the newest row
with id <= R. Compaction deletes superseded rows and tombstones and drops previous
values, and the freed pages are reused (and, on files made by this version, handed back
a few at a time), so the file stays as large as the live data plus the kept history.
WAL journaling with synchronous=NORMAL makes a returned write survive a
SIGKILL of the process (not a power cut, which would need synchronous=FULL).

Statements run directly on the event loop thread: each is tens of microseconds, which
is cheaper than a thread hop, and it makes "commit, then publish the event" one step no
other coroutine can interleave with. Writes are additionally serialized by an
asyncio.Lock; revisions are assigned here (current + 1) so they stay gapless even when
compaction deletes the newest row.

Must never: know about Kubernetes objects, await between committing a row and
publishing its event, or let two processes write the same file.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import sqlite3
from typing import AsyncIterator, Sequence

from .common import check_compact_revision, prefix_end, read_revision
from .fanout import Fanout, watch_stream
from .interface import (
    Conflict,
    Event,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    StorageError,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL,
    old_value BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS log_name_id ON log (name, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', 1), ('compacted', 0);
"""

PRAGMAS = (
    # Set before the first table exists (no effect on older files): compaction can then
    # hand freed pages back to the file system, a few at a time (VACUUM_PAGES).
    "PRAGMA auto_vacuum = INCREMENTAL",
    "PRAGMA journal_mode = WAL",
    "PRAGMA journal_size_limit = 67108864",  # the WAL shrinks back to 64 MiB after a burst
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    # 16 MiB of pages: reads at the newest revision come from the watch cache, and a
    # larger cache mostly kept copies of large values just written
    "PRAGMA cache_size = -16384",
    "PRAGMA temp_store = MEMORY",
)

INSERT = (
    "INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, value,"
    " old_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
LATEST = (
    "SELECT id, deleted, create_revision, value FROM log WHERE name = ?"
    " ORDER BY id DESC LIMIT 1"
)
EVENT_COLUMNS = "id, name, created, deleted, create_revision, prev_revision, value, old_value"

COMPACT_CHUNK = 10_000  # revisions per compaction transaction, so the loop is not held long
HISTORY_BYTES = 16 * 1024 * 1024  # most value bytes one page of watch history reads
VACUUM_PAGES = 2048  # free pages given back to the file system per step (8 MiB)...
VACUUM_ROUNDS = 512  # ... and steps per compaction, with requests served in between

Row = tuple  # a raw sqlite3 result row


class SQLiteStorage:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._db: sqlite3.Connection | None = None
        self._rev = 0
        self._compacted = 0
        self._write_lock = asyncio.Lock()
        self._fanout = Fanout()

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        if self._db is not None:
            return
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
            # private whatever the umask: SQLite gives its -wal and -shm files the
            # database file's mode, so creating that one 0600 covers all three
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(self.path, 0o600)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            db.execute(pragma)
        db.executescript(SCHEMA)
        self._db = db
        self._compacted = self._meta("compacted")
        (max_id,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM log").fetchone()
        # Compaction may have deleted the newest row (a tombstone); never reuse its id.
        self._rev = max(max_id, self._compacted)

    async def close(self) -> None:
        self._fanout.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError("SQLiteStorage is not started (or already closed)")
        return self._db

    def _meta(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    # -- writes ------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        async with self._write_lock:
            latest = self.db.execute(LATEST, (key,)).fetchone()
            if latest is not None and not latest[1]:
                raise KeyExists(key)
            rev, data = self._rev + 1, bytes(value)
            prev_id = latest[0] if latest is not None else 0
            self._append((rev, key, 1, 0, rev, prev_id, data, None))
            kv = KeyValue(key, data, rev, rev)
            self._fanout.publish(Event("PUT", kv, None, rev))
            return kv

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        async with self._write_lock:
            prev = self._existing(key, expected_revision)
            rev, data = self._rev + 1, bytes(value)
            crev, prev_rev = prev.create_revision, prev.mod_revision
            self._append((rev, key, 0, 0, crev, prev_rev, data, prev.value))
            kv = KeyValue(key, data, prev.create_revision, rev)
            self._fanout.publish(Event("PUT", kv, prev, rev))
            return kv

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        async with self._write_lock:
            prev = self._existing(key, expected_revision)
            rev = self._rev + 1
            # A tombstone keeps the last value in `value`; old_value would only repeat it.
            crev, prev_rev = prev.create_revision, prev.mod_revision
            self._append((rev, key, 0, 1, crev, prev_rev, prev.value, None))
            kv = KeyValue(key, prev.value, prev.create_revision, rev)
            self._fanout.publish(Event("DELETE", kv, prev, rev))
            return kv

    def _existing(self, key: str, expected_revision: int) -> KeyValue:
        latest = self.db.execute(LATEST, (key,)).fetchone()
        if latest is None or latest[1]:
            raise KeyNotFound(key)
        mod_revision, _, create_revision, value = latest
        if expected_revision and mod_revision != expected_revision:
            raise Conflict(key, expected_revision, mod_revision)
        return KeyValue(key, value, create_revision, mod_revision)

    def _append(self, row: Row) -> None:
        """Commits one log row (autocommit: one statement, one transaction)."""
        self.db.execute(INSERT, row)
        self._rev = row[0]

    # -- reads -------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        latest = self.db.execute(LATEST, (key,)).fetchone()
        if latest is None or latest[1]:
            return None
        return KeyValue(key, latest[3], latest[2], latest[0])

    def _read_range(self, prefix: str, start_after: str,
                    revision: int) -> tuple[int, list[str], list[object]]:
        """The revision a range read serves, and the WHERE terms of its names as of it."""
        rev = read_revision(revision, self._rev, self._compacted)
        where, params = _range_clause(prefix, start_after)
        if rev != self._rev:
            where.append("id <= ?")
            params.append(rev)
        return rev, where, params

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        rev, where, params = self._read_range(prefix, start_after, revision)
        sql = (
            "SELECT name, MAX(id), create_revision, value, deleted FROM log"
            f"{_where(where)} GROUP BY name HAVING deleted = 0 ORDER BY name"
        )
        if limit:
            sql += " LIMIT ?"
            params.append(limit + 1)
        rows = self.db.execute(sql, params).fetchall()
        more = bool(limit) and len(rows) > limit
        if more:
            del rows[limit:]
        items = [KeyValue(name, value, crev, mrev) for name, mrev, crev, value, _ in rows]
        return ListResult(items=items, revision=rev, more=more)

    async def count(self, prefix: str, *, revision: int = 0, start_after: str = "") -> int:
        rev, where, params = self._read_range(prefix, start_after, revision)
        sql = (
            "SELECT COUNT(*) FROM (SELECT name, MAX(id), deleted FROM log"
            f"{_where(where)} GROUP BY name HAVING deleted = 0)"
        )
        return int(self.db.execute(sql, params).fetchone()[0])

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[Event]:
        return watch_stream(self._fanout, prefix, after, self._history, self._compacted_now)

    def _compacted_now(self) -> int:
        return self._compacted

    def _history(self, prefix: str, after: int, limit: int) -> builtins.list[Event]:
        where, params = _range_clause(prefix, "")
        where.append("id > ?")
        params += [after, limit]
        sql = f"SELECT {EVENT_COLUMNS} FROM log{_where(where)} ORDER BY id LIMIT ?"
        out: list[Event] = []
        size = 0
        cursor = self.db.execute(sql, params)
        try:
            for row in cursor:  # a page of large values is cut short
                out.append(_event(row))
                size += len(row[6]) + len(row[7] or b"")
                if size > HISTORY_BYTES:
                    break
        finally:
            cursor.close()  # ends the read: an open statement would pin the WAL
        return out

    # -- compaction --------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        """Deletes, chunk by chunk, every row at or before `revision` that a row at or
        before `revision` supersedes, and every tombstone at or before `revision`."""
        check_compact_revision(revision, self._rev)
        while self._compacted < revision:
            async with self._write_lock:
                self._compact_chunk(min(revision, self._compacted + COMPACT_CHUNK))
            await asyncio.sleep(0)  # let requests run between chunks
        vacuumed = False
        for _ in range(VACUUM_ROUNDS):  # freed pages back to the file system, in steps
            async with self._write_lock:
                if not self._vacuum_step():
                    break
            vacuumed = True
            await asyncio.sleep(0)
        if vacuumed:  # the file shrinks at a checkpoint; TRUNCATE also empties the WAL
            async with self._write_lock:  # (automatic checkpoints keep what is left small)
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _compact_chunk(self, upto: int) -> None:
        lo = self._compacted
        if upto <= lo:
            return
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "DELETE FROM log WHERE id IN (SELECT prev_revision FROM log"
                " WHERE id > ? AND id <= ? AND prev_revision > 0)",
                (lo, upto),
            )
            db.execute("DELETE FROM log WHERE deleted = 1 AND id > ? AND id <= ?", (lo, upto))
            # a row's previous value only serves watches from before it: none are left
            db.execute("UPDATE log SET old_value = NULL WHERE id > ? AND id <= ?"
                       " AND old_value IS NOT NULL", (lo, upto))
            db.execute("UPDATE meta SET value = ? WHERE key = 'compacted'", (upto,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._compacted = upto

    def _vacuum_step(self) -> bool:
        """Hands up to VACUUM_PAGES free pages back; False when none are left (always,
        on files made before auto_vacuum was set: their free pages are only reused)."""
        db = self.db
        (free,) = db.execute("PRAGMA freelist_count").fetchone()
        if not free or db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return False
        # a script steps the pragma to its end (execute() would free a single page)
        db.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
        return True


def _range_clause(prefix: str, start_after: str) -> tuple[list[str], list[object]]:
    """WHERE terms selecting names that start with prefix and sort after start_after."""
    where: list[str] = []
    params: list[object] = []
    if start_after and start_after >= prefix:
        where.append("name > ?")
        params.append(start_after)
    elif prefix:
        where.append("name >= ?")
        params.append(prefix)
    end = prefix_end(prefix)
    if end is not None:
        where.append("name < ?")
        params.append(end)
    return where, params


def _where(terms: Sequence[str]) -> str:
    return " WHERE " + " AND ".join(terms) if terms else ""


def _event(row: Row) -> Event:
    rev, name, created, deleted, create_revision, prev_revision, value, old_value = row
    kv = KeyValue(name, value, create_revision, rev)
    if created:
        return Event("PUT", kv, None, rev)
    prev_value = value if deleted else old_value
    prev = KeyValue(name, prev_value, create_revision, prev_revision)
    return Event("DELETE" if deleted else "PUT", kv, prev, rev)
