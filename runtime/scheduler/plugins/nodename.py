"""NodeName: a pod that names a node (spec.nodeName) fits only that node.

Pure; never does I/O.
"""

from __future__ import annotations

from runtime.scheduler.framework import SKIP, SUCCESS, CycleState, Status, unresolvable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return SUCCESS if (pod.pod.get("spec") or {}).get("nodeName") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        wanted = (pod.pod.get("spec") or {}).get("nodeName")
        return unresolvable(self.name, REASON) if wanted and wanted != node.name else None
