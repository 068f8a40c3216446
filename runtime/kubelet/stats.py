"""Resource usage of a node and its pods, served as the kubelet's `GET /stats/summary`
in the shape of upstream's Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1):
`node` and `pods[]`, each with `cpu` {time, usageNanoCores, usageCoreNanoSeconds} and
`memory` {time, usageBytes, workingSetBytes}, and per-container figures.

Two sources, one shape:
- `DockerStats` samples the node's running containers through the runtime's one-shot
  stats every `period` seconds (a container seen once is sampled again after a second,
  so a new pod has a rate quickly). CPU is the rate between the last two samples of the
  cumulative usage, in nanocores; memory is the working set, usage - inactive_file, as
  cAdvisor counts it. The node's figures are the sum of its containers (kapi nodes share
  one host; the host's own usage would say nothing about this node).
- `simulated_summary` reads the usage a pod's annotation `sim.kapi.dev/usage` declares
  (README: "Simulated usage"), for simulated nodes with thousands of pods.

This module owns the arithmetic and the document; it never writes to the API and never
touches containers of other nodes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.kubelet.cri import ContainerInfo
from runtime.scheduler import quantity

log = logging.getLogger(__name__)

Obj = dict[str, Any]
USAGE_ANNOTATION = "sim.kapi.dev/usage"
SUMMARY_PATH = "/stats/summary"


def _ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Sample:
    t: float            # epoch seconds
    cpu_ns: int         # cumulative CPU time, nanoseconds
    usage: int          # memory usage, bytes
    working_set: int    # usage - inactive_file, bytes


def sample_from_docker(doc: Obj, t: float) -> Sample:
    """A Docker stats document (cgroup v1 or v2) -> one sample."""
    cpu = int(((doc.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0)
    mem = doc.get("memory_stats") or {}
    usage = int(mem.get("usage") or 0)
    extra = mem.get("stats") or {}
    inactive = int(extra.get("inactive_file", extra.get("total_inactive_file", 0)) or 0)
    return Sample(t, cpu, usage, max(usage - inactive, 0))


def _figures(t: float, nanocores: int, core_ns: int, usage: int, working_set: int
             ) -> tuple[Obj, Obj]:
    ts = _ts(t)
    return ({"time": ts, "usageNanoCores": nanocores, "usageCoreNanoSeconds": core_ns},
            {"time": ts, "usageBytes": usage, "workingSetBytes": working_set})


def _sum(parts: Iterable[tuple[Obj, Obj]], t: float) -> tuple[Obj, Obj]:
    parts = list(parts)
    return _figures(t, sum(c["usageNanoCores"] for c, _ in parts),
                    sum(c["usageCoreNanoSeconds"] for c, _ in parts),
                    sum(m["usageBytes"] for _, m in parts),
                    sum(m["workingSetBytes"] for _, m in parts))


def pod_entry(pod: Obj, containers: list[Obj], t: float) -> Obj:
    meta = pod["metadata"]
    total = _sum(((c["cpu"], c["memory"]) for c in containers), t)
    return {"podRef": {"name": meta["name"], "namespace": meta.get("namespace", ""),
                       "uid": meta.get("uid", "")},
            "startTime": (pod.get("status") or {}).get("startTime", ""),
            "containers": containers, "cpu": total[0], "memory": total[1]}


def summary(node_name: str, start: str, pods: list[Obj], t: float) -> Obj:
    node = _sum(((p["cpu"], p["memory"]) for p in pods), t)
    return {"node": {"nodeName": node_name, "startTime": start, "cpu": node[0],
                     "memory": node[1]}, "pods": pods}


# -- Docker-backed nodes ------------------------------------------------------------------
class DockerStats:
    """Samples of the node's running containers, kept two per container (the rate's
    ends). `containers()` is the kubelet's last listing; `stats(id)` the runtime's
    one-shot stats document."""

    def __init__(self, *, containers: Callable[[], list[ContainerInfo]],
                 stats: Callable[[str], Any], clock: Callable[[], float],
                 period: float = 10.0) -> None:
        self.containers, self.stats, self.clock, self.period = containers, stats, clock, period
        self.samples: dict[str, tuple[Sample | None, Sample]] = {}

    async def sample(self) -> None:
        running = [c for c in self.containers() if c.running and not c.sandbox]
        docs = await asyncio.gather(*(self.stats(c.id) for c in running),
                                    return_exceptions=True)
        now = self.clock()
        fresh: dict[str, tuple[Sample | None, Sample]] = {}
        for c, doc in zip(running, docs, strict=True):
            if isinstance(doc, BaseException) or not doc:
                continue  # gone meanwhile: the next listing drops it
            prev = self.samples.get(c.id)
            fresh[c.id] = (prev[1] if prev else None, sample_from_docker(doc, now))
        self.samples = fresh

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as e:  # the engine went away for a moment: try again
                log.warning("stats: sampling failed: %r", e)
            young = any(prev is None for prev, _ in self.samples.values())
            await asyncio.sleep(min(self.period, 1.0) if young else self.period)

    def container_entry(self, c: ContainerInfo) -> Obj | None:
        prev, last = self.samples.get(c.id, (None, None))
        if prev is None or last is None or last.t <= prev.t:
            return None  # one sample is no rate yet
        nanocores = max(int((last.cpu_ns - prev.cpu_ns) / (last.t - prev.t)), 0)
        cpu, mem = _figures(last.t, nanocores, last.cpu_ns, last.usage, last.working_set)
        return {"name": c.name, "startTime": c.started_at, "cpu": cpu, "memory": mem}

    def summary(self, node_name: str, start: str, pods: Iterable[Obj],
                containers_of: Callable[[str], list[ContainerInfo]]) -> Obj:
        entries = []
        for pod in pods:
            found = [self.container_entry(c) for c in containers_of(pod["metadata"]["uid"])
                     if c.running and not c.sandbox]
            wanted = [e for e in found if e is not None]
            if wanted:
                entries.append(pod_entry(pod, wanted, self.clock()))
        return summary(node_name, start, entries, self.clock())


# -- simulated nodes ----------------------------------------------------------------------
def declared_usage(pod: Obj) -> dict[str, tuple[int, int]]:
    """Container name -> (nanocores, bytes) from the usage annotation: either one usage
    for every container, {"cpu": "250m", "memory": "64Mi"}, or one per container,
    {"app": {"cpu": "250m"}, "sidecar": {...}}. Unreadable input declares nothing."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(USAGE_ANNOTATION)
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]

    def usage(d: Any) -> tuple[int, int]:
        d = d if isinstance(d, dict) else {}
        return (int(quantity.parse(str(d.get("cpu", "0"))) * 10**9),
                quantity.value(str(d.get("memory", "0"))))
    if "cpu" in doc or "memory" in doc:
        return {n: usage(doc) for n in names}
    return {n: usage(doc[n]) for n in names if n in doc}


def _running(pod: Obj) -> set[str]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return {s.get("name", "") for s in statuses if "running" in (s.get("state") or {})}


def simulated_summary(node_name: str, start: str, pods: Iterable[Obj], t: float) -> Obj:
    """The summary of a simulated node: its running pods' declared usage (a pod that
    declares none uses nothing)."""
    entries = []
    for pod in pods:
        running = _running(pod)
        if not running or (pod.get("status") or {}).get("phase") != "Running":
            continue
        declared = declared_usage(pod)
        containers = []
        for name in sorted(running):
            nanocores, mem = declared.get(name, (0, 0))
            cpu, memory = _figures(t, nanocores, nanocores, mem, mem)
            containers.append({"name": name, "startTime": start, "cpu": cpu,
                               "memory": memory})
        entries.append(pod_entry(pod, containers, t))
    return summary(node_name, start, entries, t)


def route(summary_of: Callable[[Request], Obj | None]) -> Route:
    """`GET /stats/summary`, answered by `summary_of(request)` (None: 404)."""
    async def stats_summary(request: Request) -> Response:
        doc = summary_of(request)
        if doc is None:
            return Response("no such node here", status_code=404, media_type="text/plain")
        return JSONResponse(doc)
    return Route(SUMMARY_PATH, stats_summary)
