"""The scheduler's cache: nodes and the pods on them, kept up to date from informer events.

It owns NodeInfo per node (requests summed incrementally, so a cycle costs O(nodes),
not O(pods)), and the "assumed" pods: a pod is added to its chosen node as soon as the
cycle picks it, before the binding lands, so the next cycle already counts it; the
informer's view of the bound pod then confirms it, a failed binding forgets it.

Cycles run synchronously between awaits, so the cache itself is the cycle's snapshot.
It never does I/O and never mutates informer objects.
"""

from __future__ import annotations

from typing import Any

from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

Obj = dict[str, Any]


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.node_list: list[NodeInfo] = []   # stable order for the round-robin start
        self.pod_node: dict[str, str] = {}    # pod key -> node name (assumed ones too)
        self.assumed: set[str] = set()
        self._orphans: dict[str, dict[str, PodInfo]] = {}  # pods on nodes not (yet) seen
        self.anti_affinity_count = 0          # pods with required anti-affinity

    # -- nodes ---------------------------------------------------------------------------
    def add_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is not None:
            info.set_node(node)
            return info
        info = self.nodes[name] = NodeInfo(node)
        self.node_list.append(info)
        for p in self._orphans.pop(name, {}).values():
            info.add_pod(p)
        return info

    update_node = add_node

    def remove_node(self, name: str) -> None:
        info = self.nodes.pop(name, None)
        if info is None:
            return
        self.node_list.remove(info)
        if info.pods:
            self._orphans[name] = dict(info.pods)

    # -- pods ----------------------------------------------------------------------------
    def add_pod(self, pod: Obj) -> None:
        """A pod the informer shows bound to a node (new, updated, or confirming an
        assumed pod)."""
        info = PodInfo.of(pod)
        self._remove(info.key)
        self.assumed.discard(info.key)
        self._place(info, pod["spec"]["nodeName"])

    def remove_pod(self, key: str) -> None:
        self._remove(key)
        self.assumed.discard(key)

    def assume(self, info: PodInfo, node_name: str) -> None:
        self._remove(info.key)
        self.assumed.add(info.key)
        self._place(info, node_name)

    def forget(self, key: str) -> None:
        """A binding failed: take the assumed pod off its node."""
        if key in self.assumed:
            self.remove_pod(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    def _place(self, info: PodInfo, node_name: str) -> None:
        self.pod_node[info.key] = node_name
        if info.anti_affinity:
            self.anti_affinity_count += 1
        node = self.nodes.get(node_name)
        if node is not None:
            node.add_pod(info)
        else:
            self._orphans.setdefault(node_name, {})[info.key] = info

    def _remove(self, key: str) -> None:
        node_name = self.pod_node.pop(key, None)
        if node_name is None:
            return
        node = self.nodes.get(node_name)
        removed = node.remove_pod(key) if node is not None else \
            self._orphans.get(node_name, {}).pop(key, None)
        if removed is not None and removed.anti_affinity:
            self.anti_affinity_count -= 1
