"""CRDController: stored CustomResourceDefinitions -> served custom resources, status
(names and conditions) and the cleanup of a deleted definition's objects. See the package
docstring for what it owns."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Callable

from kapi import errors
from kapi.apiextensions import openapi
from kapi.apiextensions.conversion import WebhookConverter
from kapi.meta import objects
from kapi.meta.resources import Resource, Scheme
from kapi.meta.schema import Definitions
from kapi.registry.kinds import crd as crd_kind
from kapi.registry.kinds.custom import CustomStrategy
from kapi.registry.store import DeleteOptions, ListOptions, Store
from kapi.storage.cacher import WatchCache
from kapi.validation import Validator

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CLEANUP_RETRY = 1.0  # seconds between passes while objects with finalizers remain
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """Upstream's kube-aware version order (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo),
    as a sort key (smaller first)."""
    m = _VERSION.match(name)
    if m is None:
        return (3, 0, 0, name)
    major, level, minor = int(m[1]), m[2], int(m[3] or 0)
    return ({None: 0, "beta": 1, "alpha": 2}[level], -major, -minor, name)


def _condition(ctype: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": ctype, "status": status, "lastTransitionTime": now, "reason": reason,
            "message": message}


class CRDController:
    def __init__(self, *, store: Store, scheme: Scheme, cache: WatchCache,
                 definitions: Definitions, validator: Validator,
                 on_change: Callable[[], None], clock: objects.Clock = objects.utc_now,
                 converter: WebhookConverter | None = None) -> None:
        self.store, self.scheme, self.cache = store, scheme, cache
        self.converter = converter
        self.definitions, self.validator = definitions, validator
        self.on_change, self.clock = on_change, clock
        row = scheme.get(crd_kind.GROUP, "v1", "customresourcedefinitions")
        assert row is not None
        self.row: Resource = row
        self.served: dict[str, CustomStrategy] = {}  # by definition name
        self._specs: dict[str, Any] = {}
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Serve every stored definition, then follow changes."""
        watcher, initial, _ = await self.store.watch(self.row, None, ListOptions(),
                                                     send_initial=True)
        for _, crd in initial:
            await self._sync(crd)
        self._task = asyncio.create_task(self._run(watcher), name="crd-controller")

    async def stop(self) -> None:
        for t in [self._task, *self._cleanups.values()]:
            if t is not None:
                t.cancel()

    async def _run(self, watcher: Any) -> None:
        try:
            while True:
                item = await watcher.next()
                if item is None:  # the cache ended the watch: start again from now
                    watcher, _, _ = await self.store.watch(self.row, None, ListOptions(),
                                                           send_initial=False)
                    continue
                etype, crd, _, _ = item
                try:
                    if etype == "DELETED":
                        self._unserve(crd["metadata"]["name"])
                    else:
                        await self._sync(crd)
                except Exception:
                    log.exception("serving CustomResourceDefinition %s failed",
                                  crd.get("metadata", {}).get("name"))
        finally:
            self.store.stop_watch(watcher)

    # -- one definition ---------------------------------------------------------------------
    async def _sync(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if crd["metadata"].get("deletionTimestamp"):
            served = self.served.get(name)
            if served is not None:
                served.terminating = True
            if name not in self._cleanups:
                self._cleanups[name] = asyncio.create_task(self._cleanup(crd))
            return
        conflict = self._conflict(crd)
        if conflict is None and self._specs.get(name) != crd.get("spec"):
            self._serve(crd)
        await self._record_status(crd, conflict)

    def _conflict(self, crd: Obj) -> str | None:
        """Why the definition's names clash with another served definition's, if they do."""
        spec = crd["spec"]
        names, group = spec["names"], spec["group"]
        for other, s in self.served.items():
            if other == crd["metadata"]["name"] or s.group != group:
                continue
            plural = s.rows[0].resource if s.rows else ""
            if names.get("plural") == plural:
                return f'"{plural}" is already in use'
            if names.get("kind") == s.kind:
                return f'"{s.kind}" is already in use'
        return None

    def _serve(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        strategy = CustomStrategy(crd)
        if self.converter is not None:
            strategy.external_conversion = self.converter.for_definition(crd)
        old = self.served.get(name)
        if old is not None:
            self._unpublish(old)
        changed: set[str] = set()
        for r in strategy.rows:
            v = strategy.versions[r.version]
            item = openapi.object_definition(v.schema, r.group, r.version, r.kind)
            self.definitions.put(r.definition, item)
            self.definitions.put(r.definition + "List", openapi.list_definition(
                r.definition, r.group, r.version, r.kind))
            changed |= {r.definition, r.definition + "List"}
        self.validator.types.forget(changed)
        self.validator.clean.clear()
        preferred = sorted(strategy.versions, key=version_priority)
        self.scheme.serve(strategy.rows, preferred=preferred[0] if preferred else "")
        for r in strategy.rows:
            self.cache.add_bucket(r.key_prefix)
        self.served[name], self._specs[name] = strategy, crd.get("spec")
        self.on_change()

    def _unpublish(self, strategy: CustomStrategy) -> None:
        if strategy.rows:
            self.scheme.unserve(strategy.group, strategy.rows[0].resource)
        for r in strategy.rows:
            self.definitions.drop(r.definition)
            self.definitions.drop(r.definition + "List")

    def _unserve(self, name: str) -> None:
        strategy = self.served.pop(name, None)
        self._specs.pop(name, None)
        if strategy is not None:
            self._unpublish(strategy)
            for r in strategy.rows:
                self.cache.drop_bucket(r.key_prefix)
            self.on_change()

    # -- status -------------------------------------------------------------------------------
    async def _record_status(self, crd: Obj, conflict: str | None) -> None:
        now = objects.rfc3339(self.clock())
        names = dict(crd["spec"]["names"])
        if conflict is None:
            accepted = _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found",
                                  now)
            established = _condition("Established", "True", "InitialNamesAccepted",
                                     "the initial names have been accepted", now)
        else:
            accepted = _condition("NamesAccepted", "False", "NameConflict", conflict, now)
            established = _condition("Established", "False", "NotAccepted",
                                     "not all names are accepted", now)
        status = crd.get("status") or {}
        wanted_names = names if conflict is None else status.get("acceptedNames")
        conditions = _merge(status.get("conditions") or [], [accepted, established])
        if status.get("acceptedNames") == wanted_names and status.get("conditions") == conditions:
            return
        await self._update_status(crd["metadata"]["name"], wanted_names,
                                  [accepted, established])

    async def _update_status(self, name: str, names: Any, conditions: list[Obj]) -> None:
        """Write acceptedNames (None: keep them) and these conditions to status."""
        async def update(current: Obj | None) -> Obj:
            if current is None:
                raise errors.NotFound.of(self.row, name)
            st = current.setdefault("status", {})
            if names is not None:
                st["acceptedNames"] = names
            st["conditions"] = _merge(st.get("conditions") or [], conditions)
            return current
        try:
            await self.store.guaranteed_update(self.row, None, name, update,
                                               subresource="status")
        except errors.NotFound:
            pass

    # -- deletion -------------------------------------------------------------------------------
    async def _cleanup(self, crd: Obj) -> None:
        """Delete every object of a definition being deleted, then drop the finalizer."""
        name = crd["metadata"]["name"]
        strategy = self.served.get(name)
        try:
            await self._update_status(name, None, [_condition(
                "Terminating", "True", "InstanceDeletionInProgress",
                "CustomResource deletion is in progress", objects.rfc3339(self.clock()))])
            while strategy is not None and strategy.rows:
                r = self.scheme.get(strategy.group, strategy.rows[0].version,
                                    strategy.rows[0].resource) or strategy.rows[0]
                left = await self._delete_objects(r)
                if not left:
                    break
                await asyncio.sleep(CLEANUP_RETRY)
            await self._drop_finalizer(name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("cleaning up the objects of %s failed", name)
        finally:
            self._cleanups.pop(name, None)

    async def _delete_objects(self, r: Resource) -> int:
        items = (await self.store.list(r, None, ListOptions()))["items"]
        for obj in items:
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            try:
                await self.store.delete(r, meta.get("namespace"), meta["name"],
                                        DeleteOptions())
            except errors.NotFound:
                pass
        return len((await self.store.list(r, None, ListOptions()))["items"])

    async def _drop_finalizer(self, name: str) -> None:
        async def update(current: Obj | None) -> Obj:
            if current is None:
                raise errors.NotFound.of(self.row, name)
            meta = current["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or []
                                  if f != crd_kind.FINALIZER]
            return current
        try:
            await self.store.guaranteed_update(self.row, None, name, update)
        except errors.NotFound:
            pass


def _merge(conditions: list[Obj], updates: list[Obj]) -> list[Obj]:
    """Conditions with updates applied; a condition whose status does not change keeps its
    lastTransitionTime (and so its whole value)."""
    out = [dict(c) for c in conditions if isinstance(c, dict)]
    for u in updates:
        for i, c in enumerate(out):
            if c.get("type") == u["type"]:
                if (c.get("status"), c.get("reason"), c.get("message")) != \
                        (u["status"], u["reason"], u["message"]):
                    out[i] = u
                break
        else:
            out.append(u)
    return out
