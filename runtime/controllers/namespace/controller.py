"""The namespace controller: empties a Terminating namespace, then finalizes it.

For a namespace with a deletionTimestamp it deletes every namespaced resource in it
(every resource discovery lists with the delete verb; deletecollection where served,
else one DELETE per object, both in the background; pods first, and the rest only once
no pod is left, as upstream's ordered deletion), reports progress in the
namespace's deletion conditions (upstream's types, reasons and messages), looks again
until nothing is left, and then removes the "kubernetes" finalizer through
PUT .../finalize, after which the API server removes the namespace. It never touches
an Active namespace and never deletes the namespace object itself while the
"kubernetes" finalizer is present.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from runtime.client.resources import GVR, NAMESPACES, PODS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.discovery import Discovery, discover
from runtime.util.clock import seconds
from runtime.util.times import format_time as _fmt

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FINALIZER = "kubernetes"
CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining",
                   "NamespaceFinalizersRemaining")
OK = {  # type -> (reason, message) when nothing is wrong, as upstream
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers",
                                     "All content-preserving finalizers finished"),
}
DISCOVERY_TTL = 10.0


# -- pure: what a deletion pass found, as conditions --------------------------------------
@dataclass
class DeletionReport:
    discovery_failures: dict[str, str] = field(default_factory=dict)  # groupVersion -> error
    delete_errors: list[str] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)  # "resource.group" -> count
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> count

    @property
    def empty(self) -> bool:
        return not self.remaining and not self.delete_errors and not self.discovery_failures

    def count(self, gvr: GVR, items: list[Obj]) -> None:
        if items:
            self.remaining[f"{gvr.resource}.{gvr.group}"] = len(items)
        for o in items:
            for f in o["metadata"].get("finalizers") or []:
                self.finalizers[f] = self.finalizers.get(f, 0) + 1


def failed_conditions(report: DeletionReport) -> dict[str, tuple[str, str]]:
    """type -> (reason, message) for every condition that is True (failing)."""
    out: dict[str, tuple[str, str]] = {}
    if report.discovery_failures:
        groups = ", ".join(f"{k}: {v}" for k, v in sorted(report.discovery_failures.items()))
        out["NamespaceDeletionDiscoveryFailure"] = (
            "DiscoveryFailed",
            f"Discovery failed for some groups, {len(report.discovery_failures)} failing: {groups}")
    if report.delete_errors:
        errs = sorted(report.delete_errors)
        out["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(errs)} remaining: {', '.join(errs)}")
    if report.remaining:
        items = sorted(f"{k} has {n} resource instances" for k, n in report.remaining.items())
        out["NamespaceContentRemaining"] = (
            "SomeResourcesRemain", f"Some resources are remaining: {', '.join(items)}")
    if report.finalizers:
        items = sorted(f"{k} in {n} resource instances" for k, n in report.finalizers.items())
        out["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: "
                                    f"{', '.join(items)}")
    return out


def updated_conditions(current: list[Obj], report: DeletionReport, now: str) -> list[Obj] | None:
    """The namespace's conditions after this pass; None if nothing changed."""
    failing = failed_conditions(report)
    out = [dict(c) for c in current]
    changed = False
    for ctype in CONDITION_TYPES:
        status, (reason, message) = ("True", failing[ctype]) if ctype in failing else ("False", OK[ctype])
        old = next((c for c in out if c.get("type") == ctype), None)
        if old is None:
            out.append({"type": ctype, "status": status, "lastTransitionTime": now,
                        "reason": reason, "message": message})
            changed = True
        elif (old.get("status"), old.get("reason"), old.get("message")) != (status, reason, message):
            if old.get("status") != status:
                old["lastTransitionTime"] = now
            old.update(status=status, reason=reason, message=message)
            changed = True
    return out if changed else None


def pods_first(resources: list[Any]) -> list[Any]:
    """Upstream's ordered namespace deletion (KEP-5080, on by default since 1.33): pods
    are deleted first, and nothing else is touched while one remains, so a pod never
    outlives the ConfigMaps, Secrets or service account it runs with."""
    return sorted(resources, key=lambda r: r.gvr != PODS)


def items_left(report: DeletionReport, gvr: GVR) -> bool:
    return f"{gvr.resource}.{gvr.group}" in report.remaining


def requeue_delay(report: DeletionReport, attempt: int) -> float:
    """Look again soon while content drains, backing off for content held by finalizers."""
    base, cap = (2.0, 15.0) if report.finalizers else (0.5, 5.0)
    return float(min(base * 1.5 ** min(attempt, 10), cap))


# -- the controller -----------------------------------------------------------------------
class NamespaceController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.seconds = seconds(ctx.clock)
        self.client: Client = ctx.client
        self.informer = ctx.informers.get(NAMESPACES)
        self.controller = Controller("namespace", self.reconcile, workers=2)
        self.informer.add_handler(self._on_event)
        self._discovery: tuple[float, Discovery] | None = None
        self._passes: dict[str, int] = {}

    def _on_event(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event != "delete" and new is not None and new["metadata"].get("deletionTimestamp"):
            self.controller.enqueue(new["metadata"]["name"])

    async def reconcile(self, name: str) -> float | None:
        try:
            ns = await self.client.get(NAMESPACES, name)
        except ApiError as e:
            if e.not_found:
                self._passes.pop(name, None)
                return None
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None  # finalized by us; another finalizer's owner has the rest
        report = await self._delete_content(name)
        await self._write_conditions(ns, report)
        if not report.empty:
            n = self._passes[name] = self._passes.get(name, 0) + 1
            return requeue_delay(report, n)
        self._passes.pop(name, None)
        await self._finalize(ns)
        return None

    async def _resources(self) -> Discovery:
        now = self.seconds()
        if self._discovery is None or now - self._discovery[0] > DISCOVERY_TTL:
            self._discovery = (now, await discover(self.client))
        return self._discovery[1]

    async def _delete_content(self, ns: str) -> DeletionReport:
        d = await self._resources()
        report = DeletionReport(discovery_failures=dict(d.failed))
        for r in pods_first(d.resources):
            if not r.preferred or not r.gvr.namespaced or "delete" not in r.verbs:
                continue
            try:
                items = await self._delete_all(r.gvr, ns, "deletecollection" in r.verbs)
                report.count(r.gvr, items)
            except ApiError as e:
                if e.code in (404, 405):
                    continue  # not really served here
                report.delete_errors.append(f"{r.gvr.resource}.{r.gvr.group}: {e.message or e}")
            if r.gvr == PODS and items_left(report, PODS):
                break  # ordered deletion: the rest waits until every pod is gone
        return report

    async def _delete_all(self, gvr: GVR, ns: str, collection: bool) -> list[Obj]:
        """Delete everything of one resource in ns; return what is still there."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        items = (await self.client.list(gvr, ns)).get("items") or []
        if not items:
            return []
        if collection:
            await self.client.request("DELETE", gvr.path(ns), body=body)
        else:
            for o in items:
                if not o["metadata"].get("deletionTimestamp"):
                    try:
                        await self.client.delete(gvr, o["metadata"]["name"], ns,
                                                 propagation_policy="Background")
                    except ApiError as e:
                        if not e.not_found:
                            raise
        return (await self.client.list(gvr, ns)).get("items") or []

    async def _write_conditions(self, ns: Obj, report: DeletionReport) -> None:
        now = _fmt(self.ctx.clock())
        status = ns.get("status") or {}
        conds = updated_conditions(status.get("conditions") or [], report, now)
        if conds is None and status.get("phase") == "Terminating":
            return
        new = copy.deepcopy(ns)
        new["status"] = dict(status, phase="Terminating",
                             conditions=conds if conds is not None else status.get("conditions"))
        try:
            await self.client.update_status(NAMESPACES, new)
        except ApiError as e:
            if not (e.conflict or e.not_found):
                raise
            log.debug("namespace %s: status not written: %s", ns["metadata"]["name"], e)

    async def _finalize(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        for _ in range(5):
            fins = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": ns["metadata"],
                    "spec": dict(ns.get("spec") or {}, finalizers=fins)}
            try:
                await self.client.request("PUT", NAMESPACES.path(None, name, "finalize"), body=body)
                log.info("namespace %s finalized", name)
                return
            except ApiError as e:
                if e.not_found:
                    return
                if not e.conflict:
                    raise
            ns = await self.client.get(NAMESPACES, name)
        raise RuntimeError(f"namespace {name}: finalize kept conflicting")


