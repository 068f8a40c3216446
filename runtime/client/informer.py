"""Informers: list then watch one resource, keep an indexed cache, call handlers.

An informer relists on 410 Gone (and after any broken watch), so its cache converges
to the server's state; handlers see add/update/delete. Cached objects are shared: never
mutate them (copy first). One informer per resource is shared by every controller in a
process through `InformerFactory`.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from typing import Any, Awaitable, Callable

from runtime.client.resources import GVR
from runtime.client.rest import ApiError, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj | None, Obj | None], None]  # (event, old, new)
IndexFunc = Callable[[Obj], list[str]]


def key_of(obj: Obj) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


class Informer:
    def __init__(self, client: Client, gvr: GVR, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> None:
        self.client, self.gvr, self.namespace = client, gvr, namespace
        self.selectors: dict[str, Any] = {k: v for k, v in (("labelSelector", label_selector),
                                            ("fieldSelector", field_selector)) if v}
        self.store: dict[str, Obj] = {}
        self.handlers: list[Handler] = []
        self.indexers: dict[str, IndexFunc] = {"namespace": lambda o: [
            o["metadata"].get("namespace", "")]}
        self.indices: dict[str, dict[str, set[str]]] = {"namespace": {}}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._task: asyncio.Task[None] | None = None

    # -- set-up -------------------------------------------------------------------------
    def add_handler(self, h: Handler) -> None:
        self.handlers.append(h)
        for obj in list(self.store.values()):
            h("add", None, obj)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        self.indexers[name] = fn
        idx: dict[str, set[str]] = {}
        for k, o in self.store.items():
            for v in fn(o):
                idx.setdefault(v, set()).add(k)
        self.indices[name] = idx

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer-{self.gvr.resource}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    # -- reads --------------------------------------------------------------------------
    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.store.values())
        return self.by_index("namespace", namespace)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        return [self.store[k] for k in self.indices[name].get(value, ()) if k in self.store]

    # -- the loop -----------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._list()
                backoff = 0.2
                while True:
                    await self._watch()
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if not e.gone:
                    log.warning("informer %s: %s", self.gvr.resource, e)
                    await asyncio.sleep(backoff)
            except Exception as e:  # connection trouble: relist after a pause
                log.debug("informer %s: %r", self.gvr.resource, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _list(self) -> None:
        items: dict[str, Obj] = {}
        cont = ""
        while True:
            params: dict[str, Any] = dict(self.selectors, limit=500)
            if cont:
                params["continue"] = cont
            res = await self.client.list(self.gvr, self.namespace, **params)
            for o in res.get("items") or []:
                o.setdefault("kind", self.gvr.kind)
                o.setdefault("apiVersion", self.gvr.api_version)
                items[key_of(o)] = o
            cont = res["metadata"].get("continue", "")
            if not cont:
                break
        self.resource_version = res["metadata"]["resourceVersion"]
        self._replace(items)
        self.synced.set()

    def _replace(self, items: dict[str, Obj]) -> None:
        old = self.store
        for k in list(old):
            if k not in items:
                self._delete(k)
        for k, o in items.items():
            self._upsert(k, o)

    async def _watch(self) -> None:
        async for ev in self.client.watch(self.gvr, self.namespace,
                                          resource_version=self.resource_version,
                                          **self.selectors):
            t, obj = ev["type"], ev["object"]
            rv = obj.get("metadata", {}).get("resourceVersion")
            if rv:
                self.resource_version = rv
            if t == "BOOKMARK":
                continue
            k = key_of(obj)
            if t == "DELETED":
                self._delete(k, obj)
            else:
                self._upsert(k, obj)

    def _upsert(self, k: str, obj: Obj) -> None:
        old = self.store.get(k)
        if old is not None and old["metadata"].get("resourceVersion") == obj["metadata"].get(
                "resourceVersion"):
            return
        if old is not None:
            self._unindex(k, old)
        self.store[k] = obj
        for name, fn in self.indexers.items():
            for v in fn(obj):
                self.indices[name].setdefault(v, set()).add(k)
        self._notify("update" if old is not None else "add", old, obj)

    def _delete(self, k: str, last: Obj | None = None) -> None:
        old = self.store.pop(k, None)
        if old is None:
            return
        self._unindex(k, old)
        self._notify("delete", old, last or old)

    def _unindex(self, k: str, obj: Obj) -> None:
        for name, fn in self.indexers.items():
            for v in fn(obj):
                s = self.indices[name].get(v)
                if s is not None:
                    s.discard(k)
                    if not s:
                        del self.indices[name][v]

    def _notify(self, event: str, old: Obj | None, new: Obj | None) -> None:
        for h in self.handlers:
            try:
                h(event, old, new)
            except Exception:
                log.exception("informer handler failed")


class InformerFactory:
    """One shared informer per resource for all controllers of a process."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.informers: dict[GVR, Informer] = {}

    def get(self, gvr: GVR) -> Informer:
        inf = self.informers.get(gvr)
        if inf is None:
            inf = self.informers[gvr] = Informer(self.client, gvr)
        return inf

    def start(self) -> None:
        for inf in self.informers.values():
            inf.start()

    async def wait_synced(self, timeout: float = 30) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation (a
        # SIGTERM during start-up) that races the sync's completion, and the controller
        # manager would then start its controllers and never stop them
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(i.synced.wait() for i in self.informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self.informers.values()))


__all__ = ["Informer", "InformerFactory", "key_of", "Awaitable"]
