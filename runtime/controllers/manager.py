"""The controller manager: builds the controllers named in CONTROLLERS around one shared
informer factory, optionally behind leader election, and runs them.

Controllers are chosen by name from the explicit table below (module:class), never by
import side effects. Every controller class takes one ControllerContext and offers
`start()` (start workers; informers are already synced) and `async stop()`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from runtime.client.events import EventRecorder
from runtime.client.informer import InformerFactory
from runtime.client.leaderelection import LeaderElector
from runtime.client.rest import Client

log = logging.getLogger(__name__)

CONTROLLERS: dict[str, str] = {
    "replicaset": "runtime.controllers.replicaset.controller:ReplicaSetController",
    "deployment": "runtime.controllers.deployment.controller:DeploymentController",
    "statefulset": "runtime.controllers.statefulset.controller:StatefulSetController",
    "daemonset": "runtime.controllers.daemonset.controller:DaemonSetController",
    "job": "runtime.controllers.job.controller:JobController",
    "cronjob": "runtime.controllers.cronjob.controller:CronJobController",
    "garbagecollector": "runtime.controllers.garbagecollector.controller:GarbageCollector",
    "namespace": "runtime.controllers.namespace.controller:NamespaceController",
    "serviceaccount": "runtime.controllers.serviceaccount.controller:ServiceAccountController",
    "nodelifecycle": "runtime.controllers.nodelifecycle.controller:NodeLifecycleController",
    "podgc": "runtime.controllers.podgc.controller:PodGCController",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ControllerContext:
    client: Client
    informers: InformerFactory
    recorder: EventRecorder
    clock: Callable[[], dt.datetime] = _now
    options: dict[str, Any] = field(default_factory=dict)  # tunables, e.g. eviction timeouts


class ControllerLike(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


def load(name: str) -> type:
    module, cls = CONTROLLERS[name].split(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


async def run_controllers(client: Client, *, names: list[str] | None = None,
                          options: dict[str, Any] | None = None) -> None:
    """Build, sync and run the controllers until cancelled."""
    informers = InformerFactory(client)
    ctx = ControllerContext(client=client, informers=informers,
                            recorder=EventRecorder(client, "kapi-controller-manager"),
                            options=options or {})
    wanted = names if names is not None else list(CONTROLLERS)
    controllers: list[ControllerLike] = []
    for n in wanted:
        try:
            cls = load(n)
        except (ImportError, AttributeError) as e:
            log.warning("controller %s is not available: %s", n, e)
            continue
        controllers.append(cls(ctx))
    informers.start()
    await informers.wait_synced()
    for c in controllers:
        c.start()
    try:
        await asyncio.Event().wait()
    finally:
        for c in controllers:
            await c.stop()
        await informers.stop()


async def run_controller_manager(client: Client, *, leader_elect: bool = True,
                                 names: list[str] | None = None,
                                 options: dict[str, Any] | None = None) -> None:
    async def lead() -> None:
        await run_controllers(client, names=names, options=options)
    if not leader_elect:
        await lead()
        return
    identity = f"{socket.gethostname()}_{id(client):x}"
    await LeaderElector(client, name="kube-controller-manager", namespace="kube-system",
                        identity=identity).run(lead)
