"""The API server's side of a stream to a kubelet: a small WebSocket client (wsproto).

Whatever protocol a client speaks to the API server, the API server reaches the kubelet
of the pod's node with one WebSocket (runtime/kubelet/streams.py describes its channels)
and relays between the two. `open` finishes the handshake before the client's own
upgrade is answered, so a kubelet's refusal (container not running, pod not on this node)
becomes the client's error Status: 404 NotFound or 400 BadRequest, with its text.
It owns the connection to the kubelet only; it never reads storage or parses channels.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Iterable
from urllib.parse import urlencode, urlparse

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from kapi import errors

READ = 64 * 1024
CONNECT_TIMEOUT = 10.0


class KubeletSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 conn: WSConnection) -> None:
        self._reader, self._writer, self._conn = reader, writer, conn
        self._messages: deque[bytes] = deque()
        self._partial = bytearray()
        self._closed = False
        self.subprotocol: str | None = None

    @classmethod
    async def open(cls, base_url: str, path: str, query: Iterable[tuple[str, str]],
                   subprotocols: Iterable[str]) -> KubeletSocket:
        url = urlparse(base_url)
        host, port = url.hostname or "", url.port or 80
        target = f"{path}?{urlencode(list(query))}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=READ * 4), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise errors.InternalError(f'error dialing backend: dial tcp {url.netloc}: '
                                       f'{getattr(e, "strerror", None) or e or "timeout"}'
                                       ) from None
        conn = WSConnection(ConnectionType.CLIENT)
        sock = cls(reader, writer, conn)
        writer.write(conn.send(Request(host=url.netloc, target=target,
                                       subprotocols=list(subprotocols))))
        try:
            await asyncio.wait_for(sock._handshake(), CONNECT_TIMEOUT)
        except BaseException:
            writer.close()
            raise
        return sock

    async def _handshake(self) -> None:
        status, body = 0, bytearray()
        while True:
            data = await self._reader.read(READ)
            if not data:
                raise errors.InternalError("the kubelet closed the stream before answering")
            self._conn.receive_data(data)
            for event in self._conn.events():
                if isinstance(event, AcceptConnection):
                    self.subprotocol = event.subprotocol
                elif isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        self._refused(status, b"")
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        self._refused(status, bytes(body))
                else:
                    self._take(event)
            if self.subprotocol is not None or self._conn.state.name == "OPEN":
                return

    @staticmethod
    def _refused(status: int, body: bytes) -> None:
        text = body.decode(errors="replace").strip() or f"the kubelet answered {status}"
        if status == 404:
            raise errors.NotFound(text, details={})
        raise errors.BadRequest(text)

    def _take(self, event: object) -> None:
        if isinstance(event, (BytesMessage, TextMessage)):
            data = event.data.encode() if isinstance(event.data, str) else bytes(event.data)
            self._partial += data
            if event.message_finished:
                self._messages.append(bytes(self._partial))
                self._partial.clear()
        elif isinstance(event, Ping):
            self._writer.write(self._conn.send(event.response()))
        elif isinstance(event, CloseConnection):
            if not self._closed:
                self._closed = True
                try:
                    self._writer.write(self._conn.send(event.response()))
                except Exception:  # noqa: BLE001 - a close after a close: nothing to say
                    pass

    async def recv(self) -> bytes | None:
        """The next binary message; None once the kubelet closed the stream."""
        while not self._messages:
            if self._closed:
                return None
            data = await self._reader.read(READ)
            if not data:
                self._closed = True
                return None
            self._conn.receive_data(data)
            for event in self._conn.events():
                self._take(event)
        return self._messages.popleft()

    async def send(self, data: bytes) -> None:
        if self._closed:
            return
        self._writer.write(self._conn.send(Message(data=data)))
        await self._writer.drain()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._writer.write(self._conn.send(CloseConnection(code=1000)))
                await self._writer.drain()
            except Exception:  # noqa: BLE001 - the kubelet is gone already
                pass
        self._writer.close()
