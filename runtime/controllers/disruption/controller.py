"""The disruption controller (upstream pkg/controller/disruption): keeps every
PodDisruptionBudget's status true, so that the eviction API can honour it.

For each budget it selects the pods in its namespace, works out how many are expected
(the scale of their Deployment, ReplicaSet or StatefulSet, or the pod count for an
integer minAvailable) and how many are healthy, and writes currentHealthy,
desiredHealthy, expectedPods, disruptionsAllowed, observedGeneration, disruptedPods
and the DisruptionAllowed condition through the status subresource. When it cannot
compute the status it writes the fail-safe (no disruption allowed, SyncFailed).

It also turns False a pod's DisruptionTarget condition that is still True two minutes
after it was set while the pod was not deleted (the eviction that announced it failed).

An API client only: reads come from shared informer caches (never mutated); the pure
arithmetic is budget.py. It never deletes or evicts anything itself.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any, Mapping

from runtime.client.resources import DEPLOYMENTS, PDBS, PODS, REPLICASETS, STATEFULSETS
from runtime.client.rest import ApiError
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.objects import resolve_ref
from runtime.controllers.context import ControllerContext
from runtime.controllers.disruption import budget
from runtime.util.meta import controller_ref, labels_of, meta
from runtime.util.selectors import label_selector
from runtime.util.times import format_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class DisruptionController(Reconciler):
    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx, self.client, self.recorder = ctx, ctx.client, ctx.recorder
        self.pdbs = ctx.informers.get(PDBS)
        self.pods = ctx.informers.get(PODS)
        self.replicasets = ctx.informers.get(REPLICASETS)
        self.deployments = ctx.informers.get(DEPLOYMENTS)
        self.statefulsets = ctx.informers.get(STATEFULSETS)
        self.controller = Controller("disruption", self.reconcile,
                                     workers=ctx.options.disruption_workers)
        # pods whose DisruptionTarget condition outlived the deletion it announced
        self.stale = Controller("disruption-stale-pods", self.clean_stale_disruption, workers=1)
        self.pdbs.add_handler(self._on_pdb)
        self.pods.add_handler(self._on_pod)

    def queues(self) -> tuple[Controller, ...]:
        return self.controller, self.stale

    # -- event handlers ---------------------------------------------------------------------
    def _on_pdb(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        if obj is not None and event != "delete":
            self.controller.enqueue(obj)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and event != "delete":
            wait = budget.stale_disruption_wait(new, self.ctx.clock())
            if wait is not None:
                self.stale.enqueue_after(f"{meta(new).get('namespace')}/{meta(new)['name']}", wait)
        for pod in (old, new):
            if pod is None:
                continue
            for pdb in self.pdbs.list(meta(pod).get("namespace")):
                if label_selector((pdb.get("spec") or {}).get("selector"))(labels_of(pod)):
                    self.controller.enqueue(pdb)

    # -- reconcile ----------------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return None
        now = self.ctx.clock()
        try:
            status, recheck = await self._sync(pdb, now)
        except ApiError as e:
            if e.conflict or e.not_found:
                raise
            await self._write(pdb, budget.fail_safe_status(pdb, str(e), now))
            raise
        except (LookupError, ValueError) as e:
            log.warning("disruption: %s: %s", key, e)
            await self._write(pdb, budget.fail_safe_status(pdb, str(e), now))
            return None
        if status is not None:
            await self._write(pdb, status)
        return recheck

    async def _sync(self, pdb: Obj, now: dt.datetime) -> tuple[Obj | None, float | None]:
        ns = meta(pdb).get("namespace")
        match = label_selector((pdb.get("spec") or {}).get("selector"))
        pods = [p for p in self.pods.list(ns) if match(labels_of(p))]
        if not pods:
            await self.recorder.normal(pdb, "NoPods", "No matching pods found")
        try:
            counts = budget.expected_counts(pdb, pods, self._scale_of)
        except (LookupError, ValueError) as e:
            await self.recorder.warning(pdb, "CalculateExpectedPodCountFailed",
                                        f"Failed to calculate the number of expected pods: {e}")
            raise
        if counts.unmanaged:
            await self.recorder.warning(pdb, "UnmanagedPods", _unmanaged_message(pdb))
        disrupted, recheck_at, overdue = budget.disrupted_pods(pdb, pods, now)
        for name in overdue:
            pod = self.pods.get(f"{ns}/{name}")
            if pod is not None:
                await self.recorder.warning(pod, "NotDeleted", "Pod was expected by PDB "
                                            f"{ns}/{meta(pdb)['name']} to be deleted but it wasn't")
        healthy = budget.current_healthy(pods, disrupted, now)
        status = budget.new_status(pdb, healthy, counts, disrupted, now)
        recheck = (recheck_at - now).total_seconds() if recheck_at is not None else None
        return status, recheck

    async def clean_stale_disruption(self, key: str) -> float | None:
        """Upstream's syncStalePodDisruption: a DisruptionTarget condition still True two
        minutes after it was set, on a pod nobody deleted, is turned False."""
        pod = self.pods.get(key)
        if pod is None:
            return None
        now = self.ctx.clock()
        wait = budget.stale_disruption_wait(pod, now)
        if wait is None or wait > 0:
            return wait
        patch = {"metadata": {"resourceVersion": meta(pod)["resourceVersion"]},
                 "status": {"conditions": [{"type": "DisruptionTarget", "status": "False",
                                            "lastTransitionTime": format_time(now)}]}}
        try:
            await self.client.patch(PODS, meta(pod)["name"], patch, meta(pod).get("namespace"),
                                    patch_type="strategic", subresource="status")
        except ApiError as e:
            if not e.not_found:
                raise
        return None

    async def _write(self, pdb: Obj, status: Obj) -> None:
        new = copy.deepcopy(pdb)
        new["status"] = status
        await self.client.update_status(PDBS, new)

    # -- the scale of a pod's controller (upstream's finders) -----------------------------
    def _scale_of(self, pod: Mapping[str, Any]) -> tuple[str, int] | None:
        ref = controller_ref(pod)
        if ref is None:
            return None
        ns = meta(pod).get("namespace")
        if ref.get("kind") == "ReplicaSet" and ref.get("apiVersion", "").startswith("apps/"):
            rs = resolve_ref(self.replicasets, ns, ref)
            if rs is None:
                return None
            rs_ref = controller_ref(rs)
            if rs_ref is not None and rs_ref.get("kind") == "Deployment":
                d = resolve_ref(self.deployments, ns, rs_ref)
                return (rs_ref["uid"], _replicas(d)) if d is not None else None
            return ref["uid"], _replicas(rs)
        if ref.get("kind") == "StatefulSet" and ref.get("apiVersion", "").startswith("apps/"):
            sts = resolve_ref(self.statefulsets, ns, ref)
            return (ref["uid"], _replicas(sts)) if sts is not None else None
        return None


def _replicas(obj: Mapping[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _unmanaged_message(pdb: Mapping[str, Any]) -> str:
    return ("Pods selected by this PodDisruptionBudget (selector: "
            f"{(pdb.get('spec') or {}).get('selector')}) were found to be unmanaged. As a "
            "result, the status of the PDB cannot be calculated correctly, which may result "
            "in undefined behavior. To account for these pods please set "
            "\".spec.minAvailable\" field of the PDB to an integer value.")
