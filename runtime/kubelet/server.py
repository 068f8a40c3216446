"""The kubelet's own HTTP API, served on the endpoint its Node publishes
(status.addresses InternalIP, daemonEndpoints.kubeletEndpoint.Port).

It serves `GET /containerLogs/{namespace}/{pod}/{container}` with upstream's query
parameters (follow, tailLines, sinceSeconds, sinceTime, timestamps, previous,
limitBytes), `/healthz` and `/pods` (the node's pods, a PodList; `node_routes`, which
simulated nodes serve too); the API server forwards `pods/log` and `nodes/proxy` here,
and `pods/exec`, `pods/attach` and `pods/portforward` to the WebSockets of
runtime/kubelet/streams.py.
It owns the mapping from a pod and container name to the container instance whose
output is wanted; it never writes to the API and never touches containers of other
nodes. There is no authentication yet (see the README).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from runtime.kubelet import podsync
from runtime.kubelet.cri import ContainerInfo
from runtime.kubelet.streams import Streams

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class LogError(Exception):
    """A request the kubelet cannot answer; `code` is the HTTP status to send."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _int(q: Any, name: str) -> int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise LogError(f"invalid {name}: {raw!r}") from None


def since_epoch(q: Any, now: float) -> float | None:
    seconds = _int(q, "sinceSeconds")
    if seconds is not None:
        return now - seconds
    raw = q.get("sinceTime")
    if raw:
        try:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise LogError(f"invalid sinceTime: {raw!r}") from None
    return None


def pick_instance(pod: Obj, containers: list[ContainerInfo], name: str,
                  previous: bool) -> ContainerInfo:
    """The container instance whose logs are asked for (upstream's messages)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    init = any(c["name"] == name for c in spec.get("initContainers") or [])
    if not init and not any(c["name"] == name for c in spec.get("containers") or []):
        raise LogError(f'container {name} is not valid for pod {meta["name"]}')
    insts = podsync.instances(containers, name, init)
    if previous:
        if len(insts) < 2:
            raise LogError(f'previous terminated container "{name}" in pod '
                           f'"{meta["name"]}" not found')
        return insts[-2]
    if not insts:
        statuses = ((pod.get("status") or {}).get("initContainerStatuses" if init else
                                                   "containerStatuses") or [])
        waiting = next((((s.get("state") or {}).get("waiting") or {}).get("reason")
                        for s in statuses if s.get("name") == name), None)
        raise LogError(f'container "{name}" in pod "{meta["name"]}" is waiting to start: '
                       f'{waiting or "ContainerCreating"}')
    return insts[-1]


def node_routes(pods_of: Callable[[Request], list[Obj] | None]) -> list[Route]:
    """`/healthz` and `/pods` of the node the request reached; `pods_of(request)` is its
    pods, None when no node answers there (404)."""
    async def healthz(request: Request) -> Response:
        if pods_of(request) is None:
            return PlainTextResponse("no such node here", status_code=404)
        return PlainTextResponse("ok")

    async def pods(request: Request) -> Response:
        found = pods_of(request)
        if found is None:
            return PlainTextResponse("no such node here", status_code=404)
        return JSONResponse({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                             "items": found})
    return [Route("/healthz", healthz), Route("/pods", pods)]


def build_app(*, find_pod: Callable[[str, str], Obj | None],
              containers: Callable[[str], list[ContainerInfo]], runtime: Any,
              clock: Callable[[], float], pods: Callable[[], list[Obj]]) -> Starlette:
    async def container_logs(request: Request) -> Response:
        p = request.path_params
        try:
            pod = find_pod(p["namespace"], p["pod"])
            if pod is None:
                raise LogError(f'pod "{p["pod"]}" not found on this node', 404)
            q = request.query_params
            inst = pick_instance(pod, containers(pod["metadata"]["uid"]), p["container"],
                                 q.get("previous") in ("true", "1"))
            follow = q.get("follow") in ("true", "1") and inst.running
            out = await runtime.logs(inst.id, tail=_int(q, "tailLines"),
                                     since=since_epoch(q, clock()),
                                     timestamps=q.get("timestamps") in ("true", "1"),
                                     follow=follow)
        except LogError as e:
            return PlainTextResponse(str(e), status_code=e.code)
        limit = _int(q, "limitBytes")
        if not follow:
            return Response(out[:limit] if limit else out, media_type="text/plain")
        return StreamingResponse(_drain(runtime, out, limit), media_type="text/plain")

    return Starlette(routes=[
        Route("/containerLogs/{namespace}/{pod}/{container}", container_logs),
        *node_routes(lambda _: pods()),
        *Streams(find_pod=find_pod, containers=containers, runtime=runtime).routes()])


async def _drain(runtime: Any, stream: Any, limit: int | None) -> AsyncIterator[bytes]:
    """Chunks of a followed log until the container stops or the client goes away;
    closing the engine's stream unblocks the thread waiting on it."""
    sent = 0
    try:
        while True:
            chunk = await runtime.next_chunk(stream)
            if chunk is None:
                return
            if limit is not None:
                chunk = chunk[:max(limit - sent, 0)]
            sent += len(chunk)
            yield chunk
            if limit is not None and sent >= limit:
                return
    finally:
        stream.close()


async def serve(app: Starlette, host: str, port: int, stop: asyncio.Event) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    config.graceful_timeout = 1
    await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
