"""A harness for driving one workload controller against a real kapi API server (the
session `server` fixture: no other controllers, scheduler or kubelets), with a fake
clock. Tests call `reconcile` themselves after moving time, and play the kubelet by
writing pod status; `until` waits, with a bound, for the informer caches to catch up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, Awaitable, TypeVar

from runtime.client.events import EventRecorder
from runtime.client.informer import InformerFactory
from runtime.client.resources import EVENTS, GVR, PODS
from runtime.client.rest import Client
from runtime.controllers.context import ControllerContext, ControllerOptions
from tests.helpers import until as until  # the harness's tests wait with it

Obj = dict[str, Any]
T = TypeVar("T")


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, t: dt.datetime) -> None:
        self.now = t

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Harness:
    def __init__(self, kubeconfig: Path, controller_cls: type, *,
                 start: dt.datetime | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.client = Client.from_kubeconfig(kubeconfig, user_agent="workload-tests")
        self.clock = FakeClock(start or dt.datetime.now(dt.UTC))
        self.informers = InformerFactory(self.client)
        self.ctx = ControllerContext(client=self.client, informers=self.informers,
                                     recorder=EventRecorder(self.client, "tests"),
                                     clock=self.clock,
                                     options=ControllerOptions.from_mapping(options or {}))
        self.controller = controller_cls(self.ctx)

    async def __aenter__(self) -> Harness:
        self.informers.start()
        await self.informers.wait_synced()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.informers.stop()
        await self.client.close()

    def cached(self, gvr: GVR, ns: str, name: str) -> Obj | None:
        return self.informers.get(gvr).get(f"{ns}/{name}")

    async def synced(self, gvr: GVR, obj: Obj) -> Obj:
        """Wait until the cache holds obj at (at least) the version just written."""
        key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        rv = int(obj["metadata"]["resourceVersion"])
        inf = self.informers.get(gvr)
        return await until(lambda: (o := inf.get(key)) is not None and int(
            o["metadata"]["resourceVersion"]) >= rv and o, what=f"{key} in the cache")

    async def reconcile(self, ns: str, name: str) -> float | None:
        return await self.controller.reconcile(f"{ns}/{name}")  # type: ignore[no-any-return]

    async def events(self, ns: str) -> list[tuple[str, str]]:
        items = (await self.client.list(EVENTS, ns))["items"]
        items.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
        return [(e["reason"], e["message"]) for e in items]

    async def set_pod_phase(self, pod: Obj, phase: str, *, ready: bool = False) -> Obj:
        """Play the kubelet: write the pod's phase (and Ready condition)."""
        status = {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
        if phase in ("Succeeded", "Failed"):
            code = 0 if phase == "Succeeded" else 1
            status["containerStatuses"] = [{"name": "c", "ready": False, "restartCount": 0,
                                            "state": {"terminated": {"exitCode": code}}}]
        new = await self.client.patch(PODS, pod["metadata"]["name"], {"status": status},
                                      pod["metadata"]["namespace"], subresource="status")
        return await self.synced(PODS, new)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def caches_match(h: Harness, ns: str, *gvrs: GVR) -> None:
    """Wait until the informer caches of ns hold exactly what the API server holds."""
    for gvr in gvrs:
        listed = (await h.client.list(gvr, ns))["items"]
        want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listed}
        inf = h.informers.get(gvr)

        def same(inf: Any = inf, want: dict[str, str] = want) -> bool:
            have = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.list(ns)}
            return have == want
        await until(same, what=f"{gvr.resource} cache of {ns}")


async def settle(h: Harness, ns: str, name: str, gvrs: tuple[GVR, ...], *,
                 rounds: int = 8) -> float | None:
    """Reconcile until nothing changes any more (bounded); the last requeue delay."""
    again: float | None = None
    for _ in range(rounds):
        before = [(await h.client.list(g, ns))["metadata"]["resourceVersion"] for g in gvrs]
        await caches_match(h, ns, *gvrs)
        again = await h.reconcile(ns, name)
        after = [(await h.client.list(g, ns))["metadata"]["resourceVersion"] for g in gvrs]
        if before == after:
            return again
    return again
