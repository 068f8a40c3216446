"""EtcdStorage: the distributed Storage backend, every object in a real etcd (v3 API).

Owns: mapping the storage protocol onto etcd's KV, Watch and Compact calls.
- Keys: kapi's keys start with the root `/registry`; in etcd that root is replaced by
  `prefix` (upstream's --etcd-prefix, default `/registry`), so `etcdctl get --prefix
  /registry/pods` lists the pods. Values are the API server's JSON bytes, unchanged
  (upstream stores protobuf for built-in kinds; JSON keeps etcdctl output readable).
- Revisions are etcd's own: a KeyValue's mod_revision is the etcd mod revision, and so
  the object's resourceVersion. Every write is one single-operation transaction, so each
  bumps the etcd revision by exactly one (as the protocol requires of every backend).
- Optimistic concurrency is a transaction comparing the key's mod_revision (or its
  create_revision with 0, for a create); the failure branch reads the key, to tell
  KeyNotFound from Conflict in the same round trip.
- Watches are etcd watches from `after + 1` with prev_kv, so history and live events come
  from etcd itself, in order, none twice. A watch from before what etcd compacted ends in
  Compacted, as does a replayed event at or before a compaction this store made. A lost
  connection ends a watch with its error (the watch cache watches again from its
  revision). current_revision() asks etcd for the progress of the watch over all of
  kapi's keys, so that writes outside them never stall a consistent read.
- compact() is etcd's Compact; the compacted revision is remembered (etcd has no call
  that returns it cheaply: HashKV does, and is used only at start and after a refusal).

The client is etcd3aio (PyPI): asyncio over grpc.aio, typed, TLS with client
certificates, several endpoints with round-robin, retries of transient errors. aetcd
(the other maintained asyncio client) was measured too and lacks what kapi needs: no TLS
(insecure channels only) and no revision or limit on range reads. Writes are sent once
(no retry): a retried transaction could report a Conflict for its own first attempt.

Must never: know about Kubernetes objects, write more than one revision per call, or
touch keys outside its prefix.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

import grpc
from etcd3aio import Etcd3Client

# the generated etcd messages, as the client itself imports them (it sets their path up)
from etcd3aio._protobuf import (
    Compare,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnResponse,
    WatchCreateRequest,
    WatchRequest,
    WatchStub,
    rpc_pb2,
)
from etcd3aio.kv import KVService

from .common import check_compact_revision
from .etcd_options import ROOT, EtcdOptions
from .interface import (
    Compacted,
    Conflict,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    StorageError,
)

log = logging.getLogger(__name__)
WatchProgressRequest = rpc_pb2.WatchProgressRequest

WRITE_ATTEMPTS = 1  # see the module docstring: writes are never retried
COMPACTED_MSG = "required revision has been compacted"
FUTURE_MSG = "required revision is a future revision"
PROGRESS_WAIT = 1.0  # seconds current_revision() waits for a watch's progress
CLOSE_GRACE = 0.5  # seconds close() lets watches catch up with what etcd committed


class _Stream:
    """One watch: what its pump task hands the reader, the last event revision handed,
    the requests to send on its gRPC stream, and the newest revision etcd said the
    watch had been told everything up to (a progress notification)."""

    __slots__ = ("prefix", "queue", "last", "requests", "synced", "progressed")

    def __init__(self, prefix: bytes, after: int) -> None:
        self.prefix = prefix
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.last = after
        self.requests: asyncio.Queue[Any] = asyncio.Queue()
        self.synced = 0
        self.progressed = asyncio.Event()

    async def wait_synced(self, revision: int) -> None:
        while self.synced < revision:
            self.progressed.clear()
            await self.progressed.wait()


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def _bytes_end(prefix: bytes) -> bytes:
    """etcd's range end for "every key starting with prefix"."""
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\x00"  # the whole key space


class EtcdStorage:
    def __init__(self, options: EtcdOptions) -> None:
        self.options = options
        self._prefix = options.prefix.rstrip("/")
        self._client: Etcd3Client | None = None
        self._compacted = 0
        self._closed = asyncio.Event()
        self._streams: set[_Stream] = set()

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        if self._client is not None:
            return
        o = self.options
        ca, cert, key = (_read(p) for p in (o.cafile, o.certfile, o.keyfile))
        endpoints = o.endpoints()
        # one name to check the certificate against (several endpoints share one channel)
        server_name = endpoints[0].rsplit(":", 1)[0] if ca else None
        client = Etcd3Client(endpoints, tls_server_name=server_name, ca_cert=ca,
                             cert_chain=cert, cert_key=key)
        await client.connect()
        self._client = client
        try:  # fails fast (with the reason) when etcd is not there
            self._compacted = await self._fetch_compacted(timeout=10)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Ends every watch, once it has passed on what etcd had committed (a watch
        whose prefix saw nothing since waits CLOSE_GRACE seconds at most)."""
        if self._client is not None and self._streams and not self._closed.is_set():
            try:
                await asyncio.wait_for(self._drain(await self.current_revision()), CLOSE_GRACE)
            except (TimeoutError, Exception):
                pass  # ending now is still correct: a watcher resumes from its revision
        self._closed.set()
        for st in list(self._streams):
            st.queue.put_nowait(None)
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _drain(self, revision: int) -> None:
        while any(st.last < revision for st in self._streams):
            await asyncio.sleep(0.01)

    @property
    def _channel(self) -> Any:
        """The client's gRPC channel (TLS, endpoints), for kapi's own watch streams."""
        if self._client is None or self._client._channel is None:
            raise StorageError("EtcdStorage is not started (or already closed)")
        return self._client._channel

    @property
    def kv(self) -> KVService:
        if self._client is None or self._client.kv is None:
            raise StorageError("EtcdStorage is not started (or already closed)")
        return self._client.kv

    # -- keys --------------------------------------------------------------------

    def _key(self, key: str) -> bytes:
        if not key.startswith(ROOT):
            raise ValueError(f"key {key!r} is outside {ROOT}")
        return (self._prefix + key[len(ROOT):]).encode()

    def _name(self, key: bytes) -> str:
        return ROOT + key.decode()[len(self._prefix):]

    def _kv(self, kv: Any) -> KeyValue:
        return KeyValue(self._name(kv.key), kv.value, kv.create_revision, kv.mod_revision)

    # -- revisions ---------------------------------------------------------------

    async def current_revision(self) -> int:
        """etcd's revision; while a watch covers all of kapi's keys (the watch cache's),
        the newest revision under those keys instead, learnt by asking etcd for that
        watch's progress: writes outside kapi's keys (another cluster's prefix, anyone's
        etcdctl put) must not make a consistent read wait for events that never come."""
        res = await self.kv.get(self._key(ROOT), count_only=True)
        rev = int(res.header.revision)
        root = self._key(ROOT + "/")
        st = next((st for st in self._streams if st.prefix == root), None)
        if st is None or st.last >= rev:
            return rev
        st.requests.put_nowait(WatchRequest(progress_request=WatchProgressRequest()))
        try:
            await asyncio.wait_for(st.wait_synced(rev), PROGRESS_WAIT)
        except TimeoutError:  # etcd answers only once the watch has caught up
            return rev
        return st.last

    async def compacted_revision(self) -> int:
        return self._compacted

    async def _fetch_compacted(self, timeout: float | None = None) -> int:
        if self._client is None or self._client.maintenance is None:
            raise StorageError("EtcdStorage is not started (or already closed)")
        res = await self._client.maintenance.hash_kv(0, timeout=timeout)
        self._compacted = max(self._compacted, int(res.compact_revision))
        return self._compacted

    # -- writes ------------------------------------------------------------------

    async def _txn(self, key: bytes, compare: Compare, op: RequestOp) -> TxnResponse:
        failure = [RequestOp(request_range=RangeRequest(key=key))]
        return await self.kv.txn([compare], [op], failure, max_attempts=WRITE_ATTEMPTS)

    async def create(self, key: str, value: bytes) -> KeyValue:
        k, data = self._key(key), bytes(value)
        cmp = Compare(key=k, target=Compare.CREATE, result=Compare.EQUAL, create_revision=0)
        res = await self._txn(k, cmp, RequestOp(request_put=PutRequest(key=k, value=data)))
        if not res.succeeded:
            raise KeyExists(key)
        rev = int(res.header.revision)
        return KeyValue(key, data, rev, rev)

    def _precondition(self, k: bytes, expected_revision: int) -> Compare:
        if expected_revision:
            return Compare(key=k, target=Compare.MOD, result=Compare.EQUAL,
                           mod_revision=expected_revision)
        return Compare(key=k, target=Compare.CREATE, result=Compare.GREATER, create_revision=0)

    def _failed(self, key: str, res: TxnResponse, expected_revision: int) -> StorageError:
        kvs = res.responses[0].response_range.kvs
        if not kvs:
            return KeyNotFound(key)
        return Conflict(key, expected_revision, int(kvs[0].mod_revision))

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        k, data = self._key(key), bytes(value)
        op = RequestOp(request_put=PutRequest(key=k, value=data, prev_kv=True))
        res = await self._txn(k, self._precondition(k, expected_revision), op)
        if not res.succeeded:
            raise self._failed(key, res, expected_revision)
        prev = res.responses[0].response_put.prev_kv
        return KeyValue(key, data, int(prev.create_revision), int(res.header.revision))

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        k = self._key(key)
        op = RequestOp(request_delete_range=DeleteRangeRequest(key=k, prev_kv=True))
        res = await self._txn(k, self._precondition(k, expected_revision), op)
        if not res.succeeded:
            raise self._failed(key, res, expected_revision)
        prev = res.responses[0].response_delete_range.prev_kvs[0]
        return KeyValue(key, prev.value, int(prev.create_revision), int(res.header.revision))

    # -- reads -------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        res = await self.kv.get(self._key(key))
        return self._kv(res.kvs[0]) if res.kvs else None

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        if revision < 0:
            raise ValueError(f"revision must be >= 0, got {revision}")
        p = self._key(prefix)
        start = p
        if start_after and start_after >= prefix:
            start = self._key(start_after) + b"\x00"  # the first key after it
        try:
            res = await self.kv.get(start, _bytes_end(p), revision=revision, limit=limit)
        except grpc.aio.AioRpcError as e:
            raise await self._read_error(e, revision) from None
        items = [self._kv(kv) for kv in res.kvs]
        return ListResult(items=items, revision=revision or int(res.header.revision),
                          more=bool(res.more))

    async def count(self, prefix: str, *, revision: int = 0, start_after: str = "") -> int:
        """etcd's own range count (what upstream's remainingItemCount comes from)."""
        if revision < 0:
            raise ValueError(f"revision must be >= 0, got {revision}")
        p = self._key(prefix)
        start = p
        if start_after and start_after >= prefix:
            start = self._key(start_after) + b"\x00"
        try:
            res = await self.kv.get(start, _bytes_end(p), revision=revision, count_only=True)
        except grpc.aio.AioRpcError as e:
            raise await self._read_error(e, revision) from None
        return int(res.count)

    async def _read_error(self, e: grpc.aio.AioRpcError, revision: int) -> Exception:
        detail = e.details() or ""
        if COMPACTED_MSG in detail:
            return Compacted(revision, await self._fetch_compacted())
        if FUTURE_MSG in detail:
            return FutureRevision(revision, await self.current_revision())
        return e

    # -- watch -------------------------------------------------------------------

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[Event]:
        if after < self._compacted:
            raise Compacted(after, self._compacted)
        return self._watch(self._key(prefix), after)

    async def _watch(self, p: bytes, after: int) -> AsyncIterator[Event]:
        st = _Stream(p, after)
        self._streams.add(st)
        if self._closed.is_set():
            st.queue.put_nowait(None)
        pump = asyncio.create_task(self._pump(p, after, st), name="etcd-watch")
        try:
            while True:
                item = await st.queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item.revision <= self._compacted:  # compacted while we replayed
                    raise Compacted(after, self._compacted)
                yield item
        finally:
            self._streams.discard(st)
            pump.cancel()

    async def _pump(self, p: bytes, after: int, st: _Stream) -> None:
        """Feeds st.queue with the etcd watch's events (an exception ends the watch).
        The gRPC stream is kapi's own (the client's watch helper cannot ask for
        progress): the create request, then whatever st.requests carries."""
        create = WatchCreateRequest(key=p, range_end=_bytes_end(p), start_revision=after + 1,
                                    prev_kv=True)

        async def outgoing() -> AsyncIterator[Any]:
            yield WatchRequest(create_request=create)
            while True:
                yield await st.requests.get()

        queue = st.queue
        call = WatchStub(self._channel).Watch(outgoing())
        try:
            async for res in call:
                if res.compact_revision:
                    self._compacted = max(self._compacted, int(res.compact_revision))
                    queue.put_nowait(Compacted(after, int(res.compact_revision)))
                    return
                if res.canceled:
                    queue.put_nowait(StorageError(f"etcd ended the watch: {res.cancel_reason}"))
                    return
                if not res.created and not res.events:  # progress: all up to here was sent
                    st.synced = max(st.synced, int(res.header.revision))
                    st.progressed.set()
                for ev in res.events:
                    queue.put_nowait(self._event(ev))
                    st.last = int(ev.kv.mod_revision)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the reader raises it
            queue.put_nowait(e)
        finally:
            call.cancel()

    def _event(self, ev: Any) -> Event:
        rev = int(ev.kv.mod_revision)
        prev = self._kv(ev.prev_kv) if ev.HasField("prev_kv") else None
        if ev.type == 1:  # DELETE: etcd's kv carries only the key and the revision
            last = prev if prev is not None else KeyValue(self._name(ev.kv.key), b"", 0, rev)
            kv = KeyValue(last.key, last.value, last.create_revision, rev)
            return Event("DELETE", kv, prev, rev)
        return Event("PUT", self._kv(ev.kv), prev if ev.kv.version > 1 else None, rev)

    # -- compaction --------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        check_compact_revision(revision, await self.current_revision())
        if revision <= self._compacted:
            return
        try:
            await self.kv.compact(revision, max_attempts=WRITE_ATTEMPTS)
        except grpc.aio.AioRpcError as e:
            if COMPACTED_MSG not in (e.details() or ""):  # another server compacted further
                raise
            await self._fetch_compacted()
            return
        self._compacted = max(self._compacted, revision)

