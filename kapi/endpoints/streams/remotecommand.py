"""pods/exec and pods/attach: the client's streams bridged to the kubelet's channels.

A WebSocket client (kubectl 1.30+ with `v5.channel.k8s.io`, the Python client with v4 or
v5) already speaks the kubelet's channel protocol, so its messages are relayed as they
are (`relay`). A SPDY/3.1 client (kubectl 1.27-1.29, and every kubectl when the
WebSocket upgrade fails) opens one stream per `streamType` header (error, stdin, stdout,
stderr, resize); `SpdyExec` maps them onto channels 0-4: stdin data to channel 0 and its
FIN to `[255, 0]`, resize JSON objects to channel 4, channels 1 and 2 back to stdout and
stderr. The final Status from channel 3 goes to the error stream (v4 and later: the
Status JSON, carrying the exit code; earlier versions: the message of a failure), then
every stream ends and the session sends GOAWAY. Output waits until the client has opened
every stream it asked for, as upstream's server does.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from kapi.endpoints.streams import spdy
from kapi.endpoints.streams.kubeletws import KubeletSocket
from kapi.endpoints.streams.session import Session, first_of

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
STREAM_TIMEOUT = 30.0  # how long the client may take to open its streams (upstream's)


def expected_streams(query: Any) -> set[str]:
    tty = query.get("tty") in ("1", "true", "True")
    wanted = {"error"}
    for name in ("stdin", "stdout", "stderr"):
        if query.get(name) in ("1", "true", "True") and not (name == "stderr" and tty):
            wanted.add(name)
    if tty:
        wanted.add("resize")
    return wanted


class SpdyExec:
    def __init__(self, session: Session, kubelet: KubeletSocket, expected: set[str],
                 status_json: bool) -> None:
        self.session, self.kubelet = session, kubelet
        self.expected, self.status_json = expected, status_json
        self.ids: dict[str, int] = {}
        self.types: dict[int, str] = {}
        self.ready = asyncio.Event()
        self._resize = bytearray()

    async def opened(self, stream_id: int, headers: spdy.Headers) -> None:
        kind = spdy.header(headers, "streamtype")
        self.ids[kind], self.types[stream_id] = stream_id, kind
        if self.expected <= self.ids.keys():
            self.ready.set()

    async def data(self, stream_id: int, data: bytes) -> None:
        kind = self.types.get(stream_id)
        if kind == "stdin":
            await self.kubelet.send(bytes([STDIN]) + data)
        elif kind == "resize":
            await self._resized(data)

    async def _resized(self, data: bytes) -> None:
        """The resize stream carries a sequence of JSON objects, cut anywhere."""
        self._resize += data
        decoder = json.JSONDecoder()
        while True:
            text = self._resize.decode(errors="replace").lstrip()
            if not text:
                self._resize.clear()
                return
            try:
                size, end = decoder.raw_decode(text)
            except ValueError:
                return  # an incomplete object: wait for more
            self._resize = bytearray(text[end:].encode())
            await self.kubelet.send(bytes([RESIZE]) + json.dumps(size).encode())

    async def finished(self, stream_id: int) -> None:
        if self.types.get(stream_id) == "stdin":
            await self.kubelet.send(bytes([CLOSE, STDIN]))

    async def pump(self) -> None:
        """The kubelet's output to the client's streams, then the final Status."""
        await asyncio.wait_for(self.ready.wait(), STREAM_TIMEOUT)
        status = b""
        while (message := await self.kubelet.recv()) is not None:
            channel, payload = message[0] if message else -1, message[1:]
            target = {STDOUT: "stdout", STDERR: "stderr"}.get(channel)
            if target in self.ids and payload:
                await self.session.data(self.ids[target], payload)
            elif channel == ERROR:
                status += payload
        await self._finish(status)

    async def _finish(self, status: bytes) -> None:
        if status and "error" in self.ids:
            if not self.status_json:  # before v4 the error stream holds a failure's text
                doc = json.loads(status)
                status = b"" if doc.get("status") == "Success" else \
                    str(doc.get("message", "")).encode()
            if status:
                await self.session.data(self.ids["error"], status)
        for stream_id in self.ids.values():
            await self.session.data(stream_id, b"", fin=True)
        await self.session.close()


async def serve_spdy(session: Session, kubelet: KubeletSocket, expected: set[str],
                     status_json: bool) -> None:
    bridge = SpdyExec(session, kubelet, expected, status_json)
    try:
        await first_of(session.run(bridge), bridge.pump())
    finally:
        await kubelet.close()


async def relay(ws: WebSocket, kubelet: KubeletSocket) -> None:
    """Messages both ways, unchanged, until either side closes."""
    async def upstream() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                data = (message.get("text") or "").encode()
            await kubelet.send(data)

    async def downstream() -> None:
        while (message := await kubelet.recv()) is not None:
            await ws.send_bytes(message)
        await ws.close()

    try:
        await first_of(upstream(), downstream())
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        await kubelet.close()
