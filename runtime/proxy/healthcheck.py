"""The health checks of externalTrafficPolicy: Local (upstream kube-proxy's service
health server): for each LoadBalancer Service with a healthCheckNodePort, a small HTTP
server on that port answers any GET with 200 while this node has an endpoint of the
Service to send to, else 503, and upstream's JSON body (`service`, `localEndpoints`,
`serviceProxyHealthy`). An external load balancer asks it which nodes to use.

Listens only on the addresses it is given (loopback and the node's own address, never
all of them); sends nothing anywhere. Runs on the proxy's event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging

log = logging.getLogger(__name__)

Wanted = dict[str, tuple[int, int]]  # "ns/name" -> (healthCheckNodePort, local endpoints)
MAX_HEAD = 8192  # a health check's request is small; more is refused


def body(key: str, count: int) -> bytes:
    namespace, name = key.split("/", 1)
    doc = {"service": {"namespace": namespace, "name": name}, "localEndpoints": count,
           "serviceProxyHealthy": True}
    return json.dumps(doc, indent="\t").encode()


class HealthServers:
    def __init__(self, addresses: tuple[str, ...]) -> None:
        self.addresses = addresses
        self.counts: dict[str, int] = {}
        self._servers: dict[str, tuple[int, list[asyncio.Server]]] = {}

    async def sync(self, wanted: Wanted) -> None:
        """Serve exactly the wanted ports; counts change in place (no re-listen)."""
        self.counts = {key: count for key, (_, count) in wanted.items()}
        for key, (port, servers) in list(self._servers.items()):
            if wanted.get(key, (0, 0))[0] != port:
                await self._close(servers)
                del self._servers[key]
        for key, (port, _) in wanted.items():
            if key not in self._servers:
                self._servers[key] = (port, await self._listen(key, port))

    async def _listen(self, key: str, port: int) -> list[asyncio.Server]:
        out = []

        async def answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self._answer(key, r, w)
        for address in self.addresses:
            try:
                out.append(await asyncio.start_server(answer, address, port, limit=MAX_HEAD))
            except OSError as e:  # the port is someone else's: say so, keep the rest
                log.warning("health check of %s: cannot listen on %s:%d: %s", key, address,
                            port, e.strerror)
        return out

    async def _answer(self, key: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            count = self.counts.get(key, 0)
            status = b"200 OK" if count else b"503 Service Unavailable"
            out = body(key, count)
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                         b"X-Content-Type-Options: nosniff\r\nConnection: close\r\n"
                         b"Content-Length: " + str(len(out)).encode() + b"\r\n\r\n" + out)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        finally:
            writer.close()

    async def _close(self, servers: list[asyncio.Server]) -> None:
        for s in servers:
            s.close()
        for s in servers:
            await s.wait_closed()

    async def close(self) -> None:
        for _, servers in self._servers.values():
            await self._close(servers)
        self._servers.clear()
