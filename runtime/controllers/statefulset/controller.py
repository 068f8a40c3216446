"""The StatefulSet controller: stable, ordered pods `<set>-<ordinal>` with per-ordinal
PersistentVolumeClaims, rolled out through ControllerRevisions (upstream
pkg/controller/statefulset).

This module is the I/O shell: informers in, REST writes out. What to do is decided by
plan.py; pod identity and claims by pods.py.
It must never mutate cached objects, never import kapi/, and never write pods of
other controllers.
"""

from __future__ import annotations

import logging
from typing import Any

from runtime.client.resources import CONTROLLERREVISIONS, PODS, PVCS, STATEFULSETS
from runtime.client.rest import ApiError
from runtime.controllers.common import history, wiring
from runtime.controllers.common import podcontrol as pc
from runtime.controllers.common.objects import patch_status_if_changed
from runtime.controllers.context import ControllerContext
from runtime.controllers.statefulset import plan as stsplan
from runtime.controllers.statefulset import pods as sp
from runtime.controllers.statefulset.plan import Action, Revisions
from runtime.util.meta import meta, owner_reference
from runtime.util.selectors import matches as selector_matches

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KIND = "StatefulSet"


class StatefulSetController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.sets = self.own_kind(ctx, STATEFULSETS, "statefulset",
                                      ctx.options.statefulset_workers)
        self.pods = wiring.dependents(ctx.informers, PODS)
        self.revisions = wiring.dependents(ctx.informers, CONTROLLERREVISIONS)
        self.claims = ctx.informers.get(PVCS)
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        keys = {pc.owner_key(old, KIND), pc.owner_key(new, KIND)}
        for k in keys - {None}:
            self.controller.enqueue(k)  # type: ignore[arg-type]
        if new is not None and pc.owner_key(new, KIND) is None and event != "delete":
            for s in self.sets.list(meta(new).get("namespace")):
                if sp.is_member(s, new) and selector_matches(s["spec"].get("selector"),
                                                             meta(new).get("labels")):
                    self.controller.enqueue(s)

    # -- reconcile -------------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        sts = self.sets.get(key)
        if sts is None or not (sts.get("spec") or {}).get("selector"):
            return None
        selector = sts["spec"]["selector"]
        pods = await pc.claim_pods(
            self.client, sts, STATEFULSETS, self.pods,
            lambda p: sp.is_member(sts, p) and selector_matches(selector, meta(p).get("labels")))
        revs, collisions, owned = await self._revisions(sts)
        now = self.ctx.clock()
        error: Exception | None = None
        try:
            await self._execute(sts, stsplan.plan(sts, pods, revs, now))
        except ApiError as e:
            error = e
        await self._write_status(sts, stsplan.compute_status(sts, pods, revs, collisions, now))
        live = {revs.current, revs.update} | {sp.pod_revision(p) for p in pods}
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        await history.truncate_history(self.client, owned, live,
                                       10 if limit is None else int(limit))
        if error is not None:
            raise error
        return stsplan.next_check(sts, pods, now)

    async def _revisions(self, sts: Obj) -> tuple[Revisions, int, list[Obj]]:
        owned = history.owned_revisions(pc.owned_by(self.revisions, sts), sts)
        ref = owner_reference(sts)
        update, collisions = await history.ensure_update_revision(self.client, sts, owned, ref)
        if all(meta(r)["name"] != meta(update)["name"] for r in owned):
            owned = owned + [update]
        current = history.current_revision(
            owned, (sts.get("status") or {}).get("currentRevision"), update)
        revs = Revisions(stsplan.apply_revision(sts, current),
                         stsplan.apply_revision(sts, update),
                         meta(current)["name"], meta(update)["name"], ref)
        return revs, collisions, owned

    async def _execute(self, sts: Obj, actions: list[Action]) -> None:
        """In order; OrderedReady stops at the first error, Parallel tries every action."""
        first_error: ApiError | None = None
        for a in actions:
            try:
                await self._act(sts, a)
            except ApiError as e:
                if (sts["spec"].get("podManagementPolicy") or "OrderedReady") != "Parallel":
                    raise
                first_error = first_error or e
        if first_error is not None:
            raise first_error

    async def _act(self, sts: Obj, a: Action) -> None:
        if a.verb == "create":
            await self._create(sts, a.pod)
        elif a.verb == "delete":
            await self._delete(sts, a.pod, a.reason)
        elif a.verb == "relabel":
            await self.client.patch(PODS, meta(a.pod)["name"], sp.identity_patch(sts, a.pod),
                                    meta(a.pod).get("namespace"))

    async def _create(self, sts: Obj, pod: Obj) -> None:
        name, set_name = meta(pod)["name"], meta(sts)["name"]
        await self._ensure_claims(sts, pod)
        try:
            await self.client.create(PODS, pod, meta(sts).get("namespace"))
        except ApiError as e:
            if e.already_exists or pc.namespace_terminating(e):
                return  # our cache was behind (the next event brings the pod), or no point
            await self.recorder.warning(sts, "FailedCreate", f"create Pod {name} in StatefulSet "
                                        f"{set_name} failed error: {e.message}")
            raise
        await self.recorder.normal(sts, "SuccessfulCreate",
                                   f"create Pod {name} in StatefulSet {set_name} successful")

    async def _delete(self, sts: Obj, pod: Obj, reason: str) -> None:
        name, set_name, ns = meta(pod)["name"], meta(sts)["name"], meta(sts).get("namespace")
        if reason == "failed":
            await self.recorder.warning(sts, "RecreatingFailedPod", f"StatefulSet {ns}/{set_name}"
                                        f" is recreating failed Pod {name}")
        elif reason == "terminated":
            await self.recorder.normal(sts, "RecreatingTerminatedPod", f"StatefulSet "
                                       f"{ns}/{set_name} is recreating terminated Pod {name}")
        elif reason == "condemned":
            await self._fix_claim_owners(sts, pod)
        try:
            await self.client.delete(PODS, name, ns, preconditions={"uid": meta(pod)["uid"]})
        except ApiError as e:
            if e.not_found:
                return
            await self.recorder.warning(sts, "FailedDelete", f"delete Pod {name} in StatefulSet "
                                        f"{set_name} failed error: {e.message}")
            raise
        await self.recorder.normal(sts, "SuccessfulDelete",
                                   f"delete Pod {name} in StatefulSet {set_name} successful")

    # -- claims ----------------------------------------------------------------------------
    async def _ensure_claims(self, sts: Obj, pod: Obj) -> None:
        ns, ordinal = meta(sts).get("namespace"), sp.ordinal_of(pod)
        owners = sp.wanted_claim_owners(sts, None, owner_reference(sts, controller=False), None)
        for claim in sp.new_claims(sts, ordinal):
            name = claim["metadata"]["name"]
            existing = self.claims.get(f"{ns}/{name}")
            if existing is not None:
                if meta(existing).get("deletionTimestamp"):
                    raise ApiError(409, "Conflict", f"pvc {name} is being deleted")
                continue
            if owners:
                claim["metadata"]["ownerReferences"] = owners
            try:
                await self.client.create(PVCS, claim, ns)
            except ApiError as e:
                if e.already_exists:
                    continue
                if pc.namespace_terminating(e):
                    return
                await self.recorder.warning(sts, "FailedCreate", f"create Claim {name} for Pod "
                                            f"{meta(pod)['name']} in StatefulSet "
                                            f"{meta(sts)['name']} failed error: {e.message}")
                raise
            await self.recorder.normal(sts, "SuccessfulCreate", f"create Claim {name} Pod "
                                       f"{meta(pod)['name']} in StatefulSet {meta(sts)['name']} "
                                       "success")

    async def _fix_claim_owners(self, sts: Obj, pod: Obj) -> None:
        """Before a scale-down deletes pod, give its claims the owners the retention
        policy asks for (the pod, for whenScaled: Delete)."""
        if sp.retention_policy(sts) == ("Retain", "Retain"):
            return
        ns = meta(sts).get("namespace")
        set_ref = owner_reference(sts, controller=False)
        pod_ref = owner_reference(pod, controller=False)
        owners = sp.wanted_claim_owners(sts, pod, set_ref, pod_ref)
        for claim in sp.new_claims(sts, sp.ordinal_of(pod)):
            existing = self.claims.get(f"{ns}/{claim['metadata']['name']}")
            if existing is None:
                continue
            refs = sp.claim_owner_patch(existing, owners, {set_ref["uid"], pod_ref["uid"]})
            if refs is not None:
                await self.client.patch(PVCS, meta(existing)["name"], {"metadata": {
                    "ownerReferences": refs}}, ns)

    # -- status ----------------------------------------------------------------------------
    async def _write_status(self, sts: Obj, status: Obj) -> None:
        await patch_status_if_changed(self.client, STATEFULSETS, sts, status)
