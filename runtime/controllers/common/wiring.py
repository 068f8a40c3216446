"""Informer events to work-queue keys, and the owner-indexed informers of dependents:
the wiring owner controllers share.

A controller of a kind (ReplicaSet, Job, StatefulSet, ...) reconciles one object per
key; its own kind's events queue the object itself, and a dependent's events (a pod, a
job, a revision) queue the dependent's controlling owner when that owner is of the
controller's kind, read from the new object first and else the old one (a release or a
delete still wakes the former owner).

Owns only that wiring; handlers run inside the informer's dispatch, so they never block,
never do I/O and never mutate the objects they are given (those are cache entries).
"""

from __future__ import annotations

from typing import Any

from runtime.client.events import EventRecorder
from runtime.client.informer import Informer, InformerFactory
from runtime.client.resources import GVR
from runtime.client.rest import Client
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.podcontrol import ensure_owner_index, owner_key
from runtime.controllers.context import ControllerContext

Obj = dict[str, Any]


def dependents(informers: InformerFactory, gvr: GVR) -> Informer:
    """The shared informer of a dependent kind, indexed by controlling owner (what
    podcontrol.owned_by reads); the index is added once, whichever controller asks."""
    informer = informers.get(gvr)
    ensure_owner_index(informer)
    return informer


def enqueue_objects(informer: Informer, controller: Controller) -> None:
    """Queue each object of the informer's kind when it is added, changed or deleted."""
    informer.add_handler(lambda event, old, new: controller.enqueue(new or old or {}))


def owner_of(kind: str, old: Obj | None, new: Obj | None) -> str | None:
    """The key of the `kind` object controlling a dependent: its new controller, else its
    old one; None when neither is a `kind`."""
    return owner_key(new, kind) or owner_key(old, kind)


def enqueue_owners(informer: Informer, controller: Controller, kind: str) -> None:
    """Queue a dependent's controlling `kind` owner on each of the dependent's events."""
    def handler(event: str, old: Obj | None, new: Obj | None) -> None:
        key = owner_of(kind, old, new)
        if key is not None:
            controller.enqueue(key)

    informer.add_handler(handler)



class KindController(Reconciler):
    """A controller reconciling one kind's objects by key (a DaemonSet, Job, CronJob or
    StatefulSet; a Service for the endpoints controllers), with the context, API client
    and event recorder at hand."""

    ctx: ControllerContext
    client: Client
    recorder: EventRecorder

    def own_kind(self, ctx: ControllerContext, gvr: GVR, name: str, workers: int) -> Informer:
        """The start each such constructor shares: the context, client and recorder, the
        Controller (`name`, `workers`, reconciling with self.reconcile), and the informer
        of the controller's own kind, each of whose events queues the object; returns
        that informer."""
        self.ctx, self.client, self.recorder = ctx, ctx.client, ctx.recorder
        self.controller = Controller(name, self.reconcile, workers=workers)
        informer = ctx.informers.get(gvr)
        enqueue_objects(informer, self.controller)
        return informer

    async def reconcile(self, key: str) -> float | None:
        raise NotImplementedError
