"""The ResourceQuota controller: keeps every quota's status.hard equal to spec.hard and
status.used equal to a fresh recount of the namespace's objects.

The API server's quota admission charges status.used as it admits; this controller is
what releases usage (deletions, pods that finished) and corrects what admission charged
for writes that then failed. It recounts a quota when the quota changes, when an object
of a namespace with quotas is deleted (or a pod finishes, or a Service changes type),
and every RESYNC seconds. It lists what it counts through the API at the time of the
recount (not from a cache that may lag behind admission's charges) and writes status
with the quota's resourceVersion, so a charge made meanwhile is never overwritten.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from runtime.client import resources as res
from runtime.client.resources import GVR
from runtime.client.rest import ApiError
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.discovery import discover
from runtime.controllers.resourcequota import scopes
from runtime.controllers.resourcequota.usage import count, quantity_text, resource_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RESOURCEQUOTAS = GVR("", "v1", "resourcequotas", "ResourceQuota")
# quota names that count objects rather than what they request
OBJECT_COUNTS = frozenset({"resourcequotas", "configmaps", "secrets", "services",
                           "replicationcontrollers", "persistentvolumeclaims"})
RESYNC = 30.0  # seconds between recounts of a quota when nothing tells us to look
# deleting one of these releases quota at once; anything else counted waits for RESYNC
WATCHED = (res.PODS, res.SERVICES, res.CONFIGMAPS, res.SECRETS, res.REPLICATIONCONTROLLERS,
           res.PVCS, res.DEPLOYMENTS, res.REPLICASETS, res.STATEFULSETS, res.DAEMONSETS,
           res.JOBS, res.CRONJOBS)


class ResourceQuotaController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.client = ctx.client
        self.now = ctx.clock
        self.quotas = ctx.informers.get(RESOURCEQUOTAS)
        self.gvrs: dict[tuple[str, str], GVR] = {(g.group, g.resource): g
                                                  for g in (*WATCHED, RESOURCEQUOTAS)}
        self.controller = Controller("resourcequota", self.reconcile, workers=2)
        self.quotas.add_handler(self._on_quota)
        for gvr in WATCHED:
            ctx.informers.get(gvr).add_handler(self._on_object)

    def _on_quota(self, event: str, old: Obj | None, new: Obj | None) -> None:
        """A new quota or a changed spec; status changes (admission's charges among them)
        wait for the resync, as upstream's controller ignores them: a recount racing a
        charge for an object not stored yet would hand the charge back too early."""
        if event == "update" and old is not None and new is not None and \
                (old.get("spec") or {}) == (new.get("spec") or {}):
            return
        if new is not None:
            self.controller.enqueue(new)

    def _on_object(self, event: str, old: Obj | None, new: Obj | None) -> None:
        """Recount the namespace's quotas when usage may have gone down."""
        if event == "update" and not _usage_may_change(old, new):
            return
        if event == "add":
            return  # admission charged it already
        ns = (new or old or {}).get("metadata", {}).get("namespace")
        for quota in self.quotas.by_index("namespace", ns or ""):
            self.controller.enqueue(quota)

    async def reconcile(self, key: str) -> float | None:
        quota = self.quotas.get(key)
        if quota is None:
            return None
        try:
            quota = await self.client.get(RESOURCEQUOTAS, quota["metadata"]["name"],
                                          quota["metadata"]["namespace"])
        except ApiError as e:
            if e.not_found:
                return None
            raise
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used = await self._recount(quota, hard)
        status = quota.get("status") or {}
        if status.get("hard") != hard or status.get("used") != used:
            quota["status"] = {"hard": hard, "used": used}
            await self.client.update_status(RESOURCEQUOTAS, quota)
        return RESYNC

    async def _recount(self, quota: Obj, hard: dict[str, str]) -> dict[str, str]:
        ns = quota["metadata"]["namespace"]
        wanted: dict[tuple[str, str], list[str]] = {}
        for name in hard:
            wanted.setdefault(resource_of(name), []).append(name)
        used: dict[str, str] = {}
        for (group, resource), names in wanted.items():
            gvr = await self._gvr(group, resource)
            items = [] if gvr is None else (await self.client.list(gvr, ns))["items"]
            for o in items:
                o.setdefault("kind", gvr.kind if gvr else "")
            items = [o for o in items if scopes.covers(quota, resource, group, o)]
            totals = count(items, self.now())
            for name in names:
                counted = name.startswith("count/") or name in OBJECT_COUNTS
                amount = Decimal(len(items)) if counted else totals.get(name, Decimal(0))
                used[name] = quantity_text(amount, hard[name])
        return used

    async def _gvr(self, group: str, resource: str) -> GVR | None:
        """The path of a resource counted by name: a known one, else from discovery."""
        if (group, resource) not in self.gvrs:
            found = await discover(self.client)
            for r in found.resources:
                if r.preferred and r.gvr.namespaced:
                    self.gvrs.setdefault((r.gvr.group, r.gvr.resource), r.gvr)
        return self.gvrs.get((group, resource))


def _usage_may_change(old: Obj | None, new: Obj | None) -> bool:
    """A pod that finished or is being deleted, a Service or claim whose spec changed."""
    if old is None or new is None:
        return True
    if "containers" in (new.get("spec") or {}):
        return (old.get("status") or {}).get("phase") != (new.get("status") or {}).get(
            "phase") or bool(new["metadata"].get("deletionTimestamp"))
    spec = new.get("spec") or {}
    service_or_claim = any(k in spec for k in ("ports", "type", "accessModes", "resources"))
    return service_or_claim and (old.get("spec") or {}) != spec
