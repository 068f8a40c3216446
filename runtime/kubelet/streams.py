"""The kubelet's streaming endpoints: exec, attach and port-forward, as WebSockets.

The API server forwards `pods/exec`, `pods/attach` and `pods/portforward` here (paths as
upstream's kubelet: `/exec/{ns}/{pod}/{container}`, `/attach/...`,
`/portForward/{ns}/{pod}`). Whatever the client spoke to the API server (SPDY/3.1,
WebSocket v4/v5, SPDY tunnelled in a WebSocket), the API server speaks one protocol here,
upstream's channel WebSocket:

- exec/attach: subprotocol `v5.channel.k8s.io` (or v4): binary messages whose first byte
  is the channel: 0 stdin, 1 stdout, 2 stderr, 3 the final metav1.Status (exit code in
  `details.causes`), 4 resize (`{"Width": w, "Height": h}`), 255 closes a channel (`[255,
  0]` ends stdin). Query: `command` (repeated), `stdin`, `stdout`, `stderr`, `tty`.
- port-forward: subprotocol `v4.channel.k8s.io`, query `port` (repeated or comma
  separated, upstream's `ports` too); port i has data channel 2i and error channel 2i+1,
  each opened by a message carrying the port (16 bits, little endian). `[255, 2i]` ends
  what the client sends to that port (a half close, like socat's on EOF).

Exec and attach go through the engine (runtime/kubelet/docker.py); port-forward connects
from the kubelet to the pod IP on the Docker bridge, which is the pod's network namespace
seen from the node (upstream's dockershim ran socat inside it through nsenter: same
bytes, same namespace). A pod or container that is missing or not running gets a plain
HTTP refusal before the WebSocket opens, which the API server turns into a Status.
This module never reads or writes the API; it owns no container lifecycle.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from typing import Any, Awaitable, Callable

from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from runtime.kubelet import hijack
from runtime.kubelet.cri import ContainerInfo

log = logging.getLogger(__name__)

Obj = dict[str, Any]
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORTFORWARD_PROTOCOL = "v4.channel.k8s.io"
READ = 32 * 1024


class StreamError(Exception):
    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _flag(q: Any, name: str) -> bool:
    return q.get(name) in ("1", "true", "True")


def status_of(exit_code: int) -> bytes:
    """The final Status of an exec as the upstream kubelet writes it on channel 3."""
    if exit_code == 0:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps({
        "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}).encode()


def ports_of(q: Any) -> list[int]:
    raw = [p for v in [*q.getlist("port"), *q.getlist("ports")] for p in v.split(",") if p]
    try:
        ports = [int(p) for p in raw]
    except ValueError:
        raise StreamError(f"invalid port in {raw}") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise StreamError("at least one port in 1-65535 must be given")
    return ports


class Streams:
    def __init__(self, *, find_pod: Callable[[str, str], Obj | None],
                 containers: Callable[[str], list[ContainerInfo]], runtime: Any) -> None:
        self.find_pod, self.containers, self.runtime = find_pod, containers, runtime

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute("/exec/{namespace}/{pod}/{container}", self.exec),
                WebSocketRoute("/attach/{namespace}/{pod}/{container}", self.attach),
                WebSocketRoute("/portForward/{namespace}/{pod}", self.port_forward)]

    # -- lookups --------------------------------------------------------------------------
    def _pod(self, ws: WebSocket) -> Obj:
        p = ws.path_params
        pod = self.find_pod(p["namespace"], p["pod"])
        if pod is None:
            raise StreamError(f'pod "{p["pod"]}" not found on this node', 404)
        return pod

    def _running(self, ws: WebSocket) -> ContainerInfo:
        pod, name = self._pod(ws), ws.path_params["container"]
        found = [c for c in self.containers(pod["metadata"]["uid"])
                 if c.name == name and c.running]
        if not found:
            raise StreamError(f'container {name} is not running in pod '
                              f'{pod["metadata"]["name"]}')
        return found[-1]

    def _pod_ip(self, ws: WebSocket) -> str:
        pod = self._pod(ws)
        sandboxes = [c for c in self.containers(pod["metadata"]["uid"])
                     if c.sandbox and c.running]
        if not sandboxes:
            raise StreamError(f'pod {pod["metadata"]["name"]} has no running sandbox')
        return sandboxes[-1].ip or "127.0.0.1"  # no IP of its own: host network

    async def _refuse(self, ws: WebSocket, e: Exception, code: int) -> None:
        await ws.send_denial_response(PlainTextResponse(str(e), status_code=code))

    # -- exec and attach ----------------------------------------------------------------
    async def exec(self, ws: WebSocket) -> None:
        q = ws.query_params
        tty, stdin = _flag(q, "tty"), _flag(q, "stdin")
        try:
            inst = self._running(ws)
            command = q.getlist("command")
            if not command:
                raise StreamError("you must specify at least one command for the container")
            exec_id, (reader, writer) = await self.runtime.exec_open(
                inst.id, command, stdin=stdin, tty=tty)
        except (StreamError, hijack.HijackError) as e:
            return await self._refuse(ws, e, e.code)

        async def resize(w: int, h: int) -> None:
            await self.runtime.resize(exec_id, exec_session=True, width=w, height=h)

        async def final() -> int:
            return int(await self.runtime.exec_exit_code(exec_id))
        await self._session(ws, reader, writer, tty, resize, final)

    async def attach(self, ws: WebSocket) -> None:
        q = ws.query_params
        try:
            inst = self._running(ws)
            tty, stdin_once, (reader, writer) = await self.runtime.attach_open(
                inst.id, stdin=_flag(q, "stdin"))
        except (StreamError, hijack.HijackError) as e:
            return await self._refuse(ws, e, e.code)

        async def resize(w: int, h: int) -> None:
            await self.runtime.resize(inst.id, exec_session=False, width=w, height=h)

        async def final() -> int:
            return 0
        # the client's end of stdin ends the container's only with stdinOnce, as upstream;
        # otherwise the container keeps its stdin (Docker would end the whole attach)
        await self._session(ws, reader, writer, tty and _flag(q, "tty"), resize, final,
                            pass_eof=stdin_once)

    async def _session(self, ws: WebSocket, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, tty: bool,
                       resize: Callable[[int, int], Awaitable[None]],
                       final: Callable[[], Awaitable[int]], *, pass_eof: bool = True) -> None:
        offered = ws.scope.get("subprotocols") or []
        await ws.accept(subprotocol=next((p for p in EXEC_PROTOCOLS if p in offered), None))
        inbound = asyncio.create_task(self._from_client(ws, writer, resize, pass_eof))
        try:
            await self._to_client(ws, reader, tty)
            await ws.send_bytes(bytes([ERROR]) + status_of(await final()))
            await ws.close()
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass  # the API server went away: nothing left to tell
        finally:
            inbound.cancel()
            writer.close()

    async def _to_client(self, ws: WebSocket, reader: asyncio.StreamReader, tty: bool) -> None:
        demux = hijack.Demux()
        while chunk := await reader.read(READ):
            if tty:
                await ws.send_bytes(bytes([STDOUT]) + chunk)
                continue
            for kind, data in demux.feed(chunk):
                await ws.send_bytes(bytes([STDERR if kind == 2 else STDOUT]) + data)

    async def _from_client(self, ws: WebSocket, writer: asyncio.StreamWriter,
                           resize: Callable[[int, int], Awaitable[None]],
                           pass_eof: bool) -> None:
        try:
            while True:
                data = await ws.receive_bytes()
                if not data:
                    continue
                if data[0] == STDIN:
                    writer.write(data[1:])
                    await writer.drain()
                elif data[0] == RESIZE:
                    size = json.loads(data[1:] or b"{}")
                    await resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                elif data[0] == CLOSE and data[1:2] == bytes([STDIN]) and pass_eof and \
                        writer.can_write_eof():
                    writer.write_eof()
        except (WebSocketDisconnect, RuntimeError, ConnectionError, ValueError):
            writer.close()  # the client went: the process's stdin ends with it

    # -- port-forward -------------------------------------------------------------------
    async def port_forward(self, ws: WebSocket) -> None:
        try:
            ports, ip = ports_of(ws.query_params), self._pod_ip(ws)
        except StreamError as e:
            return await self._refuse(ws, e, e.code)
        await ws.accept(subprotocol=PORTFORWARD_PROTOCOL)
        pod = ws.path_params["pod"]
        writers: dict[int, asyncio.StreamWriter] = {}
        try:
            for i, port in enumerate(ports):
                for channel in (2 * i, 2 * i + 1):
                    await ws.send_bytes(bytes([channel]) + struct.pack("<H", port))
            pumps = []
            for i, port in enumerate(ports):
                try:
                    reader, writers[2 * i] = await asyncio.open_connection(ip, port,
                                                                           limit=READ * 4)
                except OSError as e:
                    await ws.send_bytes(bytes([2 * i + 1]) + (
                        f"error forwarding port {port} to pod {pod}: "
                        f"{e.strerror or e}").encode())
                    continue
                pumps.append(asyncio.create_task(self._pump(ws, 2 * i, reader)))
            inbound = asyncio.create_task(self._port_input(ws, writers))
            await asyncio.gather(*pumps)
            inbound.cancel()
            await ws.close()
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
        finally:
            for w in writers.values():
                w.close()

    async def _pump(self, ws: WebSocket, channel: int, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(READ):
                await ws.send_bytes(bytes([channel]) + chunk)
        except ConnectionError:
            pass

    async def _port_input(self, ws: WebSocket, writers: dict[int, asyncio.StreamWriter]) -> None:
        try:
            while True:
                data = await ws.receive_bytes()
                if not data:
                    continue
                channel = data[0]
                if channel == CLOSE and len(data) > 1 and data[1] in writers:
                    if writers[data[1]].can_write_eof():
                        writers[data[1]].write_eof()
                    continue
                writer = writers.get(channel)
                if writer is None:  # a port whose connection failed, or no such channel
                    continue
                writer.write(data[1:])
                await writer.drain()
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            for w in writers.values():
                w.close()
