"""Kinds whose PUT may create the object (upstream: endpoints, events, leases): they are
written by components that keep a record up to date without caring whether it exists.

Events are served twice, as core/v1 and as events.k8s.io/v1 (stored as core/v1), each
with its own printer; they may be recorded in a namespace being deleted.
"""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import Resource
from kapi.printers import coordination as coordination_printers
from kapi.printers import core as core_printers
from kapi.printers import events as events_printers
from kapi.printers.common import Printer
from kapi.registry.kinds.base import CORE, Strategy, row


class EventStrategy(Strategy):
    def printer(self, r: Resource) -> Printer | None:
        return events_printers.EVENT_V1 if r.group == "events.k8s.io" else core_printers.EVENT


ENDPOINTS = Strategy(
    row("", "v1", "endpoints", "Endpoints", CORE, short_names=("ep",)),
    printer=core_printers.ENDPOINTS, defaulter=defaults.endpoints, allow_create_on_update=True)

EVENTS = EventStrategy(
    row("", "v1", "events", "Event", CORE, short_names=("ev",),
        field_selectors=("involvedObject.kind", "involvedObject.namespace",
                         "involvedObject.name", "involvedObject.uid",
                         "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source",
                         "type")),
    row("events.k8s.io", "v1", "events", "Event", "io.k8s.api.events.v1", short_names=("ev",),
        storage_group="", storage_version="v1",
        field_selectors=("regarding.kind", "regarding.namespace", "regarding.name",
                         "regarding.uid", "reason", "reportingController", "type")),
    allow_create_on_update=True, create_in_terminating_namespace=True)

LEASES = Strategy(
    row("coordination.k8s.io", "v1", "leases", "Lease", "io.k8s.api.coordination.v1"),
    printer=coordination_printers.LEASE, allow_create_on_update=True)
