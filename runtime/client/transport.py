"""A lean HTTP/1.1 keep-alive transport for httpx, for API servers over http or https.

httpx's default transport (httpcore + anyio + h11) costs 0.5-3 ms of CPU per request on
this project's loads, and its pool bookkeeping grows with the square of its connection
count; components that make hundreds of requests a second (the scheduler's bindings,
simulated kubelets) spend most of their time there. This transport speaks just what a
Kubernetes client needs: requests with a body, responses with Content-Length, chunked
(watch streams) or read-to-close bodies, keep-alive reuse, and httpx's exception types,
so `Client` and its callers see no difference. httpx still builds requests and decodes
responses (gzip, JSON). With an `ssl_context`, https URLs are served too: the same
HTTP/1.1 over TLS (ALPN http/1.1), the context deciding the CA and client certificate.

It never retries a request (a stale idle connection is detected before reuse), and it
owns only the connections it opened.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import httpx

_MAX_HEAD = 256 * 1024
_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        """An idle connection is reusable if the server has not closed it."""
        return not (self.writer.is_closing() or self.reader.at_eof())

    def close(self) -> None:
        try:
            self.writer.close()
        except (OSError, RuntimeError):
            pass


class HTTP11Transport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 100, connect_timeout: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_connections, self.connect_timeout = max_connections, connect_timeout
        self.ssl_context = ssl_context
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._slots: asyncio.Semaphore | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        await self._slots.acquire()
        conn: _Conn | None = None
        try:
            conn = await self._connection(request)
            await self._send(conn, request)
            # a read timeout bounds the wait for the response's head (a server that never
            # answers must not stall a heartbeat for ever); watches pass read=None
            read = (request.extensions.get("timeout") or {}).get("read")
            async with asyncio.timeout(read):
                status, headers, keep = await _read_head(conn.reader)
        except BaseException as e:
            if conn is not None:
                conn.close()
            self._slots.release()
            if isinstance(e, _ERRORS):
                raise _httpx_error(e, request) from e
            raise
        body = _Body(self, conn, request, headers, keep, no_body=request.method == "HEAD"
                     or status in (204, 304) or 100 <= status < 200)
        return httpx.Response(status, headers=headers, stream=body,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()

    # -- connections ---------------------------------------------------------------------
    async def _connection(self, request: httpx.Request) -> _Conn:
        url = request.url
        tls = self.ssl_context if url.scheme == "https" else None
        if url.scheme == "https" and tls is None:
            raise httpx.UnsupportedProtocol("https needs the transport's ssl_context",
                                            request=request)
        origin = (url.host, url.port or (443 if tls else 80))
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        timeout = (request.extensions.get("timeout") or {}).get("connect", self.connect_timeout)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # races the connection's completion, and a stopping component would go on
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    origin[0], origin[1], limit=_MAX_HEAD, ssl=tls,
                    server_hostname=url.host if tls else None)
        except TimeoutError as e:
            raise httpx.ConnectTimeout(f"connecting to {url.host}:{origin[1]} timed out",
                                       request=request) from e
        except OSError as e:  # ssl.SSLError (e.g. an unknown CA) is one too
            raise httpx.ConnectError(str(e), request=request) from e
        return _Conn(reader, writer)

    def _release(self, conn: _Conn, request: httpx.Request, reuse: bool) -> None:
        if reuse:
            url = request.url
            default = 443 if url.scheme == "https" else 80
            self._idle.setdefault((url.host, url.port or default), []).append(conn)
        else:
            conn.close()
        assert self._slots is not None
        self._slots.release()

    @staticmethod
    async def _send(conn: _Conn, request: httpx.Request) -> None:
        body = await request.aread()
        head = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        has_length = False
        for k, v in request.headers.raw:
            if k.lower() == b"content-length":
                has_length = True
            head += [k, b": ", v, b"\r\n"]
        if body and not has_length:
            head += [b"Content-Length: ", str(len(body)).encode(), b"\r\n"]
        head.append(b"\r\n")
        conn.writer.write(b"".join(head) + body)
        await conn.writer.drain()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]], bool]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    status = int(rest[:3])
    headers = []
    keep = version == b"HTTP/1.1"
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k, v = k.strip(), v.strip()
        headers.append((k, v))
        if k.lower() == b"connection":
            keep = v.lower() != b"close" if keep else v.lower() == b"keep-alive"
    return status, headers, keep


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


class _Body(httpx.AsyncByteStream):
    """A response body: Content-Length, chunked or read-to-close. The connection goes
    back to the pool once the body is read to its end, else it is closed."""

    def __init__(self, transport: HTTP11Transport, conn: _Conn, request: httpx.Request,
                 headers: list[tuple[bytes, bytes]], keep: bool, *, no_body: bool) -> None:
        self.transport, self.conn, self.request = transport, conn, request
        chunked = (_header(headers, b"transfer-encoding") or b"").lower() == b"chunked"
        length = _header(headers, b"content-length")
        self.mode = "none" if no_body else "chunked" if chunked else \
            "length" if length is not None else "close"
        self.remaining = int(length) if length is not None and not chunked else 0
        self.keep = keep and self.mode != "close"
        self.done = self.mode == "none" or (self.mode == "length" and self.remaining == 0)
        self.released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._parts():
                yield part
        except _ERRORS as e:
            self._finish(reuse=False)
            raise httpx.ReadError(str(e) or type(e).__name__, request=self.request) from e
        self.done = True
        self._finish(reuse=self.keep)

    async def _parts(self) -> AsyncIterator[bytes]:
        reader = self.conn.reader
        if self.mode == "length":
            while self.remaining > 0:
                data = await reader.read(min(self.remaining, 65536))
                if not data:
                    raise asyncio.IncompleteReadError(b"", self.remaining)
                self.remaining -= len(data)
                yield data
        elif self.mode == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    return
                data = await reader.readexactly(size + 2)
                yield data[:-2]
        elif self.mode == "close":
            while data := await reader.read(65536):
                yield data

    async def aclose(self) -> None:
        self._finish(reuse=self.keep and self.done)

    def _finish(self, *, reuse: bool) -> None:
        if not self.released:
            self.released = True
            self.transport._release(self.conn, self.request, reuse)


def _httpx_error(e: BaseException, request: httpx.Request) -> httpx.TransportError:
    if isinstance(e, TimeoutError):
        return httpx.ReadTimeout("timed out waiting for the server", request=request)
    if isinstance(e, (ValueError, asyncio.LimitOverrunError)):
        return httpx.RemoteProtocolError(f"malformed response: {e}", request=request)
    if isinstance(e, asyncio.IncompleteReadError):
        return httpx.RemoteProtocolError("server disconnected without sending a response",
                                         request=request)
    return httpx.ReadError(str(e) or type(e).__name__, request=request)
