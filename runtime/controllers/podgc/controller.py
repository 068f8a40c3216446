"""Pod garbage collection: pods bound to nodes that no longer exist.

As upstream's PodGC "orphaned pods" pass: once a node has been gone for the quarantine
time (option "podgc_quarantine", upstream 40 s) and a live read confirms it, every pod
still bound to it is force-deleted (grace 0) — no kubelet is left to finish them.
It never touches pods on nodes that exist; the node lifecycle controller evicts those.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from runtime.client.resources import NODES, PODS
from runtime.client.rest import ApiError
from runtime.controllers.base import Controller, Reconciler
from runtime.util.clock import seconds

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class PodGCController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.client = ctx.client
        self.seconds = seconds(ctx.clock)
        self.quarantine = ctx.options.podgc_quarantine
        self.nodes = ctx.informers.get(NODES)
        self.pods = ctx.informers.get(PODS)
        self.pods.add_index("nodeName", lambda p: [(p.get("spec") or {}).get("nodeName") or ""])
        self.gone_since: dict[str, float] = {}
        self.controller = Controller("podgc", self.reconcile, workers=1)
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)

    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        if obj is not None:
            self.controller.enqueue(obj["metadata"]["name"])

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        node = ((new or {}).get("spec") or {}).get("nodeName")
        if event != "delete" and node and self.nodes.get(node) is None:
            self.controller.enqueue(node)

    async def reconcile(self, node: str) -> float | None:
        if self.nodes.get(node) is not None:
            self.gone_since.pop(node, None)
            return None
        if not self.pods.by_index("nodeName", node):
            self.gone_since.pop(node, None)
            return None
        since = self.gone_since.setdefault(node, self.seconds())
        wait = since + self.quarantine - self.seconds()
        if wait > 0:
            return wait
        try:
            await self.client.get(NODES, node)
            return None  # it exists after all: the informer is behind
        except ApiError as e:
            if not e.not_found:
                raise
        await asyncio.gather(*(self._force_delete(p) for p in self.pods.by_index("nodeName", node)))
        return None

    async def _force_delete(self, pod: Obj) -> None:
        meta = pod["metadata"]
        log.info("deleting pod %s/%s bound to missing node", meta.get("namespace"), meta["name"])
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"),
                                     grace_period_seconds=0,
                                     preconditions={"uid": meta.get("uid")})
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
