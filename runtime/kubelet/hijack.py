"""Docker's hijacked connections (exec start, container attach) as asyncio streams.

The engine answers `POST /exec/{id}/start` and `POST /containers/{id}/attach` asking for
`Upgrade: tcp` with 101 and then carries the process's stdin and output on the same
connection. The docker SDK does that on a blocking socket behind a buffered HTTP reader;
here it is done on the event loop, reading the response head byte-exact so no output that
arrives with it is lost, and without a thread per session. Output without a TTY comes
multiplexed (8-byte headers: stream 1 stdout or 2 stderr, then a 32-bit length), which
`demux` splits. It owns the engine's wire format only; it never decides what to run.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from typing import Any
from urllib.parse import urlparse

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
LIMIT = 1 << 20  # asyncio stream buffer


class HijackError(Exception):
    """The engine refused the upgrade; `code` is its HTTP status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def engine_address(base_url: str | None) -> str:
    return base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


async def _connect(address: str) -> Streams:
    url = urlparse(address)
    if url.scheme in ("unix", "http+unix", ""):
        return await asyncio.open_unix_connection(url.path or address, limit=LIMIT)
    return await asyncio.open_connection(url.hostname, url.port or 2375, limit=LIMIT)


async def hijack(address: str, path: str, body: Any = None) -> Streams:
    """POST `path` asking for the raw stream; the connection once the engine said 101."""
    reader, writer = await _connect(address)
    payload = json.dumps(body).encode() if body is not None else b""
    writer.write((f"POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(payload)}\r\nConnection: Upgrade\r\n"
                  "Upgrade: tcp\r\n\r\n").encode() + payload)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    code = int(status_line.split()[1])
    if code in (101, 200):
        return reader, writer
    headers = dict(line.split(":", 1) for line in lines if ":" in line)
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
    text = (await reader.readexactly(length)).decode(errors="replace") if length else ""
    writer.close()
    try:
        message = json.loads(text).get("message", text)
    except ValueError:
        message = text
    raise HijackError(message.strip() or f"engine answered {code}", code)


class Demux:
    """Splits the engine's multiplexed output into (stream, bytes) chunks."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        out: list[tuple[int, bytes]] = []
        while len(self._buffer) >= 8:
            kind, length = self._buffer[0], struct.unpack(">I", self._buffer[4:8])[0]
            if len(self._buffer) < 8 + length:
                break
            out.append((kind, bytes(self._buffer[8:8 + length])))
            del self._buffer[:8 + length]
        return out
