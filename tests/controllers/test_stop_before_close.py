"""Every controller stops all of its work in `stop()`: once it returns, no task of the
controller is left that could still use the API client the caller is about to close
(the shutdown race of `kapi up`, where a controller's request met a closed client).

Each controller runs against a real API server (subprocess) with real informers, is
given work (a namespace, a ReplicaSet, an RC, a Job ...), and is stopped mid-flight."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime.client.events import EventRecorder
from runtime.client.informer import InformerFactory
from runtime.client.resources import NAMESPACES, REPLICASETS, REPLICATIONCONTROLLERS
from runtime.client.rest import Client
from runtime.controllers.context import ControllerContext, ControllerOptions
from runtime.controllers.manager import CONTROLLERS, build
from tests.conftest import Server

TEMPLATE = {"metadata": {"labels": {"app": "s"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def _stir(client: Client, ns: str) -> None:
    """Work for most controllers: a namespace (service accounts), a ReplicaSet and an RC
    (pods to create), each at once, without waiting for the outcome."""
    await client.create(NAMESPACES, {"metadata": {"name": ns}})
    await client.create(REPLICASETS, {"metadata": {"name": "s"}, "spec": {
        "replicas": 3, "selector": {"matchLabels": {"app": "s"}}, "template": TEMPLATE}}, ns)
    await client.create(REPLICATIONCONTROLLERS, {"metadata": {"name": "s"}, "spec": {
        "replicas": 3, "template": TEMPLATE}}, ns)


async def _run_and_stop(kubeconfig: Path, name: str, ns: str) -> set[asyncio.Task[object]]:
    before = asyncio.all_tasks()
    client = Client.from_kubeconfig(kubeconfig)
    informers = InformerFactory(client)
    ctx = ControllerContext(client=client, informers=informers,
                            recorder=EventRecorder(client, "test"), options=ControllerOptions())
    (controller,) = build(ctx, [name])
    informers.start()
    await informers.wait_synced()
    controller.start()
    await _stir(client, ns)
    await asyncio.sleep(0.05)  # mid-flight: workers are reconciling
    await controller.stop()
    await informers.stop()
    for _ in range(3):  # wake-up notifications of the work queue finish within a tick
        await asyncio.sleep(0)
    left = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()
            and not t.done()}
    await client.close()
    return left


@pytest.mark.parametrize("name", list(CONTROLLERS))
def test_stop_leaves_no_work_behind(server: Server, name: str) -> None:
    left = asyncio.run(_run_and_stop(server.kubeconfig, name, f"stop-{name}"))
    assert not left, [t.get_name() for t in left]
