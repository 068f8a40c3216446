"""A SPDY/3.1 server session over any byte pipe, and the relay helpers both bridges use.

The pipe is two coroutines (read: the next bytes or None at the end; write), so the same
session runs on a connection taken over after `101 Switching Protocols` (kapi/upgrade.py)
and inside a WebSocket (kubectl 1.31+ port-forward tunnels SPDY in binary messages). The
session replies to every stream the client opens, answers pings, and hands stream
events to a handler (remotecommand.py, portforward.py); writes are serialized by a lock
because frames from several streams interleave. It owns no Kubernetes semantics.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable, Protocol

from kapi.endpoints.streams import spdy

Read = Callable[[], Awaitable[bytes | None]]
Write = Callable[[bytes], Awaitable[None]]


class Handler(Protocol):
    async def opened(self, stream_id: int, headers: spdy.Headers) -> None: ...
    async def data(self, stream_id: int, data: bytes) -> None: ...
    async def finished(self, stream_id: int) -> None: ...   # FIN or RST from the client


class Session:
    def __init__(self, read: Read, write: Write) -> None:
        self._read, self._write = read, write
        self._conn = spdy.Connection()
        self._lock = asyncio.Lock()
        self._last_stream = 0
        self.closed = False

    async def send(self, frame: spdy.Frame) -> None:
        if self.closed:
            return
        async with self._lock:
            await self._write(self._conn.send(frame))

    async def data(self, stream_id: int, data: bytes, fin: bool = False) -> None:
        await self.send(spdy.Data(stream_id, data, fin))

    async def run(self, handler: Handler) -> None:
        """Until the client closes the pipe, sends GOAWAY or breaks the framing."""
        while (chunk := await self._read()) is not None:
            try:
                frames = self._conn.receive(chunk)
            except spdy.ProtocolError:
                return
            for frame in frames:
                if not await self._dispatch(frame, handler):
                    return

    async def _dispatch(self, frame: spdy.Frame, handler: Handler) -> bool:
        if isinstance(frame, spdy.SynStream):
            self._last_stream = max(self._last_stream, frame.stream_id)
            await self.send(spdy.SynReply(frame.stream_id))
            await handler.opened(frame.stream_id, frame.headers)
            if frame.fin:
                await handler.finished(frame.stream_id)
        elif isinstance(frame, spdy.Data):
            if frame.data:
                await handler.data(frame.stream_id, frame.data)
            if frame.fin:
                await handler.finished(frame.stream_id)
        elif isinstance(frame, spdy.RstStream):
            await handler.finished(frame.stream_id)
        elif isinstance(frame, spdy.Ping):
            await self.send(frame)  # the client's pings come back unchanged
        elif isinstance(frame, spdy.GoAway):
            return False
        return True  # SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do

    async def close(self) -> None:
        await self.send(spdy.GoAway(self._last_stream))
        self.closed = True


async def first_of(*coros: Awaitable[None]) -> None:
    """Run the coroutines until one of them ends; cancel the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
