"""The scheduling queue: activeQ (by priority, then arrival), backoffQ and the
unschedulable pods, as upstream's PriorityQueue.

A pod that did not fit waits among the unschedulable pods until a cluster event that may
help (node added or changed, a pod deleted) moves it back, through backoff (1 s doubling
to 10 s per attempt) so a flapping cluster does not spin the scheduler; unschedulable pods
are also retried after `max_unschedulable` seconds regardless. A move request that
arrives while a pod is being scheduled sends that pod to backoff instead of the
unschedulable pods, so no event is lost (upstream's moveRequestCycle).

Holds pod dicts from the informer cache and never mutates them; time comes from an
injected monotonic clock. No I/O.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

Obj = dict[str, Any]


@dataclass(eq=False)
class QueuedPod:
    key: str
    pod: Obj
    timestamp: float
    attempts: int = 0
    cycle: int = 0
    unschedulable_since: float = 0.0
    deleted: bool = False
    ready_at: float = 0.0
    plugins: set[str] = field(default_factory=set)

    @property
    def priority(self) -> int:
        return int((self.pod.get("spec") or {}).get("priority") or 0)


def _spec_changed(old: Obj, new: Obj) -> bool:
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("labels") != nm.get("labels")
            or om.get("annotations") != nm.get("annotations"))


class SchedulingQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 max_unschedulable: float = 300.0) -> None:
        self.clock = clock
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.max_unschedulable = max_unschedulable
        self._pods: dict[str, QueuedPod] = {}       # waiting: active, backoff or unschedulable
        self._where: dict[str, str] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self._last_flush = 0.0
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self.cycle = 0
        self._move_request_cycle = -1

    # -- informer-driven changes ---------------------------------------------------------
    def add(self, pod: Obj) -> None:
        """A pending pod was added or updated."""
        key = f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"
        if key in self._in_flight:
            self._in_flight[key].pod = pod
            return
        qp = self._pods.get(key)
        if qp is None:
            self._push_active(QueuedPod(key, pod, self.clock()))
            return
        old, qp.pod = qp.pod, pod
        if self._where[key] == "unschedulable" and _spec_changed(old, pod):
            self._move(qp)

    def delete(self, key: str) -> None:
        if key in self._in_flight:
            self._in_flight[key].deleted = True
        if self._pods.pop(key, None) is not None:
            self._where.pop(key, None)  # heap entries are dropped lazily
            self._unschedulable.pop(key, None)

    def move_all(self) -> None:
        """A cluster event that may make unschedulable pods schedulable."""
        self._move_request_cycle = self.cycle
        for qp in list(self._unschedulable.values()):
            self._move(qp)

    # -- the scheduling loop's side ------------------------------------------------------
    async def pop(self) -> QueuedPod:
        while True:
            self.flush()
            while self._active:
                _, _, _, key = heapq.heappop(self._active)
                if self._where.get(key) == "active":
                    return self._take(key)
            self._wakeup.clear()
            wait = self._backoff[0][0] - self.clock() if self._backoff else 1.0
            # not asyncio.wait_for: on 3.11 it can swallow a cancellation racing its timeout
            waiter = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait([waiter], timeout=max(min(wait, 1.0), 0.001))
            finally:
                waiter.cancel()

    def done(self, key: str) -> None:
        """The pod was bound (or dropped): it leaves the queue."""
        self._in_flight.pop(key, None)

    def requeue_unschedulable(self, qp: QueuedPod, plugins: set[str]) -> None:
        self._in_flight.pop(qp.key, None)
        if qp.deleted:
            return
        qp.plugins = plugins
        qp.unschedulable_since = self.clock()
        self._pods[qp.key] = qp
        if self._move_request_cycle >= qp.cycle:
            self._push_backoff(qp)
        else:
            self._where[qp.key] = "unschedulable"
            self._unschedulable[qp.key] = qp

    def requeue_backoff(self, qp: QueuedPod) -> None:
        """An error (e.g. a failed binding): try again after the pod's backoff."""
        self._in_flight.pop(qp.key, None)
        if not qp.deleted:
            self._pods[qp.key] = qp
            self._push_backoff(qp)

    def flush(self) -> None:
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            if self._where.get(key) == "backoff" and self._pods[key].ready_at <= now:
                self._push_active(self._pods[key])
        if now - self._last_flush < 1.0:
            return
        self._last_flush = now
        for qp in list(self._unschedulable.values()):
            if now - qp.unschedulable_since > self.max_unschedulable:
                self._move(qp)

    def pending(self) -> dict[str, int]:
        out = {"active": 0, "backoff": 0, "unschedulable": 0}
        for where in self._where.values():
            out[where] += 1
        return out

    # -- internals -----------------------------------------------------------------------
    def _take(self, key: str) -> QueuedPod:
        qp = self._pods.pop(key)
        del self._where[key]
        self.cycle += 1
        qp.cycle, qp.attempts = self.cycle, qp.attempts + 1
        self._in_flight[key] = qp
        return qp

    def _backoff_until(self, qp: QueuedPod) -> float:
        delay = min(self.initial_backoff * float(2 ** max(qp.attempts - 1, 0)), self.max_backoff)
        return qp.unschedulable_since + delay if qp.unschedulable_since else self.clock() + delay

    def _move(self, qp: QueuedPod) -> None:
        if self._backoff_until(qp) > self.clock():
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def _push_active(self, qp: QueuedPod) -> None:
        self._unschedulable.pop(qp.key, None)
        self._pods[qp.key] = qp
        self._where[qp.key] = "active"
        heapq.heappush(self._active, (-qp.priority, qp.timestamp, next(self._seq), qp.key))
        self._wakeup.set()

    def _push_backoff(self, qp: QueuedPod) -> None:
        self._unschedulable.pop(qp.key, None)
        self._pods[qp.key] = qp
        self._where[qp.key] = "backoff"
        qp.ready_at = self._backoff_until(qp)
        heapq.heappush(self._backoff, (qp.ready_at, next(self._seq), qp.key))
        self._wakeup.set()
