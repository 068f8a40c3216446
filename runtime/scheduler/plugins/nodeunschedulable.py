"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods, unless the
pod tolerates node.kubernetes.io/unschedulable:NoSchedule.

Pure; never does I/O.
"""

from __future__ import annotations

from runtime.scheduler.framework import CycleState, Status, unresolvable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo
from runtime.util.tolerations import tolerated

REASON = "node(s) were unschedulable"
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if tolerated(TAINT, (pod.pod.get("spec") or {}).get("tolerations") or []):
            return None
        return unresolvable(self.name, REASON)
