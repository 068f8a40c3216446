"""The controller manager: builds the controllers chosen from CONTROLLERS around one
shared informer factory, optionally behind leader election, and runs them.

CONTROLLERS is the explicit table of controller classes (name -> class): a controller
that cannot be imported breaks the import of this module, and one that cannot be built
or started stops start-up with ControllerStartError naming it; none silently vanishes.
Every controller class takes one ControllerContext and offers `start()` (start
workers; informers are already synced) and `async stop()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import uuid
from typing import Iterable, Mapping, Protocol

from runtime.client.events import EventRecorder
from runtime.client.informer import InformerFactory
from runtime.client.leaderelection import LeaderElector
from runtime.client.rest import Client
from runtime.controllers.bootstrap.tokencleaner import TokenCleaner
from runtime.controllers.certificates.approver import CSRApprovingController
from runtime.controllers.certificates.signer import CSRSigningController
from runtime.controllers.clusterroleaggregation.controller import (
    ClusterRoleAggregationController,
)
from runtime.controllers.context import ControllerContext, ControllerOptions
from runtime.controllers.credentials import ServiceAccountCredentials
from runtime.controllers.cronjob.controller import CronJobController
from runtime.controllers.daemonset.controller import DaemonSetController
from runtime.controllers.deployment.controller import DeploymentController
from runtime.controllers.disruption.controller import DisruptionController
from runtime.controllers.endpoints.controller import EndpointsController
from runtime.controllers.endpointslice.controller import (
    EndpointSliceController,
    EndpointSliceMirroringController,
)
from runtime.controllers.garbagecollector.controller import GarbageCollector
from runtime.controllers.job.controller import JobController
from runtime.controllers.localpath.controller import LocalPathProvisioner
from runtime.controllers.namespace.controller import NamespaceController
from runtime.controllers.nodelifecycle.controller import NodeLifecycleController
from runtime.controllers.podautoscaler.controller import HorizontalController
from runtime.controllers.podgc.controller import PodGCController
from runtime.controllers.replicaset.controller import ReplicaSetController
from runtime.controllers.replicationcontroller.controller import ReplicationControllerController
from runtime.controllers.resourcequota.controller import ResourceQuotaController
from runtime.controllers.serviceaccount.controller import ServiceAccountController
from runtime.controllers.serviceaccount.tokens import TokenController
from runtime.controllers.servicelb.controller import ServiceLBController
from runtime.controllers.statefulset.controller import StatefulSetController

log = logging.getLogger(__name__)


class ControllerLike(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


CONTROLLERS: dict[str, type] = {
    "replicaset": ReplicaSetController,
    "replicationcontroller": ReplicationControllerController,
    "deployment": DeploymentController,
    "statefulset": StatefulSetController,
    "daemonset": DaemonSetController,
    "job": JobController,
    "cronjob": CronJobController,
    "disruption": DisruptionController,
    "garbagecollector": GarbageCollector,
    "namespace": NamespaceController,
    "serviceaccount": ServiceAccountController,
    "serviceaccount-token": TokenController,
    "nodelifecycle": NodeLifecycleController,
    "podgc": PodGCController,
    "horizontalpodautoscaling": HorizontalController,
    "endpoints": EndpointsController,
    "endpointslice": EndpointSliceController,
    "endpointslicemirroring": EndpointSliceMirroringController,
    "servicelb": ServiceLBController,
    "resourcequota": ResourceQuotaController,
    "clusterrole-aggregation": ClusterRoleAggregationController,
    "csrapproving": CSRApprovingController,
    "csrsigning": CSRSigningController,
    "tokencleaner": TokenCleaner,
    "persistentvolume-binder": LocalPathProvisioner,
}


class ControllerStartError(RuntimeError):
    """A controller could not be chosen, built or started: the manager does not run."""


def select(spec: Iterable[str]) -> list[str]:
    """Names from upstream's --controllers grammar: `*` (all), `name`, `-name`."""
    spec = list(spec)
    for item in spec:
        name = item.removeprefix("-")
        if item != "*" and name not in CONTROLLERS:
            raise ControllerStartError(f"unknown controller {name!r} (known: "
                                       f"{', '.join(sorted(CONTROLLERS))})")
    off = {item[1:] for item in spec if item.startswith("-")}
    on = set(CONTROLLERS) if "*" in spec else {i for i in spec if not i.startswith("-")}
    return [n for n in CONTROLLERS if n in on and n not in off]


def build(ctx: ControllerContext, names: Iterable[str],
          contexts: Mapping[str, ControllerContext] | None = None) -> list[ControllerLike]:
    """The controllers, each from its own context in `contexts` if it has one."""
    out: list[ControllerLike] = []
    for name in names:
        try:
            out.append(CONTROLLERS[name]((contexts or {}).get(name, ctx)))
        except Exception as e:
            raise ControllerStartError(f"controller {name} could not be built: {e}") from e
    return out


async def run_controllers(client: Client, *, options: ControllerOptions | None = None) -> None:
    """Build, sync and run the chosen controllers until cancelled."""
    options = options or ControllerOptions()
    informers = InformerFactory(client)
    ctx = ControllerContext(client=client, informers=informers,
                            recorder=EventRecorder(client, "kapi-controller-manager"),
                            options=options)
    names = select(options.controllers)
    credentials = ServiceAccountCredentials(client) \
        if options.use_service_account_credentials else None
    started: list[ControllerLike] = []
    try:
        contexts = await _own_contexts(ctx, names, credentials) if credentials else None
        controllers = build(ctx, names, contexts)
        if credentials is not None:
            credentials.start_refreshing()
        informers.start()
        await informers.wait_synced()
        for c in controllers:
            try:
                c.start()
            except Exception as e:
                raise ControllerStartError(
                    f"controller {type(c).__name__} could not start: {e}") from e
            started.append(c)
        await asyncio.Event().wait()
    finally:
        for c in started:
            await c.stop()
        await informers.stop()
        if credentials is not None:
            await credentials.close()


async def _own_contexts(ctx: ControllerContext, names: list[str],
                        credentials: ServiceAccountCredentials) -> dict[str, ControllerContext]:
    """Each controller's context with its service account's client (and events sent
    with it); the informers stay the manager's."""
    out = {}
    for name in names:
        client = await credentials.client_for(name)
        if client is not ctx.client:
            out[name] = dataclasses.replace(ctx, client=client, recorder=EventRecorder(
                client, "kapi-controller-manager"))
    return out


async def run_controller_manager(client: Client, *, leader_elect: bool = True,
                                 options: ControllerOptions | None = None) -> None:
    options = options or ControllerOptions()
    select(options.controllers)  # a bad name fails now, not after winning the election

    async def lead() -> None:
        await run_controllers(client, options=options)
    if not leader_elect:
        await lead()
        return
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"  # unique per process, as upstream
    await LeaderElector(client, name="kube-controller-manager", namespace="kube-system",
                        identity=identity).run(lead)
