"""The kubelet HTTP API of a simulated fleet: `GET /stats/summary`, `/pods` and `/healthz`
for each of its nodes.

One server answers for every node of the fleet: it listens on each node's own loopback
address (127.0.x.y, the InternalIP the Node publishes) at one shared port, which every
Node publishes as its kubelet endpoint; the address a request arrived on names the node.
So the API server reaches a simulated node exactly as it reaches a Docker-backed one.

It owns the listening sockets and the choice of the port; it never writes to the API
and listens on loopback addresses only.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request

from runtime.kubelet import server, stats

Obj = dict[str, Any]


def listen_all(addresses: list[str], attempts: int = 8) -> tuple[int, list[socket.socket]]:
    """Listening sockets on every address at one free port (another fleet may hold a
    port on some of them: then try another)."""
    for _ in range(attempts):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        socks: list[socket.socket] = []
        try:
            for address in addresses:
                s = socket.socket()
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((address, port))
                s.listen(128)
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    raise OSError("no port free on every simulated node's address")


class FleetStatsServer:
    """`nodes` maps each node's address to its name; `pods_on(name)` lists the pods
    bound to it (the fleet's informer cache); `active(name)` is false for a paused or
    stopped node; `clock()` is epoch seconds."""

    def __init__(self, *, nodes: dict[str, str], pods_on: Callable[[str], list[Obj]],
                 clock: Callable[[], float],
                 active: Callable[[str], bool] = lambda name: True) -> None:
        self.nodes, self.pods_on, self.clock, self.active = nodes, pods_on, clock, active
        self.port = 0
        self._socks: list[socket.socket] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = stats._ts(clock())

    def summary_of(self, request: Request) -> Obj | None:
        local = request.scope.get("server") or ("", 0)
        name = self.nodes.get(str(local[0]))
        if name is None or not self.active(name):
            return None  # a paused node answers nothing, as one that lost its network
        return stats.simulated_summary(name, self._started, self.pods_on(name), self.clock())

    def pods_of(self, request: Request) -> list[Obj] | None:
        local = request.scope.get("server") or ("", 0)
        name = self.nodes.get(str(local[0]))
        if name is None or not self.active(name):
            return None
        return self.pods_on(name)

    def bind(self) -> int:
        self.port, self._socks = listen_all(list(self.nodes))
        return self.port

    def start(self) -> None:
        app = Starlette(routes=[stats.route(self.summary_of),
                                *server.node_routes(self.pods_of)])
        binds = [f"fd://{s.detach()}" for s in self._socks]
        self._task = asyncio.create_task(_serve(app, binds, self._stop),
                                         name="simulated-kubelet-api")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            # asyncio.wait, not wait_for: a cancellation of the caller must not be
            # taken for the server's own end (and swallowed)
            _, pending = await asyncio.wait({self._task}, timeout=5)
            if pending:
                self._task.cancel()
        for s in self._socks:
            s.close()


async def _serve(app: Starlette, binds: list[str], stop: asyncio.Event) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = binds
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    config.graceful_timeout = 1
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
