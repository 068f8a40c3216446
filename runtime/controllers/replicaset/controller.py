"""The ReplicaSet controller (upstream pkg/controller/replicaset/replica_set.go).

It keeps `spec.replicas` active pods for every ReplicaSet: it claims pods by
controllerRef (adopting orphans that match the selector, releasing owned pods that no
longer match), creates missing pods in slow-start batches (at most `burst_replicas`
per sync), deletes surplus pods in upstream's preference order, and writes status.
Expectations keep a lagging pod watch from causing double creations or deletions.

An API client only: reads come from the shared informer caches (never mutated),
writes go through the REST client. It never touches a pod's phase or node: that is
the scheduler's and the kubelet's job.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from runtime.client.informer import key_of
from runtime.client.resources import PODS, REPLICASETS
from runtime.client.rest import ApiError
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.expectations import Expectations
from runtime.controllers.common.objects import resolve_ref
from runtime.controllers.common.podcontrol import (
    PodControl,
    RefManager,
    pod_for_owner,
    slow_start_batch,
)
from runtime.controllers.context import ControllerContext
from runtime.controllers.replicaset.ranking import pods_to_delete
from runtime.controllers.replicaset.status import calculate_status, replicas_of, status_unchanged
from runtime.util.clock import seconds
from runtime.util.meta import controller_ref, uid_of
from runtime.util.pods import is_active, is_ready
from runtime.util.selectors import is_empty, matches

log = logging.getLogger(__name__)

Obj = dict[str, Any]

STATUS_UPDATE_RETRIES = 1


class ReplicaSetController(Reconciler):
    # what it controls; the ReplicationController controller is this class over an
    # adapter that shows RCs as ReplicaSets (runtime/controllers/replicationcontroller)
    kind = "ReplicaSet"
    gvr = REPLICASETS
    name = "replicaset"

    def __init__(self, ctx: ControllerContext, *, workers: int = 5) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.burst_replicas = ctx.options.replicaset_burst_replicas
        self.expectations = Expectations(clock=seconds(ctx.clock))
        self.pod_control = PodControl(client=ctx.client, recorder=ctx.recorder)
        self.rs_informer = self.owner_informer(ctx)
        self.pod_informer = ctx.informers.get(PODS)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.rs_informer.add_handler(self._on_replicaset)
        self.pod_informer.add_handler(self._on_pod)

    # -- what the controlled objects look like (the adapter's hooks) ----------------------
    def owner_informer(self, ctx: ControllerContext) -> Any:
        """The informer of the controlled objects, each shown as a ReplicaSet."""
        return ctx.informers.get(REPLICASETS)

    def from_api(self, obj: Obj) -> Obj:
        """An object as the API returned it, as a ReplicaSet."""
        return obj

    def to_api(self, rs: Obj) -> Obj:
        """A ReplicaSet view, as the API stores the controlled kind."""
        return rs

    # -- event handlers (synchronous; they only enqueue and count expectations) ----------
    def _on_replicaset(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        if event == "delete":
            self.expectations.forget(key_of(obj))
        elif event == "update" and old is not None and uid_of(old) != uid_of(obj):
            self.expectations.forget(key_of(old))  # deleted and recreated under one name
        self.controller.enqueue(obj)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event == "add" and new is not None:
            self._pod_added(new)
        elif event == "update" and old is not None and new is not None:
            self._pod_updated(old, new)
        elif event == "delete":
            pod = new if new is not None else old
            if pod is not None:
                self._pod_deleted(pod)

    def _pod_added(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)  # seen for the first time already being deleted
            return
        ref = controller_ref(pod)
        if ref is not None:
            rs = self._resolve(pod["metadata"].get("namespace", ""), ref)
            if rs is not None:
                self.expectations.creation_observed(key_of(rs))
                self.controller.enqueue(rs)
            return
        for rs in self._replicasets_for_pod(pod):
            self.controller.enqueue(rs)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        labels_changed = old["metadata"].get("labels") != cur["metadata"].get("labels")
        if cur["metadata"].get("deletionTimestamp"):
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = cur_ref != old_ref
        ns = cur["metadata"].get("namespace", "")
        if ref_changed and old_ref is not None:
            if (rs := self._resolve(ns, old_ref)) is not None:
                self.controller.enqueue(rs)
        if cur_ref is not None:
            rs = self._resolve(ns, cur_ref)
            if rs is None:
                return
            self.controller.enqueue(rs)
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_ready(old) and is_ready(cur):
                self.controller.enqueue_after(key_of(rs), min_ready + 1.0)
            return
        if labels_changed or ref_changed:
            for rs in self._replicasets_for_pod(cur):
                self.controller.enqueue(rs)

    def _pod_deleted(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        rs = self._resolve(pod["metadata"].get("namespace", ""), ref)
        if rs is not None:
            self.expectations.deletion_observed(key_of(rs), key_of(pod))
            self.controller.enqueue(rs)

    def _resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return resolve_ref(self.rs_informer, namespace, ref, self.kind)

    def _replicasets_for_pod(self, pod: Obj) -> list[Obj]:
        labels = pod["metadata"].get("labels") or {}
        return [rs for rs in self.rs_informer.list(pod["metadata"].get("namespace", ""))
                if not is_empty(sel := (rs.get("spec") or {}).get("selector"))
                and matches(sel, labels)]

    # -- reconcile ----------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        cached = self.rs_informer.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        rs = _with_kind(copy.deepcopy(cached), self.gvr)
        needs_sync = self.expectations.satisfied(key)
        pods = [p for p in self.pod_informer.list(rs["metadata"]["namespace"])
                if is_active(p)]
        pods = await self._claim(rs, pods)
        manage_error: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self._manage_replicas(key, rs, pods)
            except (ApiError, ValueError) as e:
                manage_error = e
        status = calculate_status(rs, pods, manage_error, self.ctx.clock())
        updated = await self._update_status(rs, status)
        if manage_error is not None:
            raise manage_error
        return _min_ready_resync(updated)

    async def _claim(self, rs: Obj, pods: list[Obj]) -> list[Obj]:
        selector = (rs.get("spec") or {}).get("selector")
        meta = rs["metadata"]

        async def fetch() -> Obj:
            return self.from_api(await self.client.get(self.gvr, meta["name"], meta["namespace"]))
        refs = RefManager(client=self.client, gvr=PODS, owner=rs, fetch_owner=fetch,
                          match=lambda p: matches(selector, p["metadata"].get("labels")))
        claimed, errors = await refs.claim(pods)
        if errors:
            raise errors[0]
        return claimed

    async def _manage_replicas(self, key: str, rs: Obj, pods: list[Obj]) -> None:
        diff = len(pods) - replicas_of(rs)
        if diff < 0:
            await self._create_pods(key, rs, min(-diff, self.burst_replicas))
        elif diff > 0:
            await self._delete_pods(key, rs, pods, min(diff, self.burst_replicas))

    async def _create_pods(self, key: str, rs: Obj, count: int) -> None:
        log.debug("replicaset %s: too few replicas, creating %d", key, count)
        self.expectations.expect(key, adds=count)
        template = rs["spec"].get("template") or {}

        async def create() -> None:
            await self.pod_control.create(rs, pod_for_owner(template, rs))
        created, error = await slow_start_batch(count, create)
        for _ in range(count - created):  # never attempted or failed: nothing to observe
            self.expectations.creation_observed(key)
        if error is not None:
            raise error

    async def _delete_pods(self, key: str, rs: Obj, pods: list[Obj], count: int) -> None:
        log.debug("replicaset %s: too many replicas, deleting %d", key, count)
        victims = pods_to_delete(pods, self._related_pods(rs), count, self.ctx.clock())
        self.expectations.expect(key, deletes=[key_of(p) for p in victims])

        async def delete(pod: Obj) -> None:
            try:
                deleted = await self.pod_control.delete(rs, pod)
            except Exception:  # the informer will not see this deletion
                self.expectations.deletion_observed(key, key_of(pod))
                raise
            if not deleted:
                self.expectations.deletion_observed(key, key_of(pod))
        results = await asyncio.gather(*(delete(p) for p in victims), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller (e.g. one Deployment's)."""
        ref = controller_ref(rs)
        if ref is None:
            return []
        ns = rs["metadata"]["namespace"]
        siblings = [r for r in self.rs_informer.list(ns)
                    if (c := controller_ref(r)) is not None and c.get("uid") == ref.get("uid")]
        seen: set[str] = set()
        out: list[Obj] = []
        for sibling in siblings:
            sel = (sibling.get("spec") or {}).get("selector")
            for p in self.pod_informer.list(ns):
                if uid_of(p) not in seen and matches(sel, p["metadata"].get("labels")):
                    seen.add(uid_of(p))
                    out.append(p)
        return out

    async def _update_status(self, rs: Obj, status: Obj) -> Obj:
        if status_unchanged(rs, status):
            return rs
        status["observedGeneration"] = rs["metadata"].get("generation", 0)
        meta = rs["metadata"]
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            try:
                return self.from_api(await self.client.update_status(
                    self.gvr, self.to_api(dict(rs, status=status))))
            except ApiError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                rs = self.from_api(await self.client.get(self.gvr, meta["name"],
                                                         meta["namespace"]))
        return rs  # not reached: the loop returns or raises


def _with_kind(rs: Obj, gvr: Any) -> Obj:
    rs.setdefault("apiVersion", gvr.api_version)
    rs.setdefault("kind", gvr.kind)
    return rs


def _min_ready_resync(rs: Obj) -> float | None:
    """Look again after minReadySeconds while ready pods wait to count as available."""
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    status, replicas = rs.get("status") or {}, replicas_of(rs)
    if min_ready > 0 and status.get("readyReplicas", 0) == replicas and status.get(
            "availableReplicas", 0) != replicas:
        return float(min_ready)
    return None

