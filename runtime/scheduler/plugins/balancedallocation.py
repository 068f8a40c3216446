"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in
similar fractions after placing the pod (score = (1 - std of the fractions) * 100).

Pure: reads PodInfo/NodeInfo sums only; never does I/O.
"""

from __future__ import annotations

from runtime.scheduler.framework import MAX_NODE_SCORE, CycleState
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"
    weight = 1

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if node.alloc_cpu <= 0 or node.alloc_memory <= 0:
            return 0
        cpu = min((node.nz_cpu + pod.nz_cpu) / node.alloc_cpu, 1.0)
        mem = min((node.nz_memory + pod.nz_memory) / node.alloc_memory, 1.0)
        std = abs(cpu - mem) / 2  # the standard deviation of two values
        return int((1 - std) * MAX_NODE_SCORE)
