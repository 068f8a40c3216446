"""The load generator: a raw asyncio HTTP/1.1 keep-alive client (one asyncio.Protocol
per connection, one request in flight per connection), a fixed-concurrency runner
bounded by request count AND wall time, a watch-stream reader, and an httpx runner
kept only to show how much a general-purpose client would cap the figures.

Loopback only. Latency is request-write to last-body-byte, on time.perf_counter().
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

Request = tuple[str, str, bytes]  # method, path, body
MakeRequest = Callable[[int, int], Request]  # (worker, seq) -> request
Check = Callable[[int, int, int, bytes], bool]  # (worker, seq, status, body) -> ok


def read_head(buf: bytearray) -> tuple[int, list[bytes]] | None:
    """The status and header lines of the HTTP/1.1 response head at the start of `buf`
    (taken out of it), or None while the head is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).split(b"\r\n")
    del buf[:end + 4]
    return int(lines[0].split(b" ", 2)[1]), lines[1:]


class HTTPError(Exception):
    pass


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; `await conn.request(...)` -> (status, body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host_header = f"{host}:{port}".encode()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost: Exception | None = None
        self.close_after = False  # the server said "connection: close" (Hypercorn does so
        self._reset()             # after keep_alive_max_requests, 1000 by default)

    def _reset(self) -> None:
        self.status: int | None = None
        self.need = 0
        self.chunked = False
        self.chunks: list[bytes] = []

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(host, port), host, port)
        return proto

    # -- protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError("connection closed by server")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.lost)
        self.waiter = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            self._parse()
        except Exception as e:  # malformed response: fail the request, drop the connection
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(HTTPError(f"bad response: {e}"))
            self.waiter = None
            if self.transport is not None:
                self.transport.close()

    def _parse(self) -> None:
        buf = self.buf
        while buf:
            if self.status is None:
                head = read_head(buf)
                if head is None:
                    return
                self.status, headers = head
                self.need = 0
                for line in headers:
                    k, _, v = line.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        self.need = int(v)
                    elif k == b"transfer-encoding" and b"chunked" in v.lower():
                        self.chunked = True
                        self.need = -1
                    elif k == b"connection" and b"close" in v.lower():
                        self.close_after = True
            if self.chunked:
                if not self._parse_chunks():
                    return
                body = b"".join(self.chunks)
            else:
                if len(buf) < self.need:
                    return
                body = bytes(buf[:self.need])
                del buf[:self.need]
            status = self.status
            self._reset()
            w, self.waiter = self.waiter, None
            if w is not None and not w.done():
                w.set_result((status, body))

    def _parse_chunks(self) -> bool:
        """Consume chunks from the buffer; True once the terminating chunk is read."""
        buf = self.buf
        while True:
            if self.need < 0:  # expecting a size line
                end = buf.find(b"\r\n")
                if end < 0:
                    return False
                size = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[:end + 2]
                if size == 0:
                    self.need = -2
                else:
                    self.need = size
            if self.need == -2:  # after the last chunk: (no trailers) CRLF
                if len(buf) < 2:
                    return False
                del buf[:2]
                return True
            if len(buf) < self.need + 2:
                return False
            self.chunks.append(bytes(buf[:self.need]))
            del buf[:self.need + 2]
            self.need = -1

    # -- API ----------------------------------------------------------------------------
    @property
    def reusable(self) -> bool:
        return self.lost is None and not self.close_after and self.transport is not None

    def request(self, method: str, path: str, body: bytes = b"") -> asyncio.Future[tuple[int, bytes]]:
        if self.lost is not None or self.transport is None or self.close_after:
            raise ConnectionResetError("connection is closed")
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n" % (
            method.encode(), path.encode(), self.host_header)
        if body or method in ("POST", "PUT", "PATCH"):
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.transport.write(head + b"\r\n" + body)
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def call(host: str, port: int, method: str, path: str, obj: Any = None) -> tuple[int, Any]:
    """One request on a fresh connection; JSON in, JSON (or raw text) out."""
    conn = await Conn.open(host, port)
    try:
        status, body = await conn.request(method, path, orjson.dumps(obj) if obj is not None else b"")
    finally:
        conn.close()
    try:
        return status, orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return status, body.decode(errors="replace")


# -- measuring ----------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int | None) -> float | None:
    """user+system CPU seconds of a process (all its threads), from /proc; None if unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def system_busy_seconds() -> float | None:
    """CPU-seconds every CPU of the machine spent busy (from /proc/stat); None if unknown."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: irq and softirq are left out, being
    # mostly this benchmark's own loopback traffic, charged to no process
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + steal) / CLK_TCK


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


@dataclass
class Result:
    name: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)  # seconds
    statuses: Counter = field(default_factory=Counter)
    bytes_in: int = 0
    server_cpu: float | None = None  # fraction of one core over the phase
    client_cpu: float | None = None
    other_cpu: float | None = None  # every other process on the machine (cores) over the phase
    first_error: str = ""
    reconnects: int = 0  # after the server's "connection: close"; not errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def pct_ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "name": self.name, "concurrency": self.concurrency, "requests": self.requests,
            "errors": self.errors, "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "p50_ms": round(percentile(lat, 50) * 1000, 3),
            "p99_ms": round(percentile(lat, 99) * 1000, 3),
            "max_ms": round(lat[-1] * 1000, 3) if lat else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "bytes_in": self.bytes_in,
            "server_cpu": None if self.server_cpu is None else round(self.server_cpu, 3),
            "client_cpu": None if self.client_cpu is None else round(self.client_cpu, 3),
            "other_cpu": None if self.other_cpu is None else round(self.other_cpu, 3),
            "first_error": self.first_error, "reconnects": self.reconnects,
        }


def _ok(w: int, i: int, status: int, body: bytes) -> bool:
    return 200 <= status < 300


async def run_load(host: str, port: int, name: str, make: MakeRequest, *, concurrency: int,
                   count: int, duration: float, check: Check = _ok,
                   server_pid: int | None = None) -> Result:
    """Issue up to `count` requests from `concurrency` connections, stopping early once
    `duration` seconds have passed; one request in flight per connection."""
    res = Result(name=name, concurrency=concurrency)
    conns = list(await asyncio.gather(*(Conn.open(host, port) for _ in range(concurrency))))
    seq = 0
    lat = res.latencies
    perf = time.perf_counter

    async def worker(w: int) -> None:
        nonlocal seq
        conn = conns[w]
        while True:
            i = seq
            if i >= count or perf() >= deadline:
                return
            seq += 1
            method, path, body = make(w, i)
            t = perf()
            try:
                status, data = await conn.request(method, path, body)
            except (ConnectionError, HTTPError) as e:
                res.errors += 1
                res.first_error = res.first_error or f"{method} {path}: {e!r}"
                conn.close()
                conn = conns[w] = await Conn.open(host, port)
                continue
            lat.append(perf() - t)
            if not conn.reusable:  # as any HTTP/1.1 client does: reconnect, not an error
                conn.close()
                conn = conns[w] = await Conn.open(host, port)
                res.reconnects += 1
            res.statuses[status] += 1
            res.bytes_in += len(data)
            if not check(w, i, status, data):
                res.errors += 1
                if not res.first_error:
                    res.first_error = f"{method} {path} -> {status}: {data[:300]!r}"

    cpu0, ccpu0, sys0 = proc_cpu_seconds(server_pid), time.process_time(), system_busy_seconds()
    t0 = perf()
    deadline = t0 + duration
    try:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    finally:
        res.seconds = perf() - t0
        for c in conns:
            c.close()
    cpu1, ccpu1, sys1 = proc_cpu_seconds(server_pid), time.process_time(), system_busy_seconds()
    res.requests = len(lat)
    _cpu_shares(res, cpu0, cpu1, ccpu0, ccpu1, sys0, sys1)
    return res


def _cpu_shares(res: Result, cpu0: float | None, cpu1: float | None, ccpu0: float,
                ccpu1: float, sys0: float | None, sys1: float | None) -> None:
    if res.seconds <= 0:
        return
    res.client_cpu = (ccpu1 - ccpu0) / res.seconds
    if cpu0 is not None and cpu1 is not None:
        res.server_cpu = (cpu1 - cpu0) / res.seconds
    if sys0 is not None and sys1 is not None and res.server_cpu is not None:
        res.other_cpu = max(0.0, (sys1 - sys0) / res.seconds - res.server_cpu - res.client_cpu)


async def run_load_httpx(base_url: str, name: str, path: str, *, concurrency: int, count: int,
                         duration: float, server_pid: int | None = None) -> Result:
    """The same GET load through httpx.AsyncClient: shows the cap a general-purpose client
    puts on the figures (the raw client above is what the table's other rows use)."""
    import httpx

    res = Result(name=name, concurrency=concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    seq = 0
    perf = time.perf_counter
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(client.get(path) for _ in range(concurrency)))  # open them

        async def worker() -> None:
            nonlocal seq
            while True:
                if seq >= count or perf() >= deadline:
                    return
                seq += 1
                t = perf()
                r = await client.get(path)
                res.latencies.append(perf() - t)
                res.statuses[r.status_code] += 1
                res.bytes_in += len(r.content)
                if r.status_code >= 300:
                    res.errors += 1

        cpu0, ccpu0, sys0 = proc_cpu_seconds(server_pid), time.process_time(), system_busy_seconds()
        t0 = perf()
        deadline = t0 + duration
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        res.seconds = perf() - t0
        cpu1, ccpu1, sys1 = proc_cpu_seconds(server_pid), time.process_time(), system_busy_seconds()
    res.requests = len(res.latencies)
    _cpu_shares(res, cpu0, cpu1, ccpu0, ccpu1, sys0, sys1)
    return res


# -- watch ---------------------------------------------------------------------------------
class WatchConn(asyncio.Protocol):
    """A watch request whose response bytes are only timestamped (time.time()) and kept
    while they arrive; `drain()` parses them later, so parsing one watcher's events never
    delays another watcher's receive timestamp."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pieces: list[tuple[float, bytes]] = []
        self.parsed = 0
        self.buf = bytearray()
        self.line = bytearray()
        self.status: int | None = None
        self.chunked = False
        self.need = -1
        self.events: list[tuple[float, dict[str, Any]]] = []  # (receive time, event)
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int, path: str) -> WatchConn:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(cls, host, port)
        proto.transport.write(b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: application/json\r\n\r\n"
                              % (path.encode(), host.encode(), port))
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.pieces.append((time.time(), data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def drain(self) -> None:
        """Parse every piece received so far into self.events."""
        while self.parsed < len(self.pieces):
            t, data = self.pieces[self.parsed]
            self.parsed += 1
            self.buf += data
            self._feed(t)

    def _feed(self, t: float) -> None:
        buf = self.buf
        if self.status is None:
            head = read_head(buf)
            if head is None:
                return
            self.status, headers = head
            for line in headers:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"transfer-encoding" and b"chunked" in v.lower():
                    self.chunked = True
        if self.chunked:
            while True:
                if self.need < 0:
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    self.need = int(bytes(buf[:end]).split(b";")[0], 16)
                    del buf[:end + 2]
                    if self.need == 0:
                        self.need = -1
                        break
                if len(buf) < self.need + 2:
                    break
                self.line += buf[:self.need]
                del buf[:self.need + 2]
                self.need = -1
        else:
            self.line += buf
            del buf[:]
        while True:
            nl = self.line.find(b"\n")
            if nl < 0:
                break
            raw = bytes(self.line[:nl])
            del self.line[:nl + 1]
            if raw.strip():
                self.events.append((t, orjson.loads(raw)))
