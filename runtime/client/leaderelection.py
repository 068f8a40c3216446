"""Leader election through a coordination.k8s.io Lease, as client-go's: the holder
renews every `retry_period`; another candidate takes over once the lease is older
than `lease_duration`. Only the leader runs the guarded coroutine. A leader whose
renewals fail (its API server is gone, say) keeps trying until `renew_deadline` has
passed since its last successful renewal, then steps down; since renew_deadline <
lease_duration it has stopped before anyone else may take over. client-go's defaults:
15 s, 10 s, 2 s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine

from runtime.client.resources import LEASES
from runtime.client.rest import ApiError, Client
from runtime.util.clock import Clock, system_clock
from runtime.util.times import EPOCH, format_micro, parse_time

log = logging.getLogger(__name__)


class LeaderElector:
    def __init__(self, client: Client, *, name: str, namespace: str, identity: str,
                 lease_duration: float = 15, renew_deadline: float = 10,
                 retry_period: float = 2, clock: Clock = system_clock) -> None:
        self.client, self.name, self.namespace, self.identity = client, name, namespace, identity
        self.lease_duration, self.retry_period = lease_duration, retry_period
        self.renew_deadline = renew_deadline
        self.clock = clock
        self.is_leader = False

    async def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        spec = {"holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "renewTime": format_micro(now)}
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as e:
            if not e.not_found:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": spec | {"acquireTime": format_micro(now), "leaseTransitions": 0}}
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
        expired = not renew or (now - (parse_time(renew) or EPOCH)).total_seconds() > cur.get(
            "leaseDurationSeconds", self.lease_duration)
        if holder and holder != self.identity and not expired:
            return False
        new_spec = dict(cur) | spec
        if holder != self.identity:
            new_spec["acquireTime"] = format_micro(now)
            new_spec["leaseTransitions"] = int(cur.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            await self.client.update(LEASES, lease)  # resourceVersion guards the race
            return True
        except ApiError as e:
            if e.conflict:
                return False
            raise

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign forever; run `lead` while leader, cancel it if leadership is lost."""
        task: asyncio.Task[None] | None = None
        renewed = self.clock()
        try:
            while True:
                try:
                    ok = await self.try_acquire_or_renew()
                except Exception as e:
                    log.warning("leader election %s: %s", self.name, e)
                    # a leader keeps leading (and retrying) until its renew deadline
                    ok = task is not None and (
                        self.clock() - renewed).total_seconds() < self.renew_deadline
                else:
                    if ok:
                        renewed = self.clock()
                if task is not None and task.done():
                    task.result()  # the leader's work failed: so does the campaign
                    return
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
            if task is not None:  # the leader's work ends before the campaign does
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
