"""The metrics scraper: what metrics-server does for a cluster, inside the API server.

Every `resolution` seconds (15 s by default, `--metric-resolution`) it asks the kubelet
of every node for `GET /stats/summary` (runtime/kubelet/stats.py; simulated fleets
answer through runtime/kubelet/simstats.py), at most `concurrency` at once, each within
`timeout`, and keeps the latest round in memory. metrics.k8s.io reads
(kapi/endpoints/metrics.py) are served from that round, so a read costs a few dict
lookups, never a kubelet round trip, however many nodes or autoscalers there are.

As with metrics-server, a round replaces the previous one whole: a node whose kubelet
did not answer (or answered without figures) is absent until it answers again, and so
are its pods. Several API servers each scrape for themselves.

It owns the scrape loop, its HTTP client and the figures; it never writes to the API,
never raises out of its loop, and knows nothing of Docker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import httpx

from kapi import errors
from kapi.endpoints.podlog import kubelet_url

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PodKey = tuple[str, str, str]  # (namespace, name, uid)


@dataclass(frozen=True)
class Round:
    """One scrape of every node: node name -> its summary's `node` entry, and
    (namespace, name, uid) -> a pod's summary entry."""

    nodes: dict[str, Obj] = field(default_factory=dict)
    pods: dict[PodKey, Obj] = field(default_factory=dict)
    at: float = 0.0  # monotonic time the round finished; 0: none yet


def fold(summaries: list[tuple[str, Obj | None]], at: float) -> Round:
    """(node name, its summary or None) -> a Round; pods are keyed by their podRef."""
    nodes: dict[str, Obj] = {}
    pods: dict[PodKey, Obj] = {}
    for name, summary in summaries:
        if not summary:
            continue
        nodes[name] = summary.get("node") or {}
        for entry in summary.get("pods") or []:
            ref = entry.get("podRef") or {}
            pods[(ref.get("namespace", ""), ref.get("name", ""), ref.get("uid", ""))] = entry
    return Round(nodes, pods, at)


class Scraper:
    """`list_nodes()` returns the Node objects to scrape (the API's own list)."""

    def __init__(self, *, list_nodes: Callable[[], Awaitable[list[Obj]]],
                 resolution: float = 15.0, concurrency: int = 32,
                 timeout: float | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.list_nodes, self.resolution = list_nodes, resolution
        # metrics-server's bound (90% of the resolution: a round ends before the next is
        # due), but never under 5 s, which a busy kubelet may need at a 1 s resolution
        self.timeout = timeout if timeout is not None else max(resolution * 0.9, 5.0)
        self.concurrency, self.transport = concurrency, transport
        self.latest = Round()
        self.rounds = 0
        self._first = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="metrics-scraper")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def current(self, wait: float = 0.0) -> Round:
        """The latest round; before the first one has finished, wait up to `wait`
        seconds for it (a read right after start-up then sees figures)."""
        if not self._first.is_set() and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first.wait(), wait)
        return self.latest

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.scrape()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop outlives any one round (e.g. the store stopping)
                log.exception("metrics: a scrape round failed")
            await asyncio.sleep(max(self.resolution - (time.monotonic() - started), 0.0))

    async def scrape(self) -> Round:
        """Scrape every node once, concurrently (at most `concurrency` at once)."""
        nodes = await self.list_nodes()
        slots = asyncio.Semaphore(self.concurrency)

        async def one(node: Obj) -> tuple[str, Obj | None]:
            async with slots:
                return node["metadata"]["name"], await self._fetch(node)
        summaries = await asyncio.gather(*(one(n) for n in nodes))
        self.latest = fold(list(summaries), time.monotonic())
        self.rounds += 1
        self._first.set()
        return self.latest

    async def _fetch(self, node: Obj) -> Obj | None:
        try:
            url = kubelet_url(node) + "/stats/summary"
        except errors.APIError:  # a node that publishes no kubelet endpoint (yet)
            return None
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, pool=None),
                limits=httpx.Limits(max_connections=self.concurrency,
                                    max_keepalive_connections=self.concurrency),
                transport=self.transport)
        try:
            r = await self._http.get(url)
            if r.status_code == 200:
                body = r.json()
                return body if isinstance(body, dict) else None
            log.debug("metrics: %s answered %s", url, r.status_code)
        except (httpx.HTTPError, ValueError) as e:
            log.debug("metrics: %s: %r", url, e)
        return None
