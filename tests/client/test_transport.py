"""The lean HTTP/1.1 transport behind runtime Client: against a scripted asyncio server
(protocol edge cases) and a real kapi API server (REST and watch through Client)."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import httpx
import pytest

from runtime.client.resources import CONFIGMAPS
from runtime.client.rest import ApiError
from runtime.client.transport import HTTP11Transport
from tests.conftest import Server

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


async def scripted(reply: Reply) -> tuple[asyncio.base_events.Server, str, list[int]]:
    """A server answering each request with `reply` (False: close the connection);
    returns it, its URL and a list counting the connections it accepted."""
    conns: list[int] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        conns.append(1)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)
                await r.readexactly(length)
                if not await reply(r, w):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://127.0.0.1:{port}", conns


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 10))  # type: ignore[arg-type]


def test_keep_alive_reuse_and_post_body() -> None:
    async def reply(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 11\r\n\r\n{\"ok\":true}")
        await w.drain()
        return True

    async def main() -> None:
        srv, url, conns = await scripted(reply)
        async with httpx.AsyncClient(base_url=url, transport=HTTP11Transport()) as c:
            for _ in range(5):
                r = await c.post("/x", content=b'{"a":1}')
                assert r.json() == {"ok": True}
        assert len(conns) == 1
        srv.close()
    run(main())


def test_chunked_close_delimited_and_stale_connections() -> None:
    replies = iter([
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ])

    async def reply(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        data = next(replies)
        w.write(data)
        await w.drain()
        return b"Connection: close" not in data

    async def main() -> None:
        srv, url, conns = await scripted(reply)
        async with httpx.AsyncClient(base_url=url, transport=HTTP11Transport()) as c:
            assert (await c.get("/a")).content == b"abcdefg"
            assert (await c.get("/b")).content == b"until-close"
            r = await c.get("/c")  # a new connection: the last one was closed
            assert r.status_code == 204 and r.content == b""
        assert len(conns) == 2
        srv.close()
    run(main())


def test_connection_errors_are_httpx_errors() -> None:
    async def reply(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        return False  # hang up without answering

    async def main() -> None:
        srv, url, _ = await scripted(reply)
        async with httpx.AsyncClient(base_url=url, transport=HTTP11Transport()) as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get("/a")
        srv.close()
        async with httpx.AsyncClient(base_url="http://127.0.0.1:9",
                                     transport=HTTP11Transport()) as c:
            with pytest.raises(httpx.ConnectError):
                await c.get("/a")
    run(main())


def test_client_rest_and_watch_against_kapi(server: Server) -> None:
    async def main() -> None:
        c = server.runtime_client(max_connections=4)
        ns = "default"
        listed = await c.list(CONFIGMAPS, ns)
        rv = listed["metadata"]["resourceVersion"]
        seen: list[str] = []

        async def watch() -> None:
            async for ev in c.watch(CONFIGMAPS, ns, resource_version=rv):
                seen.append(ev["object"]["metadata"]["name"])
                if len(seen) == 3:
                    return
        w = asyncio.create_task(watch())
        for i in range(3):
            await c.create(CONFIGMAPS, {"metadata": {"name": f"tr-{i}"}, "data": {"k": "v"}}, ns)
        await asyncio.wait_for(w, 5)
        assert seen == ["tr-0", "tr-1", "tr-2"]
        with pytest.raises(ApiError) as e:
            await c.get(CONFIGMAPS, "tr-missing", ns)
        assert e.value.not_found
        # a watch abandoned mid-stream frees its connection slot
        for _ in range(6):
            t = asyncio.create_task(watch())
            await asyncio.sleep(0.05)
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)
        got = await asyncio.wait_for(c.get(CONFIGMAPS, "tr-0", ns), 5)
        assert got["data"] == {"k": "v"}
        for i in range(3):
            await c.delete(CONFIGMAPS, f"tr-{i}", ns)
        await c.close()
    run(main())
