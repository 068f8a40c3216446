"""Nodes: cluster-scoped, registered by their kubelet together with their status (a
create keeps the status it was sent); nodes/proxy reaches the node's kubelet
(kapi/endpoints/proxysub.py)."""

from __future__ import annotations

from kapi.meta.resources import Subresource, status_of
from kapi.printers import core as core_printers
from kapi.registry.kinds.base import CORE, Obj, Strategy, row


class NodeStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        pass  # a kubelet registers its node with status


NODES = NodeStrategy(
    row("", "v1", "nodes", "Node", CORE, namespaced=False, short_names=("no",),
        subresources=(status_of("Node"), Subresource(
            "proxy", "NodeProxyOptions", verbs=("create", "delete", "get", "patch", "update"))),
        field_selectors=("spec.unschedulable",)),
    printer=core_printers.NODE)
