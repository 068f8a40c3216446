"""The garbage collector: deletes objects whose owners are gone, and carries out
foreground and orphan deletion of owners.

It watches every resource that can own or be owned (the client's fixed resource list
at construction, then whatever discovery adds, re-checked periodically), feeds the
pure graph in `graph`, and works two queues keyed by uid: attempt-delete (a
dependent that may be garbage, or an owner deleted in the foreground) and
attempt-orphan (an owner deleted with the orphan policy). Before acting it always
reads the object and its owners live (the caches may lag); it never deletes on doubt
(an owner kind it cannot resolve counts as present), and never mutates cached objects.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import OrderedDict
from typing import Any, Callable

from runtime.client.resources import ALL, EVENTS, GVR, by_api_version_kind
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller
from runtime.controllers.common.discovery import Discovery, discover
from runtime.controllers.garbagecollector import graph
from runtime.controllers.garbagecollector.graph import Action, Graph, OwnerState, Plan
from runtime.util.clock import seconds

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Events may name an object but never own or belong to one (upstream ignores them too).
IGNORED = {("", "events"), ("events.k8s.io", "events")}
UPDATE_RETRIES = 5
ABSENT_CACHE_SIZE = 2048
MIN_REDISCOVERY = 5.0  # seconds between discoveries prompted by an unknown kind


class GarbageCollector:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.seconds = seconds(ctx.clock)
        self.client: Client = ctx.client
        self.graph = Graph()
        self.rediscover_period = ctx.options.gc_rediscover_period
        self.foreground_recheck = ctx.options.gc_foreground_recheck
        self.deleter = Controller("garbagecollector-delete", self._attempt_delete, workers=4)
        self.orphaner = Controller("garbagecollector-orphan", self._attempt_orphan, workers=2)
        self._watched: set[tuple[str, str]] = set()
        self._discovery: Discovery | None = None
        self._discovered_at = 0.0
        self._absent: OrderedDict[str, None] = OrderedDict()  # uids known to be gone
        self._task: asyncio.Task[None] | None = None
        for gvr in ALL:
            if gvr is not EVENTS:
                self._watch(gvr)

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.deleter.start()
        self.orphaner.start()
        self._task = asyncio.create_task(self._discovery_loop(), name="gc-discovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.deleter.stop()
        await self.orphaner.stop()

    def _watch(self, gvr: GVR) -> bool:
        """Feed the graph from gvr's shared informer; False if already watched."""
        if (gvr.group, gvr.resource) in self._watched or (gvr.group, gvr.resource) in IGNORED:
            return False
        self._watched.add((gvr.group, gvr.resource))
        self.ctx.informers.get(gvr).add_handler(self._on_event)
        return True

    async def _discovery_loop(self) -> None:
        """Pick up resources served besides the fixed list (and later additions)."""
        while True:
            try:
                d = await self._refresh_discovery()
                for gvr in d.preferred_with({"list", "watch", "delete"}, exclude=IGNORED):
                    if self._watch(gvr):
                        log.info("garbage collector: watching %s", gvr.resource)
                        self.ctx.informers.get(gvr).start()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("garbage collector: discovery failed: %s", e)
            await asyncio.sleep(self.rediscover_period)

    async def _refresh_discovery(self) -> Discovery:
        self._discovery = await discover(self.client)
        self._discovered_at = self.seconds()
        return self._discovery

    # -- events -> graph -> queues ------------------------------------------------------
    def _on_event(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        if not obj or not obj.get("metadata", {}).get("uid"):
            return
        work = self.graph.forget(obj) if event == "delete" else self.graph.observe(obj)
        self._enqueue(work)

    def _enqueue(self, work: graph.Work) -> None:
        for uid in work.attempt_delete:
            self.deleter.enqueue(uid)
        for uid in work.attempt_orphan:
            self.orphaner.enqueue(uid)

    # -- resolving references -----------------------------------------------------------
    async def _gvr(self, api_version: str, kind: str) -> GVR | None:
        d = self._discovery or await self._refresh_discovery()
        gvr = d.gvr_for(api_version, kind)
        if gvr is None and self.seconds() - self._discovered_at > MIN_REDISCOVERY:
            d = await self._refresh_discovery()  # maybe served since the last look (a CRD)
            gvr = d.gvr_for(api_version, kind)
        return gvr or by_api_version_kind(api_version, kind)

    async def _live(self, ident: graph.Identity) -> tuple[GVR, Obj] | None:
        """(resource, object) read from the API; None if gone, replaced or unresolvable."""
        gvr = await self._gvr(ident.api_version, ident.kind)
        if gvr is None:
            return None
        try:
            obj = await self.client.get(gvr, ident.name, ident.namespace or None)
        except ApiError as e:
            if e.not_found:
                return None
            raise
        if obj.get("metadata", {}).get("uid") != ident.uid:
            return None
        return gvr, obj

    async def _owner_state(self, ref: Obj, dependent: Obj) -> OwnerState:
        uid = ref.get("uid", "")
        if uid in self._absent:
            return OwnerState.ABSENT
        gvr = await self._gvr(ref.get("apiVersion", ""), ref.get("kind", ""))
        if gvr is None:
            return OwnerState.SOLID  # cannot verify: never collect on doubt
        ns = dependent["metadata"].get("namespace")
        if gvr.namespaced and not ns:
            return OwnerState.ABSENT  # a cluster-scoped object cannot have a namespaced owner
        try:
            live: Obj | None = await self.client.get(gvr, ref.get("name", ""),
                                                     ns if gvr.namespaced else None)
        except ApiError as e:
            if not e.not_found:
                raise
            live = None
        state = graph.owner_state(ref, live)
        if state is OwnerState.ABSENT:
            self._remember_absent(uid)
        return state

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    # -- attempt-delete -----------------------------------------------------------------
    async def _attempt_delete(self, uid: str) -> float | None:
        node = self.graph.get(uid)
        if node is None or not node.observed:
            return None
        found = await self._live(node.identity)
        if found is None:
            return None
        gvr, latest = found
        if graph.deleting_with(latest, graph.FOREGROUND):
            return await self._process_foreground_owner(gvr, latest)
        if latest["metadata"].get("deletionTimestamp"):
            return None  # already going; nothing to add
        refs = latest["metadata"].get("ownerReferences") or []
        if not refs:
            return None
        states = {r["uid"]: await self._owner_state(r, latest) for r in refs if r.get("uid")}
        plan = graph.plan_dependent(latest, states, bool(node.dependents),
                                    self._dependent_deleting_dependents(node.dependents))
        await self._execute(plan, gvr, latest)
        return None

    def _dependent_deleting_dependents(self, uids: set[str]) -> bool:
        return any((dep := self.graph.get(u)) is not None and dep.deleting_dependents
                   for u in uids)

    async def _process_foreground_owner(self, gvr: GVR, owner: Obj) -> float | None:
        uid = owner["metadata"]["uid"]
        plan = graph.plan_foreground_owner(self.graph, uid)
        if plan.action is Action.REMOVE_FINALIZER:
            await self._update(gvr, owner, lambda o: _set_finalizers(o, graph.FOREGROUND))
            return None
        for dep in plan.uids:
            self.deleter.enqueue(dep)
        # deletions of dependents re-enqueue this owner; look again anyway in case an
        # event was missed while the caches relisted
        return self.foreground_recheck

    async def _execute(self, plan: Plan, gvr: GVR, obj: Obj) -> None:
        meta = obj["metadata"]
        if plan.action is Action.DELETE and plan.unblock:
            log.info("garbage collector: %s %s/%s may be in a cycle of foreground "
                     "deletions; making its ownerReferences non-blocking", obj.get("kind"),
                     meta.get("namespace", ""), meta["name"])
            await self._update(gvr, obj, _unblock_owner_refs)
        if plan.action is Action.DELETE:
            log.info("garbage collector: deleting %s %s/%s (%s)", obj.get("kind"),
                     meta.get("namespace", ""), meta["name"], plan.policy)
            try:
                await self.client.delete(gvr, meta["name"], meta.get("namespace"),
                                         propagation_policy=plan.policy,
                                         preconditions={"uid": meta["uid"]})
            except ApiError as e:
                if not (e.not_found or e.conflict):
                    raise
        elif plan.action is Action.REMOVE_REFS:
            gone = set(plan.uids)
            await self._update(gvr, obj, lambda o: _set_owner_refs(o, gone))

    # -- attempt-orphan -----------------------------------------------------------------
    async def _attempt_orphan(self, uid: str) -> float | None:
        node = self.graph.get(uid)
        if node is None or not node.observed:
            return None
        found = await self._live(node.identity)
        if found is None or not graph.deleting_with(found[1], graph.ORPHAN):
            return None
        for dep_uid in sorted(node.dependents):
            dep = self.graph.get(dep_uid)
            if dep is None or not dep.observed:
                continue
            dep_found = await self._live(dep.identity)
            if dep_found is not None:
                await self._update(dep_found[0], dep_found[1],
                                   lambda o: _set_owner_refs(o, {uid}))
        gvr, owner = found
        await self._update(gvr, owner, lambda o: _set_finalizers(o, graph.ORPHAN))
        return None

    # -- writes -------------------------------------------------------------------------
    async def _update(self, gvr: GVR, obj: Obj, mutate: Callable[[Obj], bool]) -> None:
        """Apply `mutate` to a copy and PUT it (optimistic concurrency); on a conflict
        re-read and retry, a bounded number of times. `mutate` returns False if there
        is nothing to change."""
        meta = obj["metadata"]
        for attempt in range(UPDATE_RETRIES):
            new = copy.deepcopy(obj)
            if not mutate(new):
                return
            try:
                await self.client.update(gvr, new)
                return
            except ApiError as e:
                if e.not_found:
                    return
                if not e.conflict or attempt == UPDATE_RETRIES - 1:
                    raise
            try:
                obj = await self.client.get(gvr, meta["name"], meta.get("namespace"))
            except ApiError as e:
                if e.not_found:
                    return
                raise
            if obj["metadata"].get("uid") != meta.get("uid"):
                return


def _set_owner_refs(obj: Obj, drop: set[str]) -> bool:
    meta = obj["metadata"]
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        return False  # already terminating gracefully; it is going away regardless
    return _shrink(meta, "ownerReferences", graph.without_owner_refs(obj, drop))


def _unblock_owner_refs(obj: Obj) -> bool:
    refs = graph.unblocked_owner_refs(obj)
    if refs is None:
        return False
    obj["metadata"]["ownerReferences"] = refs
    return True


def _set_finalizers(obj: Obj, remove: str) -> bool:
    return _shrink(obj["metadata"], "finalizers", graph.without_finalizer(obj, remove))


def _shrink(meta: Obj, field: str, kept: list[Any]) -> bool:
    """Set the metadata list `field` to `kept` (dropped when empty); False when that
    removes nothing, so there is nothing to write."""
    if len(kept) == len(meta.get(field) or []):
        return False
    if kept:
        meta[field] = kept
    else:
        meta.pop(field, None)
    return True
