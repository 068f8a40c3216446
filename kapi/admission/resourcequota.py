"""ResourceQuota admission: refuse a write that would take a namespace past a quota, and
charge what it admits to the quota's status.used before the object is stored.

As upstream, it reads status.hard and status.used (the quota controller fills them): a
quota whose usage is not known yet refuses what it covers ("status unknown"). Charges
are written to the quota's status with its resourceVersion as a precondition and under
one lock per namespace, so two concurrent creates never both take the last unit (the
lock is taken only where a quota exists: elsewhere writes do not queue behind each
other's consistent reads, an etcd round trip each on etcd); a charge that loses a race
re-reads the quota and checks again. The quota controller
later recounts from the objects themselves (releasing what deletions and failed writes
leave behind). Dry runs are checked but never charged.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from kapi import admission, errors
from kapi.admission import quotausage as usage_of
from kapi.admission import resourcelist as rl
from kapi.admission.refuse import forbidden
from kapi.meta import objects
from kapi.meta.resources import Resource, Scheme

Obj = dict[str, Any]
ATTEMPTS = 8


class ResourceQuota:
    def __init__(self, scheme: Scheme, clock: objects.Clock) -> None:
        quotas = scheme.get("", "v1", "resourcequotas")
        assert quotas is not None
        self.quotas, self.clock = quotas, clock
        self.store: Any = None  # the generic store, set once it exists (it runs this step)
        self._locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        req = admission.current()
        ns = (new.get("metadata") or {}).get("namespace")
        if not r.namespaced or not ns or not usage_of.handles(r.resource, op, req.subresource):
            return
        if await self._list(ns):  # else nothing to check or charge: no need to queue
            lock = self._locks.setdefault(ns, asyncio.Lock())
            async with lock:
                await self._admit(r, ns, new, old, req)  # reads the quotas again, locked
        admission.set_current(req)  # the charge was a write of its own

    async def _admit(self, r: Resource, ns: str, new: Obj, old: Obj | None,
                     req: admission.Request) -> None:
        quotas = await self._list(ns)
        if not quotas:
            return
        delta = self._delta(r, new, old)
        covering = [qu for qu in quotas if self._check(r, new, qu)]
        if not covering or not delta:
            return
        for quota in covering:
            self._fits(r, new, quota, delta)
        if not req.dry_run:
            for quota in covering:
                await self._charge(r, new, quota, delta)

    async def _list(self, ns: str) -> list[Obj]:
        from kapi.registry.store import ListOptions  # the store imports admission
        out = await self.store.list(self.quotas, ns, ListOptions())
        items: list[Obj] = out["items"]
        return items

    def _delta(self, r: Resource, new: Obj, old: Obj | None) -> rl.ResourceList:
        now = self.clock()
        delta = usage_of.usage(r.resource, r.group, new, now)
        if old is not None and (old.get("metadata") or {}).get("resourceVersion"):
            delta = rl.subtract_floor_zero(delta, usage_of.usage(r.resource, r.group, old, now))
        return rl.non_zero(delta)

    def _check(self, r: Resource, new: Obj, quota: Obj) -> bool:
        """Whether the quota covers this object; refuses when it cannot tell yet."""
        status = quota.get("status") or {}
        hard = status.get("hard") or {}
        names = usage_of.matching(r.resource, r.group, hard)
        if not names or not usage_of.matches_scopes(quota, r.resource, r.group, new):
            return False
        name = quota["metadata"]["name"]
        if r.resource == "pods" and not r.group:
            missing = usage_of.missing_requests(new, set(names))
            if missing:
                raise forbidden(r, new, f"failed quota: {name}: must specify {missing}")
        used = status.get("used") or {}
        if any(n not in used for n in names):
            raise forbidden(r, new, f"status unknown for quota: {name}, resources: "
                                    f"{','.join(sorted(names))}")
        return True

    def _fits(self, r: Resource, new: Obj, quota: Obj, delta: rl.ResourceList) -> None:
        status = quota.get("status") or {}
        hard, used = rl.parse_list(status.get("hard")), rl.parse_list(status.get("used"))
        requested = rl.mask(delta, hard)
        over = rl.exceeded(rl.mask(rl.add(used, requested), requested), hard)
        if over:
            raise forbidden(r, new, (
                f"exceeded quota: {quota['metadata']['name']}, "
                f"requested: {rl.pretty(rl.mask(requested, over))}, "
                f"used: {rl.pretty(rl.mask(used, over))}, "
                f"limited: {rl.pretty(rl.mask(hard, over))}"))

    async def _charge(self, r: Resource, new: Obj, quota: Obj, delta: rl.ResourceList) -> None:
        name = quota["metadata"]["name"]
        ns = quota["metadata"]["namespace"]
        for _ in range(ATTEMPTS):
            self._fits(r, new, quota, delta)
            try:
                await self.store.guaranteed_update(
                    self.quotas, ns, name, _charged(quota, delta), subresource="status",
                    retry=False)
                return
            except errors.Conflict:
                quota = await self.store.get(self.quotas, ns, name)
            except errors.NotFound:
                return  # deleted meanwhile: nothing left to charge
        raise errors.Conflict(f'Operation cannot be fulfilled on resourcequotas "{name}": '
                              "the object has been modified; please apply your changes to "
                              "the latest version and try again")


def _charged(quota: Obj, delta: rl.ResourceList) -> Callable[[Obj | None], Any]:
    """The update function: the quota as read, plus the charge (a precondition on its
    resourceVersion makes a concurrent change a Conflict)."""

    async def apply(current: Obj | None) -> Obj:
        assert current is not None
        status = current.setdefault("status", {})
        hard = rl.parse_list(status.get("hard"))
        used = rl.parse_list(status.get("used"))
        status["used"] = rl.to_api(rl.add(used, rl.mask(delta, hard)))
        current["metadata"]["resourceVersion"] = quota["metadata"]["resourceVersion"]
        return current
    return apply
