"""Simulated nodes against a real API server (the apiserver alone, no scheduler): they
register and heartbeat, run pods bound to them, complete Job pods, finish graceful
deletes, and stop heartbeating while paused (by annotation or in-process)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, TypeVar

from runtime.client.resources import LEASES, NODES, PODS
from runtime.client.rest import ApiError, Client
from runtime.kubelet.podstate import Timing
from runtime.kubelet.simulated import SimConfig, SimulatedFleet
from tests.conftest import Server
from tests.helpers import until

T = TypeVar("T")
Obj = dict[str, Any]
FAST = SimConfig(lease_interval=0.2, status_interval=0.5,
                 timing=Timing(start_delay=0.05, complete_after=0.2))


def pod(name: str, node: str, **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"nodeName": node, "restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "busybox"}]}}


async def phase(c: Client, name: str) -> str:
    try:
        return str((await c.get(PODS, name, "default")).get("status", {}).get("phase"))
    except ApiError as e:
        return "Gone" if e.not_found else "?"


async def renew_time(c: Client, node: str) -> str:
    return str((await c.get(LEASES, node, "kube-node-lease"))["spec"]["renewTime"])


def test_fleet_lifecycle(server: Server) -> None:
    prefix = f"sim{uuid.uuid4().hex[:6]}-"
    n0, n1 = f"{prefix}0", f"{prefix}1"

    async def main() -> None:
        c = server.runtime_client()
        fleet = SimulatedFleet(server.runtime_client(), count=2, prefix=prefix, config=FAST)
        await fleet.start()
        try:
            node = await c.get(NODES, n0)
            ready = next(x for x in node["status"]["conditions"] if x["type"] == "Ready")
            assert ready["status"] == "True" and node["status"]["allocatable"]["pods"] == "110"
            await running_and_deleted(c, n0, prefix)
            await paused_by_annotation(c, fleet, n0, n1, prefix)
        finally:
            await fleet.stop()
            for n in (n0, n1):
                await c.delete(NODES, n)
            await c.close()
    asyncio.run(main())


async def running_and_deleted(c: Client, node: str, prefix: str) -> None:
    await c.create(PODS, pod(f"{prefix}web", node), "default")
    await until(lambda: _is(c, f"{prefix}web", "Running"), "Running")
    got = await c.get(PODS, f"{prefix}web", "default")
    assert got["status"]["podIP"].startswith("10.") and got["status"]["hostIP"].startswith("127.")
    job = pod(f"{prefix}job", node, ownerReferences=[
        {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": str(uuid.uuid4()),
         "controller": True}])
    await c.create(PODS, job, "default")
    await until(lambda: _is(c, f"{prefix}job", "Succeeded"), "Succeeded")
    await c.delete(PODS, f"{prefix}web", "default")  # graceful: the node finishes it
    await until(lambda: _is(c, f"{prefix}web", "Gone"), "graceful delete finished")
    await c.delete(PODS, f"{prefix}job", "default")


async def _is(c: Client, name: str, want: str) -> bool:
    return await phase(c, name) == want


async def paused_by_annotation(c: Client, fleet: SimulatedFleet, n0: str, n1: str,
                               prefix: str) -> None:
    await c.patch(NODES, n1, {"metadata": {"annotations": {"sim.kapi.dev/paused": "true"}}})
    await until(lambda: _async(fleet.nodes[n1].paused_by_api), "pause seen")
    frozen = await renew_time(c, n1)
    seen = {await renew_time(c, n0)}
    await until(lambda: _grows(seen, c, n0, 4), "three renewals of the other node")
    assert await renew_time(c, n1) == frozen
    await c.create(PODS, pod(f"{prefix}late", n1), "default")
    await until(lambda: _grows(seen, c, n0, 7), "more renewals of the other node")
    assert await phase(c, f"{prefix}late") == "Pending"
    await c.patch(NODES, n1, {"metadata": {"annotations": {"sim.kapi.dev/paused": None}}})
    await until(lambda: _is(c, f"{prefix}late", "Running"), "Running after resume")
    await until(lambda: _changed(c, n1, frozen), "lease renewed after resume")
    fleet.pause(n0)
    fleet.resume(n0)
    await c.delete(PODS, f"{prefix}late", "default", grace_period_seconds=0)


async def _async(v: bool) -> bool:
    return v


async def _grows(seen: set[str], c: Client, node: str, size: int) -> bool:
    seen.add(await renew_time(c, node))
    return len(seen) >= size


async def _changed(c: Client, node: str, old: str) -> bool:
    return await renew_time(c, node) != old
