"""pods/portforward: the client's connections bridged to the kubelet's port channels.

The Python client speaks the kubelet's own WebSocket protocol (`v4.channel.k8s.io`,
`?ports=`), relayed as it is (remotecommand.relay). kubectl speaks `portforward.k8s.io`
over SPDY/3.1 (before 1.31, and as the fall-back) or tunnelled inside a WebSocket
(`SPDY/3.1+portforward.k8s.io`, 1.31+): each local connection opens an error stream and a
data stream sharing `port` and `requestID` headers. `SpdyPortForward` gives each such
pair its own kubelet WebSocket on that one port: the kubelet's opening port frames are
dropped, channel 0 goes to the data stream and channel 1 to the error stream, the data
stream's FIN becomes `[255, 0]` (a half close), and when the kubelet's side ends both
streams end. A pair whose kubelet connection fails gets the reason on its error stream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kapi import errors
from kapi.endpoints.streams import spdy
from kapi.endpoints.streams.kubeletws import KubeletSocket
from kapi.endpoints.streams.session import Session

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR, CLOSE = 0, 1, 255


@dataclass
class Pair:
    port: int
    data: int = 0
    error: int = 0
    kubelet: KubeletSocket | None = None
    pending: list[bytes] = field(default_factory=list)  # client bytes before the kubelet
    ended: bool = False
    task: asyncio.Task[None] | None = None


class SpdyPortForward:
    def __init__(self, session: Session, kubelet_url: str, path: str) -> None:
        self.session, self.kubelet_url, self.path = session, kubelet_url, path
        self.pairs: dict[str, Pair] = {}
        self.by_stream: dict[int, Pair] = {}

    async def opened(self, stream_id: int, headers: spdy.Headers) -> None:
        kind = spdy.header(headers, "streamtype")
        try:
            port = int(spdy.header(headers, "port"))
        except ValueError:
            await self.session.send(spdy.RstStream(stream_id, spdy.PROTOCOL_ERROR))
            return
        # old clients send no requestID: upstream pairs their streams by id (error, data)
        request_id = spdy.header(headers, "requestid") or str(
            stream_id if kind == "error" else stream_id - 2)
        pair = self.pairs.setdefault(request_id, Pair(port))
        setattr(pair, "data" if kind == "data" else "error", stream_id)
        self.by_stream[stream_id] = pair
        if pair.data and pair.error and pair.task is None:
            pair.task = asyncio.create_task(self._forward(request_id, pair))

    async def data(self, stream_id: int, data: bytes) -> None:
        pair = self.by_stream.get(stream_id)
        if pair is None or stream_id != pair.data:
            return
        if pair.kubelet is None:
            pair.pending.append(bytes([DATA]) + data)
        else:
            await pair.kubelet.send(bytes([DATA]) + data)

    async def finished(self, stream_id: int) -> None:
        pair = self.by_stream.get(stream_id)
        if pair is None or stream_id != pair.data:
            return  # kubectl half-closes its error stream at once: nothing to do
        if pair.kubelet is None:
            pair.pending.append(bytes([CLOSE, DATA]))
        else:
            await pair.kubelet.send(bytes([CLOSE, DATA]))

    async def _forward(self, request_id: str, pair: Pair) -> None:
        try:
            pair.kubelet = await KubeletSocket.open(self.kubelet_url, self.path,
                                                    [("port", str(pair.port))], [PROTOCOL])
        except errors.APIError as e:
            await self.session.data(pair.error, e.message.encode())
            await self._end(request_id, pair)
            return
        try:
            for pending in pair.pending:
                await pair.kubelet.send(pending)
            pair.pending.clear()
            opened: set[int] = set()
            while (message := await pair.kubelet.recv()) is not None:
                channel = message[0] if message else -1
                if channel not in opened:  # the kubelet's first frame: the port number
                    opened.add(channel)
                    continue
                target = pair.data if channel == DATA else pair.error
                if len(message) > 1:
                    await self.session.data(target, message[1:])
        finally:
            await pair.kubelet.close()
            await self._end(request_id, pair)

    async def _end(self, request_id: str, pair: Pair) -> None:
        if not pair.ended:
            pair.ended = True
            await self.session.data(pair.data, b"", fin=True)
            await self.session.data(pair.error, b"", fin=True)
        self.pairs.pop(request_id, None)

    async def close(self) -> None:
        for pair in list(self.pairs.values()):
            if pair.task is not None:
                pair.task.cancel()
            if pair.kubelet is not None:
                await pair.kubelet.close()


async def serve_spdy(session: Session, kubelet_url: str, path: str) -> None:
    bridge = SpdyPortForward(session, kubelet_url, path)
    try:
        await session.run(bridge)
    finally:
        await bridge.close()
