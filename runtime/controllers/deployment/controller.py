"""The Deployment controller (upstream pkg/controller/deployment/deployment_controller.go).

Per Deployment it claims ReplicaSets by controllerRef (adopting matching orphans,
releasing ones that no longer match), then dispatches as upstream's syncDeployment:
a Deployment being deleted only gets status; a paused one or a resize is a "sync"
(no new ReplicaSet); otherwise a RollingUpdate or Recreate rollout step. Rollbacks need
no controller support: `kubectl rollout undo` copies an old ReplicaSet's template into
the Deployment, and the rollout finds that ReplicaSet again and bumps its revision.

An API client only: reads from the shared informer caches (never mutated; the
reconciler works on a copy), writes through the REST client. It never creates or
deletes pods: ReplicaSets do.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from runtime.client.resources import DEPLOYMENTS, PODS, REPLICASETS
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common import wiring
from runtime.controllers.common.objects import resolve_ref
from runtime.controllers.common.podcontrol import RefManager
from runtime.controllers.context import ControllerContext
from runtime.controllers.deployment.rollout import PodMap, sync_deployment
from runtime.controllers.deployment.sync import DeploymentSync
from runtime.util.meta import controller_ref, uid_of
from runtime.util.selectors import is_empty, matches

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class DeploymentController(Reconciler):
    kind = "Deployment"

    def __init__(self, ctx: ControllerContext, *, workers: int = 5) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.ops = DeploymentSync(client=ctx.client, recorder=ctx.recorder, clock=ctx.clock)
        self.d_informer = ctx.informers.get(DEPLOYMENTS)
        self.rs_informer = ctx.informers.get(REPLICASETS)
        self.pod_informer = ctx.informers.get(PODS)
        self.controller = Controller("deployment", self.reconcile, workers=workers)
        wiring.enqueue_objects(self.d_informer, self.controller)
        self.rs_informer.add_handler(self._on_replicaset)
        self.pod_informer.add_handler(self._on_pod)

    # -- event handlers (synchronous; they only enqueue) -----------------------------------
    def _on_replicaset(self, event: str, old: Obj | None, new: Obj | None) -> None:
        rs = new if new is not None else old
        if rs is None:
            return
        ns = rs["metadata"].get("namespace", "")
        ref = controller_ref(rs)
        if event == "update" and old is not None:
            old_ref = controller_ref(old)
            if old_ref != ref and old_ref is not None:
                self._enqueue_owner(ns, old_ref)
            if ref is None and (old_ref != ref or old["metadata"].get("labels")
                                != rs["metadata"].get("labels")):
                self._enqueue_matching(rs)
                return
        if ref is not None:
            self._enqueue_owner(ns, ref)
        elif event == "add":
            self._enqueue_matching(rs)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        """Recreate waits for old pods to be gone: look again when one goes."""
        pod = new if new is not None else old
        if event != "delete" or pod is None or (ref := controller_ref(pod)) is None:
            return
        ns = pod["metadata"].get("namespace", "")
        rs = self.rs_informer.get(f"{ns}/{ref.get('name')}")
        if rs is None or uid_of(rs) != ref.get("uid") or (rs_ref := controller_ref(rs)) is None:
            return
        d = self._resolve(ns, rs_ref)
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get(
                "type") == "Recreate":
            self.controller.enqueue(d)

    def _resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return resolve_ref(self.d_informer, namespace, ref, self.kind)

    def _enqueue_owner(self, namespace: str, ref: Obj) -> None:
        if (d := self._resolve(namespace, ref)) is not None:
            self.controller.enqueue(d)

    def _enqueue_matching(self, rs: Obj) -> None:
        labels = rs["metadata"].get("labels") or {}
        for d in self.d_informer.list(rs["metadata"].get("namespace", "")):
            sel = (d.get("spec") or {}).get("selector")
            if not is_empty(sel) and matches(sel, labels):
                self.controller.enqueue(d)

    # -- reconcile ----------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        cached = self.d_informer.get(key)
        if cached is None:
            return None
        d = copy.deepcopy(cached)
        d.setdefault("apiVersion", DEPLOYMENTS.api_version)
        d.setdefault("kind", DEPLOYMENTS.kind)
        if is_empty(d["spec"].get("selector")):
            await self._selecting_all(d)
            return None
        rss = await self._claim_replica_sets(d)
        return await sync_deployment(self.ops, d, rss, self._pod_map(d, rss))

    async def _selecting_all(self, d: Obj) -> None:
        await self.ctx.recorder.warning(d, "SelectingAll", "This deployment is selecting all "
                                        "pods. A non-empty selector is required.")
        status = d.setdefault("status", {})
        if status.get("observedGeneration", 0) < d["metadata"].get("generation", 0):
            status["observedGeneration"] = d["metadata"]["generation"]
            await self.ops.save(d)

    async def _claim_replica_sets(self, d: Obj) -> list[Obj]:
        meta, selector = d["metadata"], d["spec"].get("selector")

        async def fetch() -> Obj:
            return await self.client.get(DEPLOYMENTS, meta["name"], meta["namespace"])
        refs = RefManager(client=self.client, gvr=REPLICASETS, owner=d, fetch_owner=fetch,
                          match=lambda rs: matches(selector, rs["metadata"].get("labels")))
        claimed, errors = await refs.claim(self.rs_informer.list(meta["namespace"]))
        if errors:
            raise errors[0]
        return claimed

    def _pod_map(self, d: Obj, rss: list[Obj]) -> PodMap:
        """The Deployment's pods (terminating ones too) by owning ReplicaSet UID."""
        out: PodMap = {uid_of(rs): [] for rs in rss}
        selector = d["spec"].get("selector")
        for pod in self.pod_informer.list(d["metadata"]["namespace"]):
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") in out and matches(
                    selector, pod["metadata"].get("labels")):
                out[ref["uid"]].append(pod)
        return out

