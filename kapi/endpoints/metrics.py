"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics, as metrics-server serves them.

Where the figures come from: each node's kubelet serves `GET /stats/summary`
(runtime/kubelet/stats.py; simulated fleets through runtime/kubelet/simstats.py) at the
endpoint its Node publishes; kapi/endpoints/scraper.py asks every kubelet each
`--metric-resolution` seconds (15 s by default), as metrics-server does, and this module
answers from its latest round. A read lists the pods or nodes it concerns from the API's
own objects (label and field selectors, uid checks: a pod deleted or recreated since the
round is never shown with another's figures), then looks their figures up in memory.
Upstream serves the group from metrics-server, an aggregated API server; kapi serves it
itself (registered as a local APIService) so that a cluster needs no extra component.

Served: list and get of `nodes` (label selectors) and of `pods` (one namespace or all,
label and field selectors); a pod or node whose kubelet does not answer, or that has no
figures yet, is left out of lists and is NotFound on get, as with metrics-server.
The group is listed in discovery (plain and aggregated) by kapi/app.py through the
documents below. This module never stores anything, never asks a kubelet itself and
knows nothing of Docker.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from kapi import errors
from kapi.endpoints import params
from kapi.endpoints.scraper import PodKey, Round, Scraper
from kapi.meta.resources import Resource

Obj = dict[str, Any]
GROUP, VERSION = "metrics.k8s.io", "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
NODE_METRICS = Resource(GROUP, VERSION, "nodes", "NodeMetrics", namespaced=False,
                        verbs=("get", "list"))
POD_METRICS = Resource(GROUP, VERSION, "pods", "PodMetrics", verbs=("get", "list"))
RESOURCES = (NODE_METRICS, POD_METRICS)
WINDOW = "10s"  # the kubelets' sampling period (runtime/kubelet/stats.py)

Lookup = Callable[..., Awaitable[Obj]]


def cpu_quantity(nanocores: int) -> str:
    return f"{nanocores}n" if nanocores else "0"


def memory_quantity(size: int) -> str:
    """Bytes as metrics-server's BinarySI quantities print: the largest exact Ki/Mi/Gi."""
    for suffix, factor in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def _usage(entry: Obj) -> Obj:
    cpu, mem = entry.get("cpu") or {}, entry.get("memory") or {}
    return {"cpu": cpu_quantity(int(cpu.get("usageNanoCores") or 0)),
            "memory": memory_quantity(int(mem.get("workingSetBytes") or 0))}


def _has_figures(entry: Obj) -> bool:
    return "usageNanoCores" in (entry.get("cpu") or {}) and \
        "workingSetBytes" in (entry.get("memory") or {})


def node_metrics(node: Obj, entry: Obj, now: str) -> Obj | None:
    """A Node and its summary's `node` entry -> NodeMetrics (None: no figures)."""
    if not _has_figures(entry):
        return None
    meta = node["metadata"]
    return {"metadata": {"name": meta["name"], "creationTimestamp": now,
                         "labels": dict(meta.get("labels") or {})},
            "timestamp": (entry.get("cpu") or {}).get("time", now), "window": WINDOW,
            "usage": _usage(entry)}


def pod_metrics(pod: Obj, entry: Obj, now: str) -> Obj | None:
    containers = [c for c in entry.get("containers") or [] if _has_figures(c)]
    if not containers:
        return None
    meta = pod["metadata"]
    return {"metadata": {"name": meta["name"], "namespace": meta.get("namespace", ""),
                         "creationTimestamp": now, "labels": dict(meta.get("labels") or {})},
            "timestamp": (entry.get("cpu") or {}).get("time", now), "window": WINDOW,
            "containers": [{"name": c["name"], "usage": _usage(c)} for c in containers]}


def _list(kind: str, items: list[Obj]) -> Obj:
    return {"kind": f"{kind}List", "apiVersion": GROUP_VERSION, "metadata": {},
            "items": [{"kind": kind, "apiVersion": GROUP_VERSION} | i for i in items]}


class MetricsAPI:
    """`store_get(resource, namespace, name)` and `store_list(resource, namespace, opts)`
    read the API's own objects; `rows` maps "pods"/"nodes" to their core/v1 rows. The
    figures come from `scraper` (kapi/endpoints/scraper.py): `start()` starts its loop."""

    def __init__(self, *, store_get: Lookup, store_list: Lookup, rows: Mapping[str, Resource],
                 now: Callable[[], str], resolution: float = 15.0,
                 concurrency: int = 32) -> None:
        self.store_get, self.store_list, self.rows, self.now = store_get, store_list, rows, now
        self.scraper = Scraper(list_nodes=self._all_nodes, resolution=resolution,
                               concurrency=concurrency)

    def start(self) -> None:
        self.scraper.start()

    async def close(self) -> None:
        await self.scraper.close()

    async def _all_nodes(self) -> list[Obj]:
        nodes_r = self.rows["nodes"]
        return list((await self.store_list(nodes_r, None, params.list_options(nodes_r, {}))
                     )["items"])

    async def _round(self) -> Round:
        # a read right after start-up waits for the first round rather than see nothing
        return await self.scraper.current(wait=self.scraper.timeout)

    async def serve(self, verb: str, resource: str, namespace: str, name: str,
                    query: Mapping[str, str]) -> Obj:
        r = NODE_METRICS if resource == "nodes" else POD_METRICS
        if verb not in ("get", "list"):
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        if r is NODE_METRICS:
            return await (self._get_node(name) if name else self._list_nodes(query))
        return await (self._get_pod(namespace, name) if name else
                      self._list_pods(namespace, query))

    # -- nodes ----------------------------------------------------------------------------
    async def _list_nodes(self, query: Mapping[str, str]) -> Obj:
        nodes_r = self.rows["nodes"]
        nodes = (await self.store_list(nodes_r, None, params.list_options(nodes_r, query))
                 )["items"]
        figures, now = (await self._round()).nodes, self.now()
        items = [node_metrics(n, figures[n["metadata"]["name"]], now) for n in nodes
                 if n["metadata"]["name"] in figures]
        return _list("NodeMetrics", [i for i in items if i])

    async def _get_node(self, name: str) -> Obj:
        node = await self._or_not_found(self.rows["nodes"], None, name, NODE_METRICS)
        entry = (await self._round()).nodes.get(name)
        item = node_metrics(node, entry, self.now()) if entry is not None else None
        if item is None:
            raise _not_found("nodemetrics", name)
        return {"kind": "NodeMetrics", "apiVersion": GROUP_VERSION} | item

    # -- pods -----------------------------------------------------------------------------
    async def _list_pods(self, namespace: str, query: Mapping[str, str]) -> Obj:
        pods_r = self.rows["pods"]
        pods = (await self.store_list(pods_r, namespace or None,
                                      params.list_options(pods_r, query)))["items"]
        entries, now = (await self._round()).pods, self.now()
        items = [pod_metrics(p, entries[_key(p)], now) for p in pods if _key(p) in entries]
        return _list("PodMetrics", [i for i in items if i])

    async def _get_pod(self, namespace: str, name: str) -> Obj:
        pod = await self._or_not_found(self.rows["pods"], namespace, name, POD_METRICS)
        entry = (await self._round()).pods.get(_key(pod))
        item = pod_metrics(pod, entry, self.now()) if entry is not None else None
        if item is None:
            raise _not_found("podmetrics", f"{namespace}/{name}")
        return {"kind": "PodMetrics", "apiVersion": GROUP_VERSION} | item

    async def _or_not_found(self, r: Resource, namespace: str | None, name: str,
                            metrics_r: Resource) -> Obj:
        try:
            return await self.store_get(r, namespace, name)
        except errors.NotFound:
            if metrics_r is POD_METRICS:
                raise _not_found("podmetrics", f"{namespace}/{name}") from None
            raise _not_found("nodemetrics", name) from None


def _not_found(kind: str, name: str) -> errors.NotFound:
    """metrics-server's wording: `podmetrics.metrics.k8s.io "ns/name" not found`."""
    return errors.NotFound(f'{kind}.{GROUP} "{name}" not found',
                           details={"name": name, "group": GROUP, "kind": kind})


def _key(pod: Obj) -> PodKey:
    meta = pod["metadata"]
    return meta.get("namespace", ""), meta["name"], meta.get("uid", "")


# -- discovery documents ----------------------------------------------------------------
def _resource_entry(r: Resource) -> Obj:
    return {"name": r.resource, "singularName": "", "namespaced": r.namespaced,
            "kind": r.kind, "verbs": list(r.verbs)}


def group_entry() -> Obj:
    v = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [v], "preferredVersion": v}


def api_group() -> Obj:
    return {"kind": "APIGroup", "apiVersion": "v1"} | group_entry()


def resource_list() -> Obj:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [_resource_entry(r) for r in RESOURCES]}


def aggregated_item() -> Obj:
    """The group's entry in an aggregated discovery document (apidiscovery v2/v2beta1)."""
    resources = [{"resource": r.resource,
                  "responseKind": {"group": GROUP, "version": VERSION, "kind": r.kind},
                  "scope": "Namespaced" if r.namespaced else "Cluster",
                  "singularResource": r.resource[:-1],
                  "verbs": list(r.verbs)} for r in RESOURCES]
    return {"metadata": {"name": GROUP, "creationTimestamp": None},
            "versions": [{"version": VERSION, "resources": resources,
                          "freshness": "Current"}]}
