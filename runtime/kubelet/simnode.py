"""The Node and Lease documents a simulated (kwok-like) node registers and heartbeats.

Pure builders: names, fake addresses (127.0.x.y host IPs that nothing routes to, and a
per-node 10.x.y.0/24 pod range), capacity, labels and the upstream kubelet's condition
reasons. They must never do I/O or read a clock (callers pass `now` as RFC 3339).
"""

from __future__ import annotations

import platform
import uuid
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

KUBELET_VERSION = "v1.33.0"
SIMULATED_ANNOTATION = "sim.kapi.dev/simulated"
PAUSED_ANNOTATION = "sim.kapi.dev/paused"  # "true": the node stops heartbeating

_CONDITIONS = (  # type, status, reason, message: as the upstream kubelet reports them
    ("MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def _arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m or "amd64")


@dataclass(frozen=True)
class NodeShape:
    capacity: dict[str, str] = field(default_factory=lambda: {
        "cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti",
        "hugepages-1Gi": "0", "hugepages-2Mi": "0"})
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()


def host_ip(index: int) -> str:
    """127.0.a.b, a in 1.., b in 1..254: loopback-ish, never used to route traffic."""
    return f"127.0.{1 + index // 254}.{1 + index % 254}"


def pod_ip_prefix(index: int) -> str:
    """Each node's pods get 10.(128+i/256).(i%256).2-254 (up to 32768 nodes)."""
    return f"10.{128 + index // 256}.{index % 256}."


def node_document(name: str, index: int, shape: NodeShape, now: str, *,
                  port: int = 10250) -> Obj:
    arch = _arch()
    labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
              "kubernetes.io/arch": arch, "kubernetes.io/hostname": name,
              "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "kapi-sim",
              **shape.labels}
    cidr = pod_ip_prefix(index) + "0/24"
    spec: Obj = {"podCIDR": cidr, "podCIDRs": [cidr]}
    if shape.taints:
        spec["taints"] = [dict(t) for t in shape.taints]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {SIMULATED_ANNOTATION: "true",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": spec,
            "status": node_status(name, index, shape, now, transition=now, port=port)}


def node_status(name: str, index: int, shape: NodeShape, now: str, *,
                transition: str, port: int = 10250) -> Obj:
    ident = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.kapi-sim"))
    return {
        "capacity": dict(shape.capacity), "allocatable": dict(shape.capacity),
        "conditions": conditions(now, transition),
        "addresses": [{"type": "InternalIP", "address": host_ip(index)},
                      {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {"machineID": ident.replace("-", ""), "systemUUID": ident,
                     "bootID": ident, "kernelVersion": platform.release(),
                     "osImage": "kapi simulated node", "operatingSystem": "linux",
                     "architecture": _arch(), "containerRuntimeVersion": "kapi-sim://1.0.0",
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION},
        "images": [],
    }


def conditions(now: str, transition: str) -> list[Obj]:
    return [{"type": t, "status": s, "reason": r, "message": m, "lastHeartbeatTime": now,
             "lastTransitionTime": transition} for t, s, r, m in _CONDITIONS]


def status_conditions_patch(node: Obj | None, now: str) -> Obj:
    """A merge patch of status.conditions; a condition that was not already at the
    healthy status (e.g. Ready=Unknown set by the node lifecycle controller) gets a new
    lastTransitionTime."""
    old = {c.get("type"): c for c in ((node or {}).get("status") or {}).get("conditions") or []}
    out = []
    for c in conditions(now, now):
        prev = old.get(c["type"])
        if prev and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            c["lastTransitionTime"] = prev["lastTransitionTime"]
        out.append(c)
    return {"status": {"conditions": out}}


def lease_document(name: str, node_uid: str, duration: int, now_micro: str) -> Obj:
    meta: Obj = {"name": name, "namespace": "kube-node-lease"}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name,
                                    "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": name, "leaseDurationSeconds": duration,
                     "renewTime": now_micro}}
