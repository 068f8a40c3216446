"""The scheduler's I/O shell: informers feed the cache and the queue; one loop pops a pod,
runs a (synchronous) cycle over the cache, assumes the pod onto the chosen node and
hands the binding to a bounded set of concurrent bind tasks, so the next cycle starts
while earlier binds are in flight.

Outcomes are reported as upstream's scheduler does: a Normal `Scheduled` event on
success; on failure the PodScheduled=False/Unschedulable condition (patched only when
it changes) and a Warning `FailedScheduling` event. Only pods whose spec.schedulerName
is this profile's (default-scheduler, or unset) are scheduled.

It is an API client (never imports kapi/) and never mutates informer objects.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Callable

import httpx

from runtime.client.events import EventRecorder
from runtime.client.informer import Informer, key_of
from runtime.client.resources import NODES, PODS
from runtime.client.rest import ApiError, Client
from runtime.scheduler.cache import SchedulerCache
from runtime.scheduler.cycle import Cycle, FitError
from runtime.scheduler.nodeinfo import PodInfo
from runtime.scheduler.profile import Profile, default_profile
from runtime.scheduler.queue import QueuedPod, SchedulingQueue
from runtime.util.clock import system_clock
from runtime.util.times import format_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NOT_TERMINAL = "status.phase!=Succeeded,status.phase!=Failed"


def _now() -> str:
    return format_time(system_clock())


def _node_changed(old: Obj | None, new: Obj) -> bool:
    """Whether a node update may let an unschedulable pod fit (heartbeats do not)."""
    if old is None:
        return True
    o, n = old.get("metadata") or {}, new.get("metadata") or {}
    return (o.get("labels") != n.get("labels") or old.get("spec") != new.get("spec")
            or (old.get("status") or {}).get("allocatable")
            != (new.get("status") or {}).get("allocatable"))


class Scheduler:
    def __init__(self, client: Client, *, identity: str, profile: Profile | None = None,
                 bind_concurrency: int = 32, event_workers: int = 2,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.client, self.identity = client, identity
        self.profile = profile or default_profile()
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(clock=clock)
        self.cycle = Cycle(self.profile, rng=rng)
        self.pods = Informer(client, PODS, field_selector=NOT_TERMINAL)
        self.nodes = Informer(client, NODES)
        self.recorder = EventRecorder(client, self.profile.scheduler_name, instance=identity)
        # requests in flight are capped: the HTTP client's pool costs grow with its size
        self._binds = asyncio.Semaphore(bind_concurrency)
        self._patches = asyncio.Semaphore(4)
        # as upstream's broadcaster: at most 1000 queued events, newer ones dropped when full
        self._events: asyncio.Queue[tuple[Obj, str, str, str]] = asyncio.Queue(maxsize=1000)
        self._event_workers = event_workers
        self._tasks: set[asyncio.Task[None]] = set()
        self.bound = 0

    # -- running -------------------------------------------------------------------------
    async def run(self) -> None:
        """Sync the informers, then schedule until cancelled."""
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)
        self.nodes.start()
        self.pods.start()
        workers = [asyncio.create_task(self._event_worker()) for _ in range(self._event_workers)]
        try:
            await asyncio.gather(self.nodes.synced.wait(), self.pods.synced.wait())
            log.info("scheduler %s: caches synced, scheduling", self.identity)
            await self._loop()
        finally:
            for t in workers + list(self._tasks):
                t.cancel()
            await asyncio.gather(*workers, *self._tasks, return_exceptions=True)
            await self.pods.stop()
            await self.nodes.stop()

    async def _loop(self) -> None:
        while True:
            qp = await self.queue.pop()
            try:
                await self._schedule_one(qp)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduling %s failed", qp.key)
                self.queue.requeue_backoff(qp)
            await asyncio.sleep(0)  # let binds and watches make progress

    # -- informer handlers ---------------------------------------------------------------
    def _responsible(self, pod: Obj) -> bool:
        name = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        return bool(name == self.profile.scheduler_name)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event == "delete":
            assert old is not None
            if (old.get("spec") or {}).get("nodeName"):
                self.cache.remove_pod(key_of(old))
                self.queue.move_all()
            else:
                self.queue.delete(key_of(old))
            return
        assert new is not None
        if (new.get("spec") or {}).get("nodeName"):
            if old is None or not (old.get("spec") or {}).get("nodeName"):
                self.queue.delete(key_of(new))
            self.cache.add_pod(new)
        elif new["metadata"].get("deletionTimestamp"):
            self.queue.delete(key_of(new))
        elif self._responsible(new):
            self.queue.add(new)

    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event == "delete":
            assert old is not None
            self.cache.remove_node(old["metadata"]["name"])
            return
        assert new is not None
        self.cache.add_node(new)
        if _node_changed(old, new):
            self.queue.move_all()

    # -- one pod -------------------------------------------------------------------------
    async def _schedule_one(self, qp: QueuedPod) -> None:
        pod = self.pods.get(qp.key)
        if (qp.deleted or pod is None or (pod.get("spec") or {}).get("nodeName")
                or pod["metadata"].get("deletionTimestamp") or not self._responsible(pod)):
            self.queue.done(qp.key)
            return
        info = PodInfo.of(pod)
        result = self.cycle.schedule(info, self.cache.node_list)
        if isinstance(result, FitError):
            self.queue.requeue_unschedulable(qp, result.plugins)
            self._spawn(self._report_unschedulable(pod, result.message()))
            return
        self.cache.assume(info, result.node)
        await self._binds.acquire()
        self._spawn(self._bind(qp, info, result.node))

    async def _bind(self, qp: QueuedPod, info: PodInfo, node: str) -> None:
        meta = info.pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": name, "namespace": ns, "uid": info.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            await self.client.request("POST", PODS.path(ns, name, "binding"), body=body)
        except (ApiError, httpx.HTTPError) as e:
            self.cache.forget(info.key)
            if isinstance(e, ApiError) and (e.not_found or e.conflict):
                self.queue.done(info.key)  # gone, being deleted, or bound by someone else
                return
            log.warning("binding %s to %s failed: %s", info.key, node, e)
            self.queue.requeue_backoff(qp)
            self._record(info.pod, "Warning", "FailedScheduling", f"Binding rejected: {e}")
            return
        finally:
            self._binds.release()
        self.queue.done(info.key)
        self.bound += 1
        log.debug("Successfully bound pod %s to node %s", info.key, node)
        self._record(info.pod, "Normal", "Scheduled",
                     f"Successfully assigned {ns}/{name} to {node}")

    async def _report_unschedulable(self, pod: Obj, message: str) -> None:
        self._record(pod, "Warning", "FailedScheduling", message)
        conditions = list((pod.get("status") or {}).get("conditions") or [])
        for c in conditions:
            if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get(
                    "reason") == "Unschedulable" and c.get("message") == message:
                return  # already says so
        cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": message, "lastProbeTime": None, "lastTransitionTime": _now()}
        conditions = [c for c in conditions if c.get("type") != "PodScheduled"] + [cond]
        meta = pod["metadata"]
        try:
            async with self._patches:
                await self.client.patch(PODS, meta["name"], {"status": {"conditions": conditions}},
                                        meta.get("namespace"), subresource="status")
        except (ApiError, httpx.HTTPError) as e:
            log.debug("updating the condition of %s failed: %s", key_of(pod), e)

    # -- events --------------------------------------------------------------------------
    def _record(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        try:
            self._events.put_nowait((pod, type_, reason, message))
        except asyncio.QueueFull:
            log.debug("event queue full: dropping %s for %s", reason, key_of(pod))

    async def _event_worker(self) -> None:
        while True:
            pod, type_, reason, message = await self._events.get()
            await self.recorder.event(pod, type_, reason, message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
