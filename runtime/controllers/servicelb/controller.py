"""The service load balancer controller (k3s's servicelb, without its per-node pods):
a Service of type LoadBalancer gets the InternalIP of every Ready node as its ingress
addresses, so it is reachable on its node ports there instead of pending forever. The
`kapi proxy` on each node programs those node ports.

An API client only: reads the Service and Node caches (never mutated), writes
status.loadBalancer through the status subresource. Other Service types are left alone
unless they still carry ingress addresses this controller wrote.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime.client.resources import NODES, SERVICES
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.objects import patch_status_if_changed
from runtime.controllers.context import ControllerContext

Obj = dict[str, Any]


def node_address(node: Mapping[str, Any]) -> str | None:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP" and a.get("address"):
            return str(a["address"])
    return None


def node_ready(node: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def ingress(service: Mapping[str, Any], nodes: list[Obj]) -> list[Obj]:
    """The status.loadBalancer.ingress a Service should have (sorted, deduplicated)."""
    spec = service.get("spec") or {}
    if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass"):
        return []
    ips = sorted({ip for n in nodes if node_ready(n) for ip in [node_address(n)] if ip})
    return [{"ip": ip, "ipMode": "VIP"} for ip in ips]


class ServiceLBController(Reconciler):
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.services = ctx.informers.get(SERVICES)
        self.nodes = ctx.informers.get(NODES)
        self.controller = Controller("servicelb", self.reconcile, workers=1)
        self.services.add_handler(self._on_service)
        self.nodes.add_handler(self._on_node)

    def _on_service(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None:
            self.controller.enqueue(new)

    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if (old and node_address(old), old and node_ready(old)) == (
                new and node_address(new), new and node_ready(new)):
            return
        for svc in self.services.list():
            if (svc.get("spec") or {}).get("type") == "LoadBalancer":
                self.controller.enqueue(svc)

    async def reconcile(self, key: str) -> float | None:
        svc = self.services.get(key)
        if svc is None:
            return None
        wanted = ingress(svc, self.nodes.list())
        current = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if (svc.get("spec") or {}).get("type") != "LoadBalancer" and not current:
            return None
        lb: Obj = {"ingress": wanted} if wanted else {}
        await patch_status_if_changed(self.client, SERVICES, svc, {"loadBalancer": lb})
        return None
