"""pods/exec, pods/attach and pods/portforward: where a stream goes, and how it starts.

As upstream's API server, this resolves the pod and its node (404 when either is missing,
400 for a pod not yet scheduled, a container that is not in the pod, a pod on a
simulated node, which runs nothing) and forwards to the kubelet's own API at the address
its Node publishes. Clients reach it two ways:

- HTTP with `Upgrade: SPDY/3.1` (kubectl before 1.30, and the fall-back of later ones):
  the `X-Stream-Protocol-Version` headers are negotiated, the kubelet is reached, and only
  then is `101 Switching Protocols` sent, so every refusal is an ordinary Status
  response; the connection is then taken over (kapi/upgrade.py) for a SPDY session.
- WebSocket: `v5.channel.k8s.io`/`v4.channel.k8s.io` for exec and attach,
  `v4.channel.k8s.io` for port-forward (the Python client), `SPDY/3.1+portforward.k8s.io`
  for kubectl 1.31+'s tunnelled port-forward. Refusals are sent as the same Status with
  the WebSocket denial response.

Choice of protocol to the kubelet: the API server terminates the client's protocol and
always speaks the kubelet's channel WebSocket (runtime/kubelet/streams.py), rather than
proxying the upgraded bytes as upstream does. That keeps SPDY in one place (the API
server, where kubectl meets it), gives the kubelet one small protocol to serve, and lets
one kubelet speak to every client generation; the cost is that each SPDY port-forward
connection is one WebSocket to the kubelet.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from kapi import errors
from kapi.endpoints import podlog
from kapi.endpoints.requestinfo import RequestInfo
from kapi.endpoints.streams import portforward, remotecommand
from kapi.endpoints.streams.kubeletws import KubeletSocket
from kapi.endpoints.streams.session import Read, Session, Write

Obj = dict[str, Any]
SUBRESOURCES = ("exec", "attach", "portforward")
SIMULATED_ANNOTATION = "sim.kapi.dev/simulated"  # set by runtime/kubelet/simnode.py
UPGRADE_EXTENSION = "kapi.upgrade"  # kapi/upgrade.py
EXEC_WEBSOCKET = ("v5.channel.k8s.io", "v4.channel.k8s.io")
EXEC_SPDY = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
PORTFORWARD_SPDY = ("portforward.k8s.io",)
TUNNEL = "SPDY/3.1+portforward.k8s.io"
FLAGS = ("stdin", "stdout", "stderr", "tty")


class Target:
    def __init__(self, url: str, path: str, query: list[tuple[str, str]], kind: str) -> None:
        self.url, self.path, self.query, self.kind = url, path, query, kind


class UpgradeResponse(Response):
    """101 Switching Protocols, then `run(read, write)` owns the connection's bytes;
    `when_done` are called once the stream has ended (the audit log's ResponseComplete)."""

    status_code = 101

    def __init__(self, headers: dict[str, str],
                 run: Callable[[Read, Write], Awaitable[None]]) -> None:
        self._upgrade_headers, self._run = headers, run
        self.when_done: list[Callable[[], None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 101,
                    "headers": [(k.encode(), v.encode()) for k, v in self._upgrade_headers.items()]})

        async def read() -> bytes | None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                if message.get("body"):
                    return bytes(message["body"])

        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        try:
            await self._run(read, write)
        finally:
            for done in self.when_done:
                done()
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def _negotiate(offered: list[str], supported: tuple[str, ...]) -> str:
    """The client's first protocol the server speaks (upstream's order)."""
    chosen = next((p for p in offered if p in supported), None)
    if chosen is None:
        raise errors.BadRequest(f"unable to upgrade: unable to negotiate protocol: client "
                                f"supports {offered}, server supports {list(supported)}")
    return chosen


class StreamEndpoints:
    def __init__(self, *, store: Any, scheme: Any) -> None:
        self.store, self.scheme = store, scheme

    async def locate(self, info: RequestInfo, query: Any) -> Target:
        pods, nodes = self.scheme.get("", "v1", "pods"), self.scheme.get("", "v1", "nodes")
        pod = await self.store.get(pods, info.namespace, info.name)
        name, ns = info.name, info.namespace
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.BadRequest(f"pod {name} does not have a host assigned")
        node = await self.store.get(nodes, None, node_name)
        if ((node["metadata"].get("annotations") or {}).get(SIMULATED_ANNOTATION)
                == "true"):
            raise errors.BadRequest(f'pod {name} is on simulated node "{node_name}", which '
                                    "runs no containers: exec, attach and port-forward need "
                                    "a Docker-backed node")
        url = podlog.kubelet_url(node)
        if info.subresource == "portforward":
            ports = [p for v in query.getlist("ports") for p in v.split(",") if p]
            return Target(url, f"/portForward/{ns}/{name}", [("port", p) for p in ports],
                          "portforward")
        container = podlog.container_name(pod, query.get("container"))
        params = [(f, "1") for f in FLAGS if query.get(f) in ("1", "true", "True")]
        if info.subresource == "exec":
            command = query.getlist("command")
            if not command:
                raise errors.BadRequest("you must specify at least one command for the "
                                        "container")
            params += [("command", c) for c in command]
        return Target(url, f"/{info.subresource}/{ns}/{name}/{container}", params,
                      info.subresource)

    # -- SPDY over HTTP/1.1 -------------------------------------------------------------
    async def http(self, request: Request, info: RequestInfo, query: Any) -> Response:
        target = await self.locate(info, query)
        if request.headers.get("upgrade", "").lower() != "spdy/3.1":
            raise errors.BadRequest("Upgrade request required")
        if UPGRADE_EXTENSION not in (request.scope.get("extensions") or {}):
            raise errors.BadRequest("this connection cannot be upgraded to SPDY/3.1")
        offered = [p.strip() for v in request.headers.getlist("x-stream-protocol-version")
                   for p in v.split(",") if p.strip()]
        headers = {"connection": "Upgrade", "upgrade": "SPDY/3.1"}
        if target.kind == "portforward":
            headers["x-stream-protocol-version"] = _negotiate(offered, PORTFORWARD_SPDY)

            async def run_portforward(read: Read, write: Write) -> None:
                await portforward.serve_spdy(Session(read, write), target.url, target.path)
            return UpgradeResponse(headers, run_portforward)
        protocol = _negotiate(offered, EXEC_SPDY)
        headers["x-stream-protocol-version"] = protocol
        kubelet = await KubeletSocket.open(target.url, target.path, target.query,
                                           EXEC_WEBSOCKET)
        expected = remotecommand.expected_streams(query)

        async def run_exec(read: Read, write: Write) -> None:
            await remotecommand.serve_spdy(Session(read, write), kubelet, expected,
                                           status_json=protocol.startswith("v4."))
        return UpgradeResponse(headers, run_exec)

    # -- WebSocket ----------------------------------------------------------------------
    async def websocket(self, ws: WebSocket, info: RequestInfo, query: Any,
                        on_accept: Callable[[], Callable[[], None]] = lambda: lambda: None,
                        ) -> None:
        """Serve the stream; `on_accept()` once the WebSocket is accepted, and what it
        returned when the stream ends (the audit log's ResponseStarted and
        ResponseComplete)."""
        target = await self.locate(info, query)
        offered = list(ws.scope.get("subprotocols") or [])
        if target.kind == "portforward" and TUNNEL in offered:
            await ws.accept(subprotocol=TUNNEL)
            done = on_accept()
            try:
                await portforward.serve_spdy(Session(_ws_read(ws), ws.send_bytes),
                                             target.url, target.path)
            finally:
                done()
            return
        if target.kind == "portforward":
            if not target.query:
                raise errors.BadRequest('query parameter "ports" is required')
            protocols: tuple[str, ...] = (portforward.PROTOCOL,)
            chosen = portforward.PROTOCOL if portforward.PROTOCOL in offered else None
        else:
            chosen = _negotiate(offered, EXEC_WEBSOCKET)
            protocols = (chosen,)
        kubelet = await KubeletSocket.open(target.url, target.path, target.query, protocols)
        await ws.accept(subprotocol=chosen)
        done = on_accept()
        try:
            await remotecommand.relay(ws, kubelet)
        finally:
            done()


def _ws_read(ws: WebSocket) -> Read:
    async def read() -> bytes | None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                return bytes(data)
    return read
