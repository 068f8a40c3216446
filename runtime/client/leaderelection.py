"""Leader election through a coordination.k8s.io Lease, as client-go's: the holder
renews every `retry_period`; another candidate takes over once the lease is older
than `lease_duration`. Only the leader runs the guarded coroutine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Awaitable, Callable

from runtime.client.resources import LEASES
from runtime.client.rest import ApiError, Client

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


class LeaderElector:
    def __init__(self, client: Client, *, name: str, namespace: str, identity: str,
                 lease_duration: float = 15, retry_period: float = 2,
                 clock: Callable[[], dt.datetime] = _now) -> None:
        self.client, self.name, self.namespace, self.identity = client, name, namespace, identity
        self.lease_duration, self.retry_period = lease_duration, retry_period
        self.clock = clock
        self.is_leader = False

    async def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        spec = {"holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "renewTime": _fmt(now)}
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as e:
            if not e.not_found:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": spec | {"acquireTime": _fmt(now), "leaseTransitions": 0}}
            try:
                await self.client.create(LEASES, body)
                return True
            except ApiError as e2:
                if e2.already_exists:
                    return False
                raise
        cur: dict[str, Any] = lease.get("spec") or {}
        holder = cur.get("holderIdentity")
        renew = cur.get("renewTime")
        expired = not renew or (now - _parse(renew)).total_seconds() > cur.get(
            "leaseDurationSeconds", self.lease_duration)
        if holder and holder != self.identity and not expired:
            return False
        new_spec = dict(cur) | spec
        if holder != self.identity:
            new_spec["acquireTime"] = _fmt(now)
            new_spec["leaseTransitions"] = int(cur.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            await self.client.update(LEASES, lease)  # resourceVersion guards the race
            return True
        except ApiError as e:
            if e.conflict:
                return False
            raise

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Campaign forever; run `lead` while leader, cancel it if leadership is lost."""
        task: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    ok = await self.try_acquire_or_renew()
                except Exception as e:
                    log.warning("leader election %s: %s", self.name, e)
                    ok = False
                if ok and task is None:
                    log.info("%s became leader of %s", self.identity, self.name)
                    self.is_leader = True
                    task = asyncio.create_task(lead())
                elif not ok and task is not None:
                    log.warning("%s lost leadership of %s", self.identity, self.name)
                    self.is_leader = False
                    task.cancel()
                    task = None
                await asyncio.sleep(self.retry_period)
        finally:
            if task is not None:
                task.cancel()
