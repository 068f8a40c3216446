"""What the scheduler knows about a pod (PodInfo) and a node (NodeInfo), precomputed once.

PodInfo parses a pod's requests, host ports and affinity terms when the pod is first
seen, so a scheduling cycle never re-reads the pod's dicts per node. NodeInfo keeps a
node's allocatable resources and the running sum of requests of the pods on it,
maintained incrementally by the cache. Neither does I/O; neither mutates the dicts it
was built from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from runtime.scheduler import quantity
from runtime.util.selectors import LabelMatcher, label_selector

Obj = dict[str, Any]

DEFAULT_CPU_MILLI = 100            # upstream's non-zero request used for scoring
DEFAULT_MEMORY = 200 * 1024 * 1024
_CORE = ("cpu", "memory", "ephemeral-storage", "pods")


@dataclass(frozen=True)
class AffinityTerm:
    matches: LabelMatcher
    namespaces: frozenset[str]   # empty with all_namespaces False: the pod's own namespace
    all_namespaces: bool
    topology_key: str

    def selects(self, other: PodInfo) -> bool:
        if not (self.all_namespaces or other.namespace in self.namespaces):
            return False
        return self.matches(other.labels)


def affinity_term(t: Obj, own_ns: str) -> AffinityTerm:
    """A v1.PodAffinityTerm of a pod in namespace `own_ns`."""
    namespaces = frozenset(t.get("namespaces") or ())
    ns_sel = t.get("namespaceSelector")
    all_ns = ns_sel is not None and not ns_sel.get("matchLabels") and not ns_sel.get(
        "matchExpressions")
    if not namespaces and ns_sel is None:
        namespaces = frozenset((own_ns,))
    return AffinityTerm(label_selector(t.get("labelSelector")), namespaces, all_ns,
                        t.get("topologyKey", ""))


def _requests(c: Obj) -> dict[str, str]:
    res = c.get("resources") or {}
    return {**(res.get("limits") or {}), **(res.get("requests") or {})}


def pod_requests(spec: Obj) -> dict[str, int]:
    """Effective requests: max(sum of containers and sidecars, each init container), plus
    overhead. cpu in millicores, others in base units."""
    total: Counter[str] = Counter()
    for c in (spec.get("containers") or []) + [
            i for i in spec.get("initContainers") or [] if i.get("restartPolicy") == "Always"]:
        for name, q in _requests(c).items():
            total[name] += quantity.milli(q) if name == "cpu" else quantity.value(q)
    for i in spec.get("initContainers") or []:
        if i.get("restartPolicy") == "Always":
            continue
        for name, q in _requests(i).items():
            v = quantity.milli(q) if name == "cpu" else quantity.value(q)
            total[name] = max(total[name], v)
    for name, q in (spec.get("overhead") or {}).items():
        total[name] += quantity.milli(q) if name == "cpu" else quantity.value(q)
    return dict(total)


def _non_zero(spec: Obj) -> tuple[int, int]:
    cpu = mem = 0
    for c in spec.get("containers") or []:
        r = _requests(c)
        cpu += quantity.milli(r["cpu"]) if "cpu" in r else DEFAULT_CPU_MILLI
        mem += quantity.value(r["memory"]) if "memory" in r else DEFAULT_MEMORY
    return cpu, mem


@dataclass(eq=False)
class PodInfo:
    pod: Obj
    key: str
    uid: str
    namespace: str
    labels: dict[str, str]
    cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    scalar: dict[str, int] = field(default_factory=dict)
    nz_cpu: int = 0
    nz_memory: int = 0
    host_ports: tuple[tuple[str, str, int], ...] = ()
    affinity: tuple[AffinityTerm, ...] = ()
    anti_affinity: tuple[AffinityTerm, ...] = ()
    priority: int = 0

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns = meta.get("namespace", "")
        req = pod_requests(spec)
        pa = (spec.get("affinity") or {}).get("podAffinity") or {}
        paa = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
        required = "requiredDuringSchedulingIgnoredDuringExecution"
        ports = tuple((p.get("protocol", "TCP"), p.get("hostIP", "") or "0.0.0.0",
                       int(p["hostPort"]))
                      for c in spec.get("containers") or [] for p in c.get("ports") or []
                      if p.get("hostPort"))
        nz_cpu, nz_mem = _non_zero(spec)
        return cls(pod, f"{ns}/{meta['name']}", meta.get("uid", ""), ns,
                   dict(meta.get("labels") or {}), req.get("cpu", 0), req.get("memory", 0),
                   req.get("ephemeral-storage", 0),
                   {k: v for k, v in req.items() if k not in _CORE}, nz_cpu, nz_mem, ports,
                   tuple(affinity_term(t, ns) for t in pa.get(required) or []),
                   tuple(affinity_term(t, ns) for t in paa.get(required) or []),
                   int(spec.get("priority") or 0))


class NodeInfo:
    """A node and the pods on it (assumed ones included), with running request sums."""

    __slots__ = ("name", "node", "labels", "taints", "unschedulable", "alloc_cpu",
                 "alloc_memory", "alloc_pods", "alloc_ephemeral", "alloc_scalar", "cpu",
                 "memory", "ephemeral", "scalar", "nz_cpu", "nz_memory", "pods", "ports",
                 "anti_affinity_pods")

    def __init__(self, node: Obj) -> None:
        self.cpu = self.memory = self.ephemeral = self.nz_cpu = self.nz_memory = 0
        self.scalar: Counter[str] = Counter()
        self.pods: dict[str, PodInfo] = {}
        self.ports: Counter[tuple[str, str, int]] = Counter()
        self.anti_affinity_pods: dict[str, PodInfo] = {}
        self.set_node(node)

    def set_node(self, node: Obj) -> None:
        self.node, self.name = node, node["metadata"]["name"]
        self.labels: dict[str, str] = node["metadata"].get("labels") or {}
        spec = node.get("spec") or {}
        self.taints: list[Obj] = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        alloc = (node.get("status") or {}).get("allocatable") or {}
        self.alloc_cpu = quantity.milli(alloc.get("cpu", 0))
        self.alloc_memory = quantity.value(alloc.get("memory", 0))
        self.alloc_pods = quantity.value(alloc.get("pods", 0))
        self.alloc_ephemeral = quantity.value(alloc.get("ephemeral-storage", 0))
        self.alloc_scalar = {k: quantity.value(v) for k, v in alloc.items() if k not in _CORE}

    def add_pod(self, p: PodInfo) -> None:
        self.pods[p.key] = p
        self._account(p, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        p = self.pods.pop(key, None)
        if p is not None:
            self._account(p, -1)
        return p

    def _account(self, p: PodInfo, sign: int) -> None:
        self.cpu += sign * p.cpu
        self.memory += sign * p.memory
        self.ephemeral += sign * p.ephemeral
        self.nz_cpu += sign * p.nz_cpu
        self.nz_memory += sign * p.nz_memory
        for k, v in p.scalar.items():
            self.scalar[k] += sign * v
        for port in p.host_ports:
            self.ports[port] += sign
            if self.ports[port] <= 0:
                del self.ports[port]
        if p.anti_affinity:
            if sign > 0:
                self.anti_affinity_pods[p.key] = p
            else:
                self.anti_affinity_pods.pop(p.key, None)
