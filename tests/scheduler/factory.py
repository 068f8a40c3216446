"""Plain-dict nodes and pods for scheduler unit tests (no server)."""

from __future__ import annotations

from typing import Any

from runtime.scheduler.cache import SchedulerCache
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

Obj = dict[str, Any]


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
         labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
         unschedulable: bool = False) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    spec: Obj = {"taints": taints} if taints else {}
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "spec": spec, "status": {"allocatable": alloc, "capacity": alloc}}


def pod(name: str, *, ns: str = "default", cpu: str | None = None,
        memory: str | None = None, labels: dict[str, str] | None = None,
        node_name: str | None = None, **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: Obj = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    body: Obj = {"containers": [container], **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}",
                         "labels": labels or {}},
            "spec": body, "status": {"phase": "Pending"}}


def info(p: Obj) -> PodInfo:
    return PodInfo.of(p)


def cluster(*nodes: Obj, pods: tuple[Obj, ...] = ()) -> SchedulerCache:
    cache = SchedulerCache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(p)
    return cache


def node_info(n: Obj, *pods: Obj) -> NodeInfo:
    ni = NodeInfo(n)
    for p in pods:
        ni.add_pod(PodInfo.of(p))
    return ni
