"""The DaemonSet controller: one pod per eligible node, pinned to it through required
node affinity on metadata.name so the default scheduler binds it; follows nodes as
they come, go and change; rolls out template changes (RollingUpdate with
maxUnavailable/maxSurge, or OnDelete) through ControllerRevisions (upstream
pkg/controller/daemon).

This module is the I/O shell; decisions are plan.py and
nodes.py. It must never mutate cached objects, never import kapi/,
and never bind pods itself (the scheduler does).
"""

from __future__ import annotations

import logging
from typing import Any

from runtime.client.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from runtime.client.rest import ApiError
from runtime.controllers.common import history, wiring
from runtime.controllers.common import podcontrol as pc
from runtime.controllers.common.expectations import Expectations
from runtime.controllers.common.objects import patch_status_if_changed
from runtime.controllers.common.revisions import hash_of
from runtime.controllers.context import ControllerContext
from runtime.controllers.daemonset import plan as dp
from runtime.util.clock import seconds
from runtime.util.meta import meta, owner_reference
from runtime.util.pods import available_in
from runtime.util.selectors import matches as selector_matches

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KIND = "DaemonSet"
BACKOFF_START, BACKOFF_MAX = 1.0, 900.0  # seconds, per (daemon set, node), as upstream


class DaemonSetController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.sets = self.own_kind(ctx, DAEMONSETS, "daemonset",
                                      ctx.options.daemonset_workers)
        self.pod_control = pc.PodControl(client=ctx.client, recorder=ctx.recorder)
        self.pods = wiring.dependents(ctx.informers, PODS)
        self.nodes = ctx.informers.get(NODES)
        self.revisions = wiring.dependents(ctx.informers, CONTROLLERREVISIONS)
        self.expectations = Expectations(clock=seconds(ctx.clock))
        self._backoff: dict[str, tuple[float, float]] = {}  # key -> (until, delay)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)

    # -- events ----------------------------------------------------------------------------
    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        key = wiring.owner_of(KIND, old, new)
        if key is None:
            return
        if event == "add":
            self.expectations.creation_observed(key)
        pod = new or old or {}
        if event == "delete" or meta(pod).get("deletionTimestamp"):
            self.expectations.deletion_observed(key, pc.pod_key(pod))
        self.controller.enqueue(key)

    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event == "update" and old is not None and new is not None and _same_for_daemons(
                old, new):
            return
        for ds in self.sets.list():
            self.controller.enqueue(ds)

    # -- reconcile -------------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        ds = self.sets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return None
        selector = (ds.get("spec") or {}).get("selector")
        if not selector:
            return None
        pods = await pc.claim_pods(self.client, ds, DAEMONSETS, self.pods,
                                lambda p: selector_matches(selector, meta(p).get("labels")))
        update, collisions, owned = await self._revisions(ds)
        hash_, nodes, now = hash_of(update), self.nodes.list(), self.ctx.clock()
        by_node = dp.pods_by_node(pods)
        again: float | None = None
        if self.expectations.satisfied(key) and not meta(ds).get("deletionTimestamp"):
            again = await self._manage(key, ds, nodes, by_node, hash_, now)
        await self._write_status(ds, dp.compute_status(ds, nodes, by_node, hash_, collisions, now))
        live = {meta(update)["name"]} | {meta(r)["name"] for r in owned if hash_of(r) in {
            p["metadata"].get("labels", {}).get("controller-revision-hash") for p in pods}}
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        await history.truncate_history(self.client, owned, live,
                                       10 if limit is None else int(limit))
        waits = [w for p in pods if (w := available_in(p, dp.min_ready(ds), now)) is not None]
        return min([again] + waits if again is not None else waits, default=None)

    async def _revisions(self, ds: Obj) -> tuple[Obj, int, list[Obj]]:
        owned = history.owned_revisions(pc.owned_by(self.revisions, ds), ds)
        update, collisions = await history.ensure_update_revision(
            self.client, ds, owned, owner_reference(ds))
        return update, collisions, owned

    async def _manage(self, key: str, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]],
                      hash_: str, now: Any) -> float | None:
        plan = dp.manage(ds, nodes, by_node, hash_, now)
        again = await self._failed(key, ds, plan)
        if dp.strategy_of(ds) == "RollingUpdate" and not plan.create_on and not plan.delete:
            step = dp.rolling_update(ds, nodes, by_node, hash_, now)
            plan.create_on += step.create_on
            plan.delete += step.delete
        await self._sync_nodes(key, ds, plan, hash_)
        return again

    async def _failed(self, key: str, ds: Obj, plan: dp.Plan) -> float | None:
        """Failed pods are deleted (and so replaced) with a per-node exponential back-off."""
        again: float | None = None
        mono = self.ctx.clock().timestamp()
        for node, pod in plan.failed:
            bkey = f"{key}/{node}"
            until, delay = self._backoff.get(bkey, (0.0, 0.0))
            if mono < until:
                again = min(again or until - mono, until - mono)
                continue
            delay = min(BACKOFF_MAX, delay * 2 if delay else BACKOFF_START)
            self._backoff[bkey] = (mono + delay, delay)
            await self.recorder.warning(ds, "FailedDaemonPod", f"Found failed daemon pod "
                                        f"{meta(pod).get('namespace')}/{meta(pod)['name']} on "
                                        f"node {node}, will try to kill it")
            plan.delete.append(pod)
        return again

    async def _sync_nodes(self, key: str, ds: Obj, plan: dp.Plan, hash_: str) -> None:
        if not plan.create_on and not plan.delete:
            return
        self.expectations.expect(key, adds=len(plan.create_on),
                                 deletes=[pc.pod_key(p) for p in plan.delete])
        ref = owner_reference(ds)
        for i, node in enumerate(plan.create_on):
            try:
                created = await self.pod_control.create(ds,
                                           dp.new_pod(ds, node, hash_, ref))
            except ApiError:
                self.expectations.creation_observed(key, len(plan.create_on) - i)
                raise
            if created is None:
                self.expectations.creation_observed(key)
        for pod in plan.delete:
            try:
                await self.pod_control.delete(ds, pod)
            except ApiError:
                self.expectations.deletion_observed(key, pc.pod_key(pod))
                raise

    async def _write_status(self, ds: Obj, status: Obj) -> None:
        await patch_status_if_changed(self.client, DAEMONSETS, ds, status)


def _same_for_daemons(old: Obj, new: Obj) -> bool:
    """A node update matters only if labels, taints or name-level fields changed."""
    return ((old.get("metadata") or {}).get("labels") == (new.get("metadata") or {}).get("labels")
            and (old.get("spec") or {}).get("taints") == (new.get("spec") or {}).get("taints"))
