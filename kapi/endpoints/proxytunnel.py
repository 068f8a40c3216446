"""Upgrades (WebSocket, SPDY, any other) through the `proxy` subresources of pods and
services: the request goes to the target as HTTP/1.1 with its Upgrade headers, and when
the target answers 101 Switching Protocols that answer goes back to the client and the
two connections are joined byte for byte until either side closes (upstream's
UpgradeAwareHandler). Any other answer is an ordinary response.

kapi/http1.py hands such requests over with the connection's bytes (kapi/upgrade.py), so
nothing here speaks WebSocket: frames pass as they are. Connects only to the address
proxysub.py located (a pod's IP, a ready endpoint); the caller's credentials and
hop-by-hop headers other than the upgrade's own are not passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Mapping

from starlette.responses import Response

from kapi import errors
from kapi.endpoints.proxysub import HOP_BY_HOP
from kapi.endpoints.streams import UpgradeResponse
from kapi.endpoints.streams.session import Read, Write

MAX_HEAD = 65536  # the target's response head
CHUNK = 65536
KEPT = frozenset({"upgrade"})  # hop-by-hop, but the upgrade itself needs them


async def tunnel(scheme: str, location: str, target: str, headers: Mapping[str, str]
                 ) -> Response:
    """Send the upgrade request to `location` (host:port) for `target` (path?query)."""
    host, _, port = location.rpartition(":") if ":" in location else (location, "", "")
    tls = scheme == "https"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            host, int(port or (443 if tls else 80)), ssl=_insecure() if tls else None), 30)
    except (OSError, TimeoutError) as e:
        raise errors.ServiceUnavailable(f"error trying to reach service: {e}") from None
    try:
        writer.write(_request_head(location, target, headers))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        status, answer = _parse_head(head)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ValueError) as e:
        writer.close()
        raise errors.ServiceUnavailable(f"error trying to reach service: {e!r}") from None
    if status != 101:
        body = await _rest(reader, answer)
        writer.close()
        kept = [(k, v) for k, v in answer if k not in HOP_BY_HOP]
        response = Response(body, status_code=status)
        response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept]
        return response

    async def join(read: Read, write: Write) -> None:
        await _join(read, write, reader, writer)
    return UpgradeResponse(dict(answer), join)


def _insecure() -> ssl.SSLContext:
    # as for plain proxied requests (proxysub.forward): pods' certificates are their own
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def _request_head(location: str, target: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {location}", "Connection: Upgrade"]
    lines += [f"{k}: {v}" for k, v in headers.items()
              if k.lower() not in HOP_BY_HOP - KEPT and k.lower() != "connection"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    out = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            out.append((k.strip().lower(), v.strip()))
    return status, out


async def _rest(reader: asyncio.StreamReader, head: list[tuple[str, str]]) -> bytes:
    """The body of a refusal: its Content-Length, else up to the close (bounded)."""
    length = next((int(v) for k, v in head if k == "content-length" and v.isdigit()), None)
    try:
        if length is not None:
            return await asyncio.wait_for(reader.readexactly(min(length, MAX_HEAD)), 30)
        return await asyncio.wait_for(reader.read(MAX_HEAD), 30)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return b""


async def _join(read: Read, write: Write, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
    """Client bytes to the target and back until either side is done."""
    async def up() -> None:
        while (data := await read()) is not None:
            writer.write(data)
            await writer.drain()

    async def down() -> None:
        while data := await reader.read(CHUNK):
            await write(data)
    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
