"""NodePorts: a pod's host ports must be free on the node (same protocol and port, and
the same host IP or either side on 0.0.0.0).

Pure; never does I/O.
"""

from __future__ import annotations

from runtime.scheduler.framework import SKIP, SUCCESS, CycleState, Status, unschedulable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

REASON = "node(s) didn't have free ports for the requested pod ports"
ANY = "0.0.0.0"


class NodePorts:
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return SUCCESS if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.ports:
            return None
        for proto, ip, port in pod.host_ports:
            for uproto, uip, uport in node.ports:
                if uport == port and uproto == proto and (ip == uip or ANY in (ip, uip)):
                    return unschedulable(self.name, REASON)
        return None
