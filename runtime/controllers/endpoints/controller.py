"""The Endpoints controller (upstream pkg/controller/endpoint): keeps the Endpoints
object of every Service that has a selector equal to plan.desired(), and deletes it
with its Service. Services without a selector keep hand-written Endpoints untouched.

An API client only: reads come from shared informer caches (never mutated), writes go
through the REST client. Which pods count and how is plan.py's business.
"""

from __future__ import annotations

import logging
from typing import Any

from runtime.client.informer import Informer
from runtime.client.resources import ENDPOINTS, PODS, SERVICES
from runtime.client.rest import ApiError
from runtime.controllers.base import Controller, split_key
from runtime.controllers.common import endpointpods, wiring
from runtime.controllers.context import ControllerContext
from runtime.controllers.endpoints import plan
from runtime.util.meta import meta

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class EndpointsController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.services = self.own_kind(ctx, SERVICES, "endpoints", ctx.options.endpoints_workers)
        self.pods = ctx.informers.get(PODS)
        self.endpoints = ctx.informers.get(ENDPOINTS)
        enqueue_services_of_pods(self.pods, self.services, self.controller)
        self.endpoints.add_handler(self._on_endpoints)

    def _on_endpoints(self, event: str, old: Obj | None, new: Obj | None) -> None:
        # someone else changed or deleted Endpoints we manage: put them back (those of a
        # Service without selector, or of none yet, are the user's)
        obj = new if new is not None else old
        if obj is None or event == "add":
            return
        service = self.services.get(f"{meta(obj).get('namespace')}/{meta(obj)['name']}")
        if service is not None and endpointpods.has_selector(service):
            self.controller.enqueue(obj)

    async def reconcile(self, key: str) -> float | None:
        ns, name = split_key(key)
        service = self.services.get(key)
        current = self.endpoints.get(key)
        if service is None:
            if current is not None:  # upstream deletes the Service's Endpoints with it
                await _delete(self.client, name, ns)
            return None
        if not endpointpods.has_selector(service):
            return None
        wanted = plan.desired(service, self.pods.list(ns), current)
        if not plan.differs(current, wanted):
            return None
        if current is None:
            wanted["metadata"].pop("resourceVersion", None)
            await self.client.create(ENDPOINTS, wanted, ns)
        else:
            await self.client.update(ENDPOINTS, wanted)
        return None


async def _delete(client: Any, name: str, ns: str | None) -> None:
    try:
        await client.delete(ENDPOINTS, name, ns)
    except ApiError as e:
        if not e.not_found:
            raise


def enqueue_services_of_pods(pods: Informer, services: Informer,
                             controller: Controller) -> None:
    """On each pod event, queue the Services whose selector matches the pod before or
    after the change."""
    def handler(event: str, old: Obj | None, new: Obj | None) -> None:
        for key in services_of_pod(services, old, new):
            controller.enqueue(key)

    pods.add_handler(handler)


def services_of_pod(services: Any, old: Obj | None, new: Obj | None) -> set[str]:
    """Keys of the Services whose selector matches the pod before or after a change."""
    keys: set[str] = set()
    for pod in (old, new):
        if pod is None:
            continue
        ns = meta(pod).get("namespace")
        for svc in services.list(ns):
            if endpointpods.has_selector(svc) and endpointpods.selected_pods(svc, [pod]):
                keys.add(f"{ns}/{meta(svc)['name']}")
    return keys
