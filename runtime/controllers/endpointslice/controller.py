"""The EndpointSlice controller (upstream pkg/controller/endpointslice) and the
EndpointSlice mirroring controller (pkg/controller/endpointslicemirroring).

The first keeps the slices of every Service with a selector equal to what its pods
give; the second copies hand-written Endpoints of selector-less Services into slices
(unless labelled endpointslice.kubernetes.io/skip-mirror=true). Each touches only the
slices whose managed-by label names it; deleting the owner is left to the garbage
collector through the ownerReference, as upstream.

API clients only: reads from shared informer caches (never mutated), writes through
the REST client. The data work is slices.py.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from runtime.client.informer import Informer
from runtime.client.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, split_key
from runtime.controllers.common import endpointpods as ep
from runtime.controllers.common import wiring
from runtime.controllers.context import ControllerContext
from runtime.controllers.endpoints.controller import enqueue_services_of_pods
from runtime.controllers.endpointslice import slices
from runtime.util.meta import labels_of, meta

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BY_SERVICE = "by-service"


def _slice_index(s: Obj) -> list[str]:
    name = labels_of(s).get(ep.SERVICE_NAME_LABEL)
    return [f"{meta(s).get('namespace')}/{name}"] if name else []


def _owned(informer: Informer, key: str, manager: str) -> list[Obj]:
    return [s for s in informer.by_index(BY_SERVICE, key)
            if labels_of(s).get(ep.MANAGED_BY_LABEL) == manager]


async def apply(client: Client, p: slices.SlicePlan) -> None:
    for s in p.update:
        await client.update(ENDPOINTSLICES, s)
    for s in p.create:
        await client.create(ENDPOINTSLICES, s, s["metadata"]["namespace"])
    for s in p.delete:
        try:
            await client.delete(ENDPOINTSLICES, meta(s)["name"], meta(s).get("namespace"))
        except ApiError as e:
            if not e.not_found:
                raise


def _enqueue_slice_owner(controller: Controller, manager: str) -> Callable[..., None]:
    def handler(event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is not None and labels_of(obj).get(ep.MANAGED_BY_LABEL) == manager:
            for key in _slice_index(obj):
                controller.enqueue(key)
    return handler


def _slices(ctx: ControllerContext) -> Informer:
    """The shared EndpointSlice informer, indexed by the Service a slice belongs to."""
    informer = ctx.informers.get(ENDPOINTSLICES)
    informer.add_index(BY_SERVICE, _slice_index)
    return informer


class EndpointSliceController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.services = self.own_kind(ctx, SERVICES, "endpointslice",
                                      ctx.options.endpoints_workers)
        self.pods = ctx.informers.get(PODS)
        self.slices = _slices(ctx)
        enqueue_services_of_pods(self.pods, self.services, self.controller)
        self.slices.add_handler(_enqueue_slice_owner(self.controller, slices.CONTROLLER))

    async def reconcile(self, key: str) -> float | None:
        ns, _ = split_key(key)
        service = self.services.get(key)
        existing = _owned(self.slices, key, slices.CONTROLLER)
        if service is None or not ep.has_selector(service):
            # the garbage collector removes them with a deleted Service; a Service that
            # lost its selector keeps none of ours
            if service is not None and existing:
                await apply(self.client, slices.SlicePlan(delete=existing))
            return None
        wanted = slices.chunk(slices.service_groups(service, self.pods.list(ns)))
        if not wanted:
            wanted = [([], [])]  # upstream keeps one empty placeholder slice
        await apply(self.client, slices.plan(wanted, existing,
                                             slices.service_template(service)))
        return None


class EndpointSliceMirroringController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.services = self.own_kind(ctx, SERVICES, "endpointslicemirroring",
                                      ctx.options.endpoints_workers)
        self.endpoints = ctx.informers.get(ENDPOINTS)
        self.slices = _slices(ctx)
        wiring.enqueue_objects(self.endpoints, self.controller)
        self.slices.add_handler(_enqueue_slice_owner(self.controller,
                                                     slices.MIRROR_CONTROLLER))

    async def reconcile(self, key: str) -> float | None:
        service = self.services.get(key)
        endpoints = self.endpoints.get(key)
        existing = _owned(self.slices, key, slices.MIRROR_CONTROLLER)
        mirror = (service is not None and not ep.has_selector(service)
                  and endpoints is not None
                  and labels_of(endpoints).get(ep.SKIP_MIRROR_LABEL) != "true")
        if not mirror:
            if existing:
                await apply(self.client, slices.SlicePlan(delete=existing))
            return None
        assert endpoints is not None
        wanted = slices.chunk(slices.endpoints_groups(endpoints))
        await apply(self.client, slices.plan(wanted, existing,
                                             slices.mirror_template(endpoints)))
        return None
