"""NodeResourcesFit: the pod's requests must fit the node's allocatable resources minus
the requests of the pods already there (assumed ones included), and one more pod must
fit the node's pod count. Its score prefers the least allocated nodes (cpu and memory,
upstream's LeastAllocated strategy with equal weights), which spreads load.

Pure: reads PodInfo/NodeInfo sums only; never does I/O.
"""

from __future__ import annotations

from runtime.scheduler.framework import MAX_NODE_SCORE, SUCCESS, CycleState, Status, unschedulable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesFit"


class NodeResourcesFit:
    name = NAME
    weight = 1

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if (len(node.pods) < node.alloc_pods and node.cpu + pod.cpu <= node.alloc_cpu
                and node.memory + pod.memory <= node.alloc_memory
                and node.ephemeral + pod.ephemeral <= node.alloc_ephemeral and not pod.scalar):
            return None  # the common case, without building a list
        reasons = insufficient(pod, node)
        return unschedulable(NAME, *reasons) if reasons else None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return (_least(node.nz_cpu + pod.nz_cpu, node.alloc_cpu)
                + _least(node.nz_memory + pod.nz_memory, node.alloc_memory)) // 2


def insufficient(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Upstream's reasons, in its order: Too many pods, then cpu, memory, storage, others."""
    reasons = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append("Too many pods")
    if pod.cpu and node.cpu + pod.cpu > node.alloc_cpu:
        reasons.append("Insufficient cpu")
    if pod.memory and node.memory + pod.memory > node.alloc_memory:
        reasons.append("Insufficient memory")
    if pod.ephemeral and node.ephemeral + pod.ephemeral > node.alloc_ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name, want in sorted(pod.scalar.items()):
        if want and node.scalar.get(name, 0) + want > node.alloc_scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def _least(requested: int, allocatable: int) -> int:
    if allocatable <= 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable
