"""Simulated (kwok-like) nodes: many fake kubelets in one process, cheap enough for 1,000.

A `SimulatedFleet` owns its nodes' registration (Node + Lease in kube-node-lease), their
heartbeats (lease every `lease_interval`, spread over the interval; node status every
`status_interval`), one shared pod watch (fieldSelector spec.nodeName!=, dispatched by
nodeName locally) and the execution of the pod state machine's actions
(runtime/kubelet/podstate.py): status writes and the final gracePeriodSeconds=0 delete.

It is an API client: it never imports kapi/, never runs a container and never routes
traffic to its fake addresses.

Failure modes for tests: `fleet.pause(name)` / `fleet.resume(name)` in-process, or the
annotation sim.kapi.dev/paused="true" on the Node over the API (remove it to resume): a
paused node stops renewing its lease, posting status and acting on its pods, like a
kubelet that lost its network. `fleet.stop_node(name)` stops one node for good.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from runtime.client.informer import Informer
from runtime.client.resources import NODES, PODS
from runtime.client.rest import ApiError, Client
from runtime.kubelet import nodelease, simnode
from runtime.kubelet.podstate import (
    Action,
    DeletePod,
    PodGone,
    PodSeen,
    PodStateMachine,
    SetTimer,
    TimerFired,
    Timing,
    WriteStatus,
    key_of,
)
from runtime.kubelet.simstats import FleetStatsServer
from runtime.util.times import format_timestamp as _rfc3339
from runtime.util.times import format_timestamp_micro as _micro

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class SimConfig:
    lease_interval: float = 10.0
    lease_duration: int = 40
    status_interval: float = 60.0
    timing: Timing = field(default_factory=Timing)
    shape: simnode.NodeShape = field(default_factory=simnode.NodeShape)
    # One cap on the fleet's requests in flight (registration, heartbeats, pod writes):
    # the HTTP client's pool costs grow with its connection count, so keep it small.
    request_concurrency: int = 16
    write_retries: int = 5


@dataclass
class SimulatedNode:
    name: str
    index: int
    machine: PodStateMachine
    paused: bool = False           # by fleet.pause()
    paused_by_api: bool = False    # by the sim.kapi.dev/paused annotation
    stopped: bool = False
    uid: str = ""
    lease: Obj | None = None
    last_status: float = 0.0
    deferred_timers: set[tuple[str, float]] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def active(self) -> bool:
        return not (self.paused or self.paused_by_api or self.stopped)


class SimulatedFleet:
    def __init__(self, client: Client, *, count: int, prefix: str = "kapi-sim-",
                 config: SimConfig | None = None, start_index: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.client, self.config, self.clock = client, config or SimConfig(), clock
        self.nodes: dict[str, SimulatedNode] = {}
        for i in range(start_index, start_index + count):
            name = f"{prefix}{i - start_index}"
            machine = PodStateMachine(name, simnode.host_ip(i), simnode.pod_ip_prefix(i),
                                      self.config.timing)
            self.nodes[name] = SimulatedNode(name, i, machine)
        self.pods = Informer(client, PODS, field_selector="spec.nodeName!=")
        self.pods.add_index("nodeName", lambda p: [p.get("spec", {}).get("nodeName", "")])
        self.node_informer = Informer(client, NODES)
        self._requests = asyncio.Semaphore(self.config.request_concurrency)
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # the nodes' kubelet API (/stats/summary), on each node's address
        self.api = FleetStatsServer(
            nodes={simnode.host_ip(n.index): n.name for n in self.nodes.values()},
            pods_on=lambda name: self.pods.by_index("nodeName", name), clock=clock,
            active=lambda name: self.nodes[name].active)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self.api.bind()
        self.api.start()
        await asyncio.gather(*(self._register_retrying(n) for n in self.nodes.values()))
        self.node_informer.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)
        self.node_informer.start()
        self.pods.start()
        count = max(len(self.nodes), 1)
        for i, n in enumerate(self.nodes.values()):
            offset = self.config.lease_interval * i / count
            self._tasks.append(asyncio.create_task(self._heartbeat(n, offset),
                                                   name=f"heartbeat-{n.name}"))

    async def stop(self) -> None:
        for n in self.nodes.values():
            n.stopped = True
        for t in self._tasks + list(self._inflight.values()):
            t.cancel()
        await asyncio.gather(*self._tasks, *self._inflight.values(), return_exceptions=True)
        await self.pods.stop()
        await self.node_informer.stop()
        await self.api.stop()

    def pause(self, name: str) -> None:
        self.nodes[name].paused = True

    def resume(self, name: str) -> None:
        node = self.nodes[name]
        node.paused = False
        self._resumed(node)

    def stop_node(self, name: str) -> None:
        self.nodes[name].stopped = True

    # -- registration and heartbeats -----------------------------------------------------
    async def _register_retrying(self, n: SimulatedNode, attempts: int = 8) -> None:
        for attempt in range(attempts):
            try:
                async with self._requests:
                    await self._register(n)
                return
            except (ApiError, httpx.HTTPError) as e:
                if attempt == attempts - 1:
                    raise
                log.warning("registering node %s failed (%s); retrying", n.name, e)
                await asyncio.sleep(min(0.2 * 2 ** attempt, 5.0))

    async def _register(self, n: SimulatedNode) -> None:
        now = self.clock()
        doc = simnode.node_document(n.name, n.index, self.config.shape, _rfc3339(now),
                                    port=self.api.port)
        try:
            created = await self.client.create(NODES, doc)
        except ApiError as e:
            if not e.already_exists:
                raise
            created = await self.client.patch(NODES, n.name, {"status": doc["status"]},
                                              subresource="status")
        n.uid, n.last_status = created["metadata"].get("uid", ""), now
        await self._renew_lease(n)

    async def _heartbeat(self, n: SimulatedNode, offset: float) -> None:
        await self._sleep(n, offset)
        while not n.stopped:
            if n.active:
                try:
                    async with self._requests:
                        await self._renew_lease(n)
                        if self.clock() - n.last_status >= self.config.status_interval:
                            await self._post_status(n)
                except (ApiError, httpx.HTTPError) as e:
                    log.debug("heartbeat of %s failed: %s", n.name, e)
            await self._sleep(n, self.config.lease_interval)

    async def _sleep(self, n: SimulatedNode, seconds: float) -> None:
        """Sleep, or less if woken. Not asyncio.wait_for: on 3.11 it can swallow a
        cancellation that races its timeout, and the heartbeat would never stop."""
        n.wake.clear()
        waiter = asyncio.ensure_future(n.wake.wait())
        try:
            await asyncio.wait([waiter], timeout=seconds)
        finally:
            waiter.cancel()

    async def _renew_lease(self, n: SimulatedNode) -> None:
        now = _micro(self.clock())
        n.lease = await nodelease.renew(self.client, n.lease, n.name, n.uid,
                                        self.config.lease_duration, now)

    async def _post_status(self, n: SimulatedNode) -> None:
        now = self.clock()
        current = self.node_informer.get(n.name)
        patch = simnode.status_conditions_patch(current, _rfc3339(now))
        await self.client.patch(NODES, n.name, patch, subresource="status")
        n.last_status = now

    # -- watches -------------------------------------------------------------------------
    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        n = self.nodes.get((obj or {}).get("metadata", {}).get("name", ""))
        if n is None or event == "delete":
            return
        annotations = new.get("metadata", {}).get("annotations") or {} if new else {}
        paused = annotations.get(simnode.PAUSED_ANNOTATION) == "true"
        if paused != n.paused_by_api:
            n.paused_by_api = paused
            if not paused:
                self._resumed(n)

    def _resumed(self, n: SimulatedNode) -> None:
        """Catch up after a pause: report status now, forget pods deleted meanwhile,
        replay the others and the timers that fired while paused."""
        if not n.active:
            return
        n.last_status = 0.0
        n.wake.set()
        pods = self.pods.by_index("nodeName", n.name)
        present = {key_of(p) for p in pods}
        for key in [k for k in n.machine.records if k not in present]:
            self._dispatch(n, PodGone(key))
        for pod in pods:
            self._dispatch(n, PodSeen(pod, self.clock()))
        for key, at in list(n.deferred_timers):
            n.deferred_timers.discard((key, at))
            self._dispatch(n, TimerFired(key, self.clock(), at))

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        pod = new if event != "delete" else old
        if pod is None:
            return
        n = self.nodes.get((pod.get("spec") or {}).get("nodeName", ""))
        if n is None or not n.active:
            return
        if event == "delete":
            self._dispatch(n, PodGone(key_of(pod)))
        else:
            self._dispatch(n, PodSeen(pod, self.clock()))

    def _dispatch(self, n: SimulatedNode, event: PodSeen | PodGone | TimerFired) -> None:
        actions = n.machine.handle(event)
        writes: list[Action] = []
        loop = asyncio.get_running_loop()
        for a in actions:
            if isinstance(a, SetTimer):
                loop.call_later(max(a.at - self.clock(), 0.0), self._fire, n, a.key, a.at)
            else:
                writes.append(a)
        if writes:
            key = f"{n.name}/{key_of_action(writes[0])}"
            prev = self._inflight.get(key)
            task = asyncio.create_task(self._perform(prev, writes))
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._done, key))

    def _fire(self, n: SimulatedNode, key: str, at: float) -> None:
        if n.stopped:
            return
        if not n.active:
            n.deferred_timers.add((key, at))
            return
        self._dispatch(n, TimerFired(key, max(self.clock(), at), at))

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    # -- actions -------------------------------------------------------------------------
    async def _perform(self, prev: asyncio.Task[None] | None, actions: list[Action]) -> None:
        """Run one pod's writes in order, after that pod's earlier writes."""
        if prev is not None:
            await asyncio.gather(prev, return_exceptions=True)
        for a in actions:
            if not await self._retrying(a):
                return

    async def _retrying(self, a: Action) -> bool:
        delay = 0.1
        for attempt in range(self.config.write_retries):
            try:
                async with self._requests:
                    await self._write(a)
                return True
            except ApiError as e:
                if e.not_found or e.conflict:
                    return False  # the pod is gone or was replaced: nothing left to do
                log.debug("simulated kubelet: %s failed: %s", type(a).__name__, e)
            except httpx.HTTPError as e:
                log.debug("simulated kubelet: %s failed: %r", type(a).__name__, e)
            await asyncio.sleep(delay * (2 ** attempt))
        return False

    async def _write(self, a: Action) -> None:
        if isinstance(a, WriteStatus):
            await self.client.patch(PODS, a.name, {"status": a.status}, a.namespace,
                                    subresource="status")
        elif isinstance(a, DeletePod):
            await self.client.delete(PODS, a.name, a.namespace, grace_period_seconds=0,
                                     preconditions={"uid": a.uid})


def key_of_action(a: Action) -> str:
    if isinstance(a, (WriteStatus, DeletePod)):
        return f"{a.namespace}/{a.name}"
    return a.key


async def run_simulated_nodes(client: Client, *, count: int, prefix: str = "kapi-sim-",
                              config: SimConfig | None = None) -> None:
    """Register `count` simulated nodes and keep them alive until cancelled."""
    fleet = SimulatedFleet(client, count=count, prefix=prefix, config=config)
    try:
        await fleet.start()
        await asyncio.Event().wait()
    except Exception:
        log.exception("simulated nodes %s*: failed", prefix)
        raise
    finally:
        await fleet.stop()
