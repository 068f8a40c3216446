"""A Docker-backed kubelet: one real node of the cluster.

It owns the node's life: registration (runtime/kubelet/nodeinfo.py), the Lease heartbeat
and periodic node status, the watch of pods bound to this node, the relist of the node's
containers every second (upstream's PLEG) that wakes the pods whose containers changed,
one worker per pod running runtime/kubelet/podworker.py's sync, adoption of the
containers a previous run left (the runtime's labels are the truth), the removal of
containers (and pod directories) whose pod is gone, the probes (runtime/kubelet/probes.py),
the watches of Services and of each ConfigMap and Secret its pods' env and volumes read
(one object each: runtime/kubelet/objectwatch.py; a change wakes the pods referring to
it), and the node's pressure conditions at each heartbeat.
It is an API client: it never imports kapi/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from runtime.client.events import EventRecorder
from runtime.client.informer import Informer
from runtime.client.resources import NODES, PODS, SERVICES
from runtime.client.rest import ApiError, Client
from runtime.kubelet import claims, cri, hooks, nodeinfo, nodelease, pressure, server, stats
from runtime.kubelet.envsources import Sources, referenced
from runtime.kubelet.objectwatch import ObjectWatches
from runtime.kubelet.podvolumes import PodVolumes
from runtime.kubelet.podworker import PodSyncer, rfc3339
from runtime.kubelet.probes import Prober
from runtime.kubelet.tokens import TokenManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class KubeletConfig:
    node_name: str
    port: int = 0                     # the kubelet endpoint on the node IP; 0: a free one
    flags: nodeinfo.NodeFlags = field(default_factory=nodeinfo.NodeFlags)
    relist_period: float = 1.0
    lease_interval: float = 10.0
    lease_duration: int = 40
    status_interval: float = 60.0
    root_dir: str = ""                # pods' volumes and files; "": a directory in $TMPDIR
    stats_period: float = 10.0        # seconds between samples of container usage
    cluster_dns: tuple[str, ...] = ()  # the kube-dns ClusterIP pods get (upstream --cluster-dns)
    cluster_domain: str = "cluster.local"


@dataclass
class _Worker:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


MIRROR = "kubernetes.io/config.mirror"  # what marks a mirror pod: another's, never run


class DockerKubelet:
    def __init__(self, client: Client, runtime: Any, config: KubeletConfig, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.client, self.runtime, self.config, self.clock = client, runtime, config, clock
        self.name = config.node_name
        self.pods: dict[str, Obj] = {}                          # uid -> pod
        self.by_uid: dict[str, list[cri.ContainerInfo]] = {}    # last listing
        self._fingerprints: dict[str, tuple[tuple[str, str], ...]] = {}
        self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={self.name}")
        self.workers: dict[str, _Worker] = {}
        self.events = EventRecorder(client, "kubelet", host=self.name)
        self.prober = Prober(runtime, on_change=self._wake, clock=clock, report=self._report,
                             stopper=self._stop_container)
        # what pods refer to: env sources and configMap/secret volumes, each object
        # watched alone (all the Node authorizer allows); service links
        self.objects = ObjectWatches(client, self._on_ref)
        self.services = Informer(client, SERVICES)
        # several clusters' nodes share this host: the default root names the cluster
        self.volumes = PodVolumes(Path(config.root_dir) if config.root_dir else
                                  Path(tempfile.gettempdir()) / "kapi-kubelet" /
                                  getattr(runtime, "cluster", "cluster") / self.name)
        self.host_ip = "127.0.0.1"
        self.port = config.port
        self.syncer: PodSyncer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lease: Obj | None = None
        self._node_uid = ""
        self._relist_lock = asyncio.Lock()
        self._server_stop = asyncio.Event()
        self._posted: dict[str, str] = {"MemoryPressure": "False", "DiskPressure": "False",
                                         "PIDPressure": "False"}
        self._synced = False  # no pod is synced before the informer has listed them all
        self._stopping = False  # once stopping, no pod worker starts (none would be stopped)
        self.stats = stats.DockerStats(containers=lambda: [c for cs in self.by_uid.values()
                                                           for c in cs],
                                       stats=runtime.stats, clock=clock,
                                       period=config.stats_period)
        self._started = rfc3339(clock())

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        await self.runtime.ensure_images()
        subnet, self.host_ip = await self.runtime.bridge()
        self.port = self.config.port or _free_port(self.host_ip)
        node = await self._register(subnet)
        allocatable = dict(node.get("status", {}).get("allocatable") or {})
        self.syncer = PodSyncer(self.client, self.runtime, self.events, self.name,
                                self.host_ip, allocatable, self.pods, self._containers,
                                self.relist_pod, self.prober.ready_ids, self.clock,
                                self.sources, self.volumes, self.prober.unstarted_ids,
                                tokens=TokenManager(self.client),
                                await_sources=self.objects.wait_synced)
        await self._renew_lease()
        await self.relist()  # what a previous run left, before any pod is synced
        self.informer.add_handler(self._on_pod)
        self.services.start()  # service links are read at container start only
        self.informer.start()
        async with asyncio.timeout(60):  # not wait_for: see probes.py
            for inf in (self.informer, self.services):
                await inf.synced.wait()
        await asyncio.to_thread(self.volumes.remove_orphans,
                                set(self.pods) | set(self.by_uid))
        self._synced = True
        for uid in set(self.pods) | set(self.by_uid):
            self._wake(uid)
        self._tasks += [asyncio.create_task(self._relist_loop(), name=f"pleg-{self.name}"),
                        asyncio.create_task(self._heartbeat(), name=f"lease-{self.name}"),
                        asyncio.create_task(self._serve(), name=f"kubelet-api-{self.name}"),
                        asyncio.create_task(self.stats.run(), name=f"stats-{self.name}")]

    async def _serve(self) -> None:
        """The kubelet's own HTTP API on the endpoint the Node publishes."""
        app = server.build_app(find_pod=self.find_pod, containers=self._containers,
                               runtime=self.runtime, clock=self.clock,
                               pods=lambda: list(self.pods.values()))
        app.router.routes.append(stats.route(lambda _: self.stats.summary(
            self.name, self._started, list(self.pods.values()), self._containers)))
        await server.serve(app, self.host_ip, self.port, self._server_stop)

    def find_pod(self, namespace: str, name: str) -> Obj | None:
        return next((p for p in self.pods.values() if p["metadata"]["name"] == name
                     and p["metadata"].get("namespace") == namespace), None)

    async def stop(self) -> None:
        """Stop the kubelet; the containers stay for the next run to adopt."""
        self._server_stop.set()
        self._stopping = True
        tasks = self._tasks + [w.task for w in self.workers.values() if w.task]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.prober.stop()
        await self.informer.stop()
        await self.services.stop()
        await self.objects.stop()

    # -- node ----------------------------------------------------------------------------
    async def _register(self, subnet: str) -> Obj:
        doc = nodeinfo.node_document(
            self.name, facts=nodeinfo.host_facts(), flags=self.config.flags,
            node_ip=self.host_ip, pod_cidr=subnet, port=self.port,
            runtime_version=await self.runtime.version(),
            images=await self.runtime.images(), now=rfc3339(self.clock()))
        # where local-path volumes of this node go (runtime/controllers/localpath)
        doc["metadata"].setdefault("annotations", {})[claims.ROOT_ANNOTATION] = \
            str(self.volumes.root)
        try:
            node = await self.client.create(NODES, doc)
        except ApiError as e:
            if not e.already_exists:
                raise
            await self.client.patch(NODES, self.name, {"metadata": {
                "labels": doc["metadata"]["labels"],
                "annotations": doc["metadata"]["annotations"]}, "spec": doc["spec"]})
            node = await self.client.patch(NODES, self.name, {"status": doc["status"]},
                                           subresource="status")
        self._node_uid = node["metadata"].get("uid", "")
        return node

    async def _heartbeat(self) -> None:
        """The Lease every lease_interval; the node status (conditions from the host's
        figures, images) every status_interval, or at once when a condition flips."""
        last_status = self.clock()
        while True:
            await asyncio.sleep(self.config.lease_interval)
            try:
                await self._renew_lease()
                figures = await asyncio.to_thread(pressure.host_figures,
                                                  str(self.volumes.root))
                flipped = {k: "True" if v else "False" for k, v in
                           pressure.pressures(figures).items() if k != "Ready"}
                if (self.clock() - last_status >= self.config.status_interval or
                        flipped != self._posted):
                    await self._post_status(figures)
                    self._posted, last_status = flipped, self.clock()
            except (ApiError, httpx.HTTPError, OSError) as e:
                log.warning("kubelet %s: heartbeat failed: %s", self.name, e)

    async def _post_status(self, figures: pressure.Figures) -> None:
        current = await self.client.get(NODES, self.name)
        patch = pressure.conditions_patch(current, figures, rfc3339(self.clock()))
        patch["status"]["images"] = await self.runtime.images()
        await self.client.patch(NODES, self.name, patch, subresource="status")

    async def _renew_lease(self) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        self._lease = await nodelease.renew(self.client, self._lease, self.name,
                                            self._node_uid, self.config.lease_duration, now)

    # -- pods and containers -------------------------------------------------------------
    def _containers(self, uid: str) -> list[cri.ContainerInfo]:
        return list(self.by_uid.get(uid, ()))

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        pod = new if event != "delete" else old
        if pod is None or MIRROR in (pod["metadata"].get("annotations") or {}):
            return  # a mirror pod (runtime/controlplane/mirrorpods.py): nothing to run
        uid = pod["metadata"].get("uid", "")
        if event == "delete":
            self.pods.pop(uid, None)
            self.objects.forget(uid)
        else:
            self.pods[uid] = pod
            self.objects.track(uid, pod)
            self.prober.update_pod(pod)
        self._wake(uid)

    async def relist(self) -> None:
        """List the node's containers; wake the pods whose containers changed."""
        async with self._relist_lock:
            found = await self.runtime.list_containers()
            by_uid: dict[str, list[cri.ContainerInfo]] = {}
            for c in found:
                by_uid.setdefault(c.pod_uid, []).append(c)
            self.by_uid = by_uid
            self.prober.containers_changed(found)
            for uid in set(by_uid) | set(self._fingerprints):
                fp = tuple(sorted((c.id, c.state) for c in by_uid.get(uid, ())))
                if self._fingerprints.get(uid) != fp:
                    if fp:
                        self._fingerprints[uid] = fp
                    else:
                        self._fingerprints.pop(uid, None)
                    self._wake(uid)

    async def relist_pod(self, uid: str) -> None:
        """Re-read one pod's containers after its worker acted (cheaper than a relist
        of the node, which would wake every pod whose containers changed meanwhile)."""
        found = await self.runtime.list_containers(pod_uid=uid)
        self.prober.pod_containers(uid, found)
        if found:
            self.by_uid[uid] = found
            self._fingerprints[uid] = tuple(sorted((c.id, c.state) for c in found))
        else:
            self.by_uid.pop(uid, None)
            self._fingerprints.pop(uid, None)

    async def _relist_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.relist_period)
            try:
                await self.relist()
            except Exception as e:  # the engine went away for a moment: try again
                log.warning("kubelet %s: listing containers failed: %r", self.name, e)

    def sources(self, pod: Obj) -> Sources:
        """The ConfigMaps, Secrets and Services a pod sees, from the watches' caches."""
        ns = pod["metadata"].get("namespace", "")
        cms, secrets = referenced(pod)
        services = self.services.list(ns) + [
            s for s in [self.services.get("default/kubernetes")] if s]
        return Sources(configmaps={n: self.objects.get("configmaps", ns, n) for n in cms},
                       secrets={n: self.objects.get("secrets", ns, n) for n in secrets},
                       services=services)

    def _on_ref(self, resource: str, ns: str, name: str) -> None:
        """A ConfigMap or Secret changed: wake the pods that refer to it (their volumes
        are rewritten in place, waiting containers retry)."""
        if not self._synced:
            return
        secret = resource == "secrets"
        for uid, pod in list(self.pods.items()):
            if pod["metadata"].get("namespace") == ns and name in referenced(pod)[secret]:
                self._wake(uid)

    async def _stop_container(self, pod: Obj, spec: Obj, c: cri.ContainerInfo,
                              grace: int) -> None:
        ip = next((x.ip for x in self.by_uid.get(c.pod_uid, ()) if x.sandbox and x.ip), "")
        await hooks.stop(self.runtime, pod, spec, c, ip, grace, self._report)

    async def _report(self, pod: Obj, reason: str, message: str) -> None:
        kind = "Warning" if reason in ("Unhealthy", "FailedPreStopHook",
                                       "FailedPostStartHook") else "Normal"
        await self.events.event(pod, kind, reason, message)

    def _wake(self, uid: str) -> None:
        if not uid or not self._synced or self._stopping:
            return
        w = self.workers.get(uid)
        if w is None:
            if uid not in self.pods and uid not in self.by_uid:
                return
            w = self.workers[uid] = _Worker()
            w.task = asyncio.create_task(self._work(uid, w), name=f"pod-{uid}")
        w.wake.set()

    async def _work(self, uid: str, w: _Worker) -> None:
        assert self.syncer is not None
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None
        while True:
            await w.wake.wait()
            w.wake.clear()
            try:
                result = await self.syncer.sync(uid)
            except (ApiError, httpx.HTTPError, Exception) as e:
                log.warning("kubelet %s: syncing pod %s failed: %r", self.name, uid, e)
                result = None
            if timer is not None:
                timer.cancel()
            if result is not None and result.done:
                self.prober.forget(uid)
                if self.workers.get(uid) is w:
                    del self.workers[uid]
                return
            at = result.resync_at if result is not None else self.clock() + 1.0
            if at is not None:
                timer = loop.call_later(max(at - self.clock(), 0.0), w.wake.set)


def _free_port(host: str) -> int:
    import socket
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def run_docker_kubelet(client: Client, config: KubeletConfig,
                             base_url: str | None = None) -> None:
    """Run one Docker-backed node until cancelled (its containers stay for adoption)."""
    from runtime.client.resources import NAMESPACES
    from runtime.kubelet.docker import DockerRuntime
    from runtime.kubelet.images import ImageBuildError

    cluster = (await client.get(NAMESPACES, "kube-system"))["metadata"]["uid"]
    runtime = DockerRuntime(node=config.node_name, cluster=cluster, base_url=base_url,
                            cluster_dns=config.cluster_dns,
                            cluster_domain=config.cluster_domain)
    kubelet = DockerKubelet(client, runtime, config)
    try:
        await kubelet.start()
        await asyncio.Event().wait()
    except ImageBuildError as e:  # a machine without busybox-static: say what to do
        log.error("kubelet %s: cannot build the pause image: %s", config.node_name, e)
    except Exception:
        log.exception("kubelet %s: failed", config.node_name)
        raise
    finally:
        await kubelet.stop()
        await runtime.close()
