"""One sync of one pod on a Docker-backed node: carry out the plan, report the status.

`PodSyncer.sync(uid)` is level-based: it reads the pod from the kubelet's informer and
the pod's containers from the last runtime listing, asks runtime/kubelet/podsync.py what
to do, does it (sandbox, image checks, containers, stops, removals), writes the status
built by runtime/kubelet/podreport.py when it changed, and finishes deletions (SIGTERM,
SIGKILL after the grace period, containers removed, then the pod object deleted with
grace 0). Only the kubelet's per-pod worker calls it, so one pod's syncs never overlap.
It never imports kapi/ and never touches containers of other pods or nodes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import httpx

from runtime.client.events import EventRecorder
from runtime.client.resources import PODS
from runtime.client.rest import ApiError, Client
from runtime.kubelet import claims, containerspec, cri, hooks, podsync, security
from runtime.kubelet.backoff import Backoff
from runtime.kubelet.envsources import ConfigError, Sources
from runtime.kubelet.podreport import Observed, pod_status
from runtime.kubelet.podvolumes import PodVolumes, binds
from runtime.kubelet.tokens import TokenManager
from runtime.kubelet.volumes import ATOMIC, MountError, kind_of
from runtime.util.times import parse_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")
RETRY = 2.0  # seconds before a failed mount or container config is tried again


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SyncResult:
    done: bool = False                 # the pod is gone: the worker can stop
    resync_at: float | None = None


@dataclass
class PodSyncer:
    client: Client
    runtime: Any                        # DockerRuntime (the ContainerRuntime protocol)
    events: EventRecorder
    node: str
    host_ip: str
    allocatable: dict[str, str]
    pods: dict[str, Obj]                # uid -> pod, kept by the kubelet's informer
    containers: Callable[[str], list[cri.ContainerInfo]]  # uid -> containers, last listing
    relist: Callable[[str], Awaitable[None]]  # re-read one pod's containers
    ready: Callable[[str], frozenset[str]]  # uid -> ids passing readiness
    clock: Callable[[], float]
    sources: Callable[[Obj], Sources]   # the ConfigMaps/Secrets/Services a pod refers to
    volumes: PodVolumes
    unstarted: Callable[[str], frozenset[str]] = lambda uid: frozenset()  # startup probes
    tokens: TokenManager | None = None  # service-account tokens of projected volumes
    # until the pod's ConfigMaps and Secrets have been read once (their watches start
    # with the pod: runtime/kubelet/objectwatch.py)
    await_sources: Callable[[Obj], Awaitable[None]] | None = None
    # pods acting at once: no more than the engine's threads, so that pods started
    # together come up one after another instead of all at the end (first come first)
    start_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(6))
    crash_backoff: Backoff = field(default_factory=Backoff)
    image_backoff: Backoff = field(default_factory=Backoff)
    image_waiting: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    written: dict[str, Obj] = field(default_factory=dict)  # uid -> last status written
    mounted: dict[str, dict[str, str]] = field(default_factory=dict)  # uid -> volume paths
    token_refresh: dict[str, float] = field(default_factory=dict)  # uid -> wall time
    claimed: dict[str, dict[str, str]] = field(default_factory=dict)  # uid -> claim paths

    async def sync(self, uid: str) -> SyncResult:
        pod = self.pods.get(uid)
        if pod is None:
            await self._remove_all(uid, grace=2)
            self._forget(uid)
            return SyncResult(done=True)
        if pod["metadata"].get("deletionTimestamp"):
            await self._terminate(pod)
            self._forget(uid)
            return SyncResult(done=True)
        if self.await_sources is not None:
            await self.await_sources(pod)
        now = self.clock()
        plan = podsync.plan(pod, self.containers(uid), self.crash_backoff, now,
                            self.unstarted(uid))
        deadline = active_deadline(pod)
        if deadline is not None and now < deadline:
            plan.wake(deadline)
        if (pod.get("status") or {}).get("phase") not in TERMINAL and \
                not await self._mount(pod):
            plan.start_sandbox, plan.start = None, []  # ContainerCreating until mounted
            plan.wake(now + RETRY)
        if self.tokens is not None and uid in self.token_refresh:  # rewrite before 80%
            plan.wake(now + max(self.token_refresh[uid] - self.tokens.wall(), 0.0))
        acted = await self._act(pod, plan)
        if acted:
            await self.relist(uid)
        result = SyncResult(resync_at=plan.resync_at)
        status = await self._report(pod, plan, now)
        if status["phase"] in TERMINAL and any(c.running for c in self.containers(uid)):
            result.resync_at = now  # stop what still runs (the sandbox) on the next sync
            pod = {**pod, "status": status}
            self.pods[uid] = pod
        for waits in self.image_waiting.get(uid, {}).values():
            if waits[0] in ("ErrImagePull", "CreateContainerConfigError"):
                result.resync_at = min(result.resync_at or now + RETRY, now + RETRY)
        return result

    async def _mount(self, pod: Obj) -> bool:
        """Set the pod's volumes up, or bring them up to date (configMap, secret and
        downwardAPI contents change in place); False after a FailedMount event."""
        uid = pod["metadata"]["uid"]
        vols = (pod.get("spec") or {}).get("volumes") or []
        if not vols and uid in self.mounted:
            return True
        sources = self.sources(pod)
        try:
            if uid not in self.claimed:  # a bound claim's volume never changes
                self.claimed[uid] = await claims.claim_paths(self.client, pod)
            sources.claims = self.claimed[uid]
            if self.tokens is not None:
                sources.tokens, refresh = await self.tokens.tokens_for(pod)
                if refresh is not None:
                    self.token_refresh[uid] = refresh
            self.mounted[uid] = await asyncio.to_thread(
                self.volumes.setup, pod, sources, self.allocatable)
        except (ApiError, httpx.HTTPError) as e:  # TokenRequest refused or unreachable
            await self.events.warning(pod, "FailedMount", f"failed to fetch token: {e}")
            return False
        except MountError as e:
            await self.events.warning(pod, "FailedMount", str(e))
            return False
        return True

    # -- acting on the plan --------------------------------------------------------------
    async def _act(self, pod: Obj, plan: podsync.Plan) -> bool:
        spec = pod.get("spec") or {}
        grace = int(spec.get("terminationGracePeriodSeconds", 30))
        for name, (reason, _) in plan.waiting.items():
            if reason == "CrashLoopBackOff":
                await self.events.warning(pod, "BackOff",
                                          f"Back-off restarting failed container {name} "
                                          f"in pod {podsync.pod_ref(pod)}")
        for c in plan.stop:
            await self._stop(pod, c, 0 if c.sandbox else grace)
        for c in plan.remove:
            await self.runtime.remove_container(c.id)
        if plan.start_sandbox is not None or plan.start:
            async with self.start_slots:
                await self._start_all(pod, plan)
        return bool(plan.stop or plan.remove or plan.start or plan.start_sandbox is not None)

    async def _start_all(self, pod: Obj, plan: podsync.Plan) -> None:
        spec = pod.get("spec") or {}
        boxes = podsync.sandboxes(self.containers(pod["metadata"]["uid"]))
        if plan.start_sandbox is not None:
            labels = containerspec.pod_labels(pod, self.node)
            boxes.append(await self.runtime.run_sandbox(
                pod, labels, attempt=plan.start_sandbox,
                host_network=bool(spec.get("hostNetwork"))))
        for c, attempt, init in plan.start:
            await self._start(pod, boxes[-1], c, attempt, init)

    async def _stop(self, pod: Obj, c: cri.ContainerInfo, grace: int) -> None:
        if c.sandbox:
            await self.runtime.stop_container(c.id, grace)
            return
        await self.events.normal(pod, "Killing", f"Stopping container {c.name}")
        await hooks.stop(self.runtime, pod, _spec_of(pod, c), c, self._pod_ip(pod), grace,
                         self._event)

    async def _event(self, pod: Obj, reason: str, message: str) -> None:
        await self.events.warning(pod, reason, message)

    def _pod_ip(self, pod: Obj) -> str:
        boxes = podsync.sandboxes(self.containers(pod["metadata"]["uid"]))
        if (pod.get("spec") or {}).get("hostNetwork"):
            return self.host_ip
        return next((b.ip for b in reversed(boxes) if b.ip), "")

    async def _image_ready(self, pod: Obj, c: Obj) -> bool:
        """Whether the image is on the node; else the container waits as upstream's
        ErrImagePull -> ImagePullBackOff (kapi never pulls: no registry is reachable)."""
        uid, name, image = pod["metadata"]["uid"], c["name"], c.get("image", "")
        waits = self.image_waiting.setdefault(uid, {})
        try:
            await self.runtime.image_id(image)
        except cri.ImageMissing:
            now, key = self.clock(), f"{uid}/{name}/{image}"
            if c.get("imagePullPolicy") == "Never":
                msg = f'Container image "{image}" is not present with pull policy of Never'
                waits[name] = ("ErrImageNeverPull", msg)
                await self.events.warning(pod, "ErrImageNeverPull", msg)
            elif self.image_backoff.in_backoff_since(key, self.image_backoff.entries.get(
                    key, (0, 0))[1], now):
                waits[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
                await self.events.normal(pod, "BackOff", f'Back-off pulling image "{image}"')
            else:
                self.image_backoff.next(key, now)
                msg = (f'Failed to pull image "{image}": the image is not present on node '
                       f'{self.node} and kapi pulls from no registry')
                waits[name] = ("ErrImagePull", msg)
                await self.events.warning(pod, "Failed", msg)
                await self.events.warning(pod, "Failed", "Error: ErrImagePull")
            return False
        waits.pop(name, None)
        await self.events.normal(pod, "Pulled",
                                 f'Container image "{image}" already present on machine')
        return True

    async def _start(self, pod: Obj, sandbox: cri.ContainerInfo, c: Obj, attempt: int,
                     init: bool) -> None:
        if not await self._image_ready(pod, c):
            return
        try:
            config = await self._config(pod, sandbox, c, attempt, init)
        except (ConfigError, MountError) as e:
            self.image_waiting.setdefault(pod["metadata"]["uid"], {})[c["name"]] = (
                "CreateContainerConfigError", str(e))
            await self.events.warning(pod, "Failed", f"Error: {e}")
            return
        try:
            info = await self.runtime.run_container(
                pod, sandbox, config, attempt=attempt,
                share_pid=bool((pod.get("spec") or {}).get("shareProcessNamespace")))
        except Exception as e:  # the engine refused (bad command, bad limits): as upstream
            await self.events.warning(pod, "Failed", f"Error: {e}")
            raise
        await self.events.normal(pod, "Created", f"Created container: {c['name']}")
        await self.events.normal(pod, "Started", f"Started container: {c['name']}")
        if not await hooks.post_start(self.runtime, pod, c, info, self._pod_ip(pod),
                                      self._event):
            await self.events.normal(pod, "Killing", "FailedPostStartHook")
            await self.runtime.stop_container(info.id, 0)

    async def _config(self, pod: Obj, sandbox: cri.ContainerInfo, c: Obj, attempt: int,
                      init: bool) -> cri.ContainerConfig:
        """Everything the container is created with; ConfigError/MountError when it
        cannot be (CreateContainerConfigError)."""
        spec, uid = pod.get("spec") or {}, pod["metadata"]["uid"]
        pod_ip = sandbox.ip or (self.host_ip if spec.get("hostNetwork") else "")
        sc = security.effective(pod, c)
        image_user = (await self.runtime.image_user(c.get("image", ""))
                      if sc.get("runAsNonRoot") or ("runAsGroup" in sc and
                                                    "runAsUser" not in sc) else "")
        sec = security.settings(pod, c, pod_ref=podsync.pod_ref(pod), image_user=image_user)
        warnings: list[str] = []
        env = containerspec.environment(pod, c, pod_ip=pod_ip, host_ip=self.host_ip,
                                        node_allocatable=self.allocatable,
                                        sources=self.sources(pod), warnings=warnings)
        for w in warnings:
            await self.events.warning(pod, "InvalidEnvironmentVariableNames", w)
        read_only = {v["name"] for v in spec.get("volumes") or [] if kind_of(v) in ATOMIC}
        mounts = binds(c, self.mounted.get(uid, {}), env, read_only)
        if not any(m.get("mountPath") == "/etc/hosts" for m in c.get("volumeMounts") or []):
            hosts = await asyncio.to_thread(self.volumes.write_hosts, pod, pod_ip)
            mounts.append(f"{hosts}:/etc/hosts")
        log_file = await asyncio.to_thread(self.volumes.termination_log, uid, c["name"])
        return containerspec.container_config(
            pod, c, node=self.node, attempt=attempt, init=init, pod_ip=pod_ip,
            host_ip=self.host_ip, env=env, binds=mounts, security=sec,
            termination_log=log_file)

    # -- status --------------------------------------------------------------------------
    async def _report(self, pod: Obj, plan: podsync.Plan, now: float) -> Obj:
        uid = pod["metadata"]["uid"]
        waiting = dict(self.image_waiting.get(uid, {})) | plan.waiting
        deadline = active_deadline(pod)
        obs = Observed(host_ip=self.host_ip, now=rfc3339(now), waiting=waiting,
                       ready=self.ready(uid), unstarted=self.unstarted(uid),
                       deadline_exceeded=deadline is not None and now >= deadline)
        status = pod_status(pod, self.containers(uid), obs)
        if status.get("reason") == "DeadlineExceeded" and \
                (pod.get("status") or {}).get("reason") != "DeadlineExceeded":
            await self.events.normal(pod, "DeadlineExceeded", status["message"])
        if status != self.written.get(uid):
            meta = pod["metadata"]
            try:
                await self.client.patch(PODS, meta["name"], {"status": status},
                                        meta.get("namespace"), subresource="status")
                self.written[uid] = status
            except ApiError as e:
                if not (e.not_found or e.conflict):
                    raise
        return status

    # -- deletion ------------------------------------------------------------------------
    async def _terminate(self, pod: Obj) -> None:
        """Graceful deletion: SIGTERM to the containers, SIGKILL after the grace period,
        then the containers go and the pod object is deleted with grace 0."""
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        await self._remove_all(meta["uid"], grace=int(grace), pod=pod)
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"),
                                     grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise

    async def _remove_all(self, uid: str, *, grace: int, pod: Obj | None = None) -> None:
        containers = self.containers(uid)
        running = [c for c in containers if c.running and not c.sandbox]
        if pod is not None:
            # the app's containers together, then the sidecars one by one, last first,
            # each with what is left of the grace period (upstream's termination order)
            sidecars = [c for s in reversed((pod.get("spec") or {}).get("initContainers")
                                            or []) if podsync.is_sidecar(s)
                        for c in running if c.init and c.name == s["name"]]
            started = self.clock()
            await self._stop_together(pod, [c for c in running if c not in sidecars], grace)
            for c in sidecars:
                left = max(grace - int(self.clock() - started), 0)
                await self._stop_together(pod, [c], left)
        else:
            await asyncio.gather(*(self.runtime.stop_container(c.id, grace)
                                   for c in running))
        for c in containers:
            await self.runtime.remove_container(c.id)
        await self.relist(uid)

    async def _stop_together(self, pod: Obj, containers: list[cri.ContainerInfo],
                             grace: int) -> None:
        for c in containers:
            await self.events.normal(pod, "Killing", f"Stopping container {c.name}")
        ip = self._pod_ip(pod)
        await asyncio.gather(*(hooks.stop(self.runtime, pod, _spec_of(pod, c), c, ip,
                                          grace, self._event) for c in containers))

    def _forget(self, uid: str) -> None:
        if self.tokens is not None:
            self.tokens.forget(uid)
        self.token_refresh.pop(uid, None)
        self.volumes.remove(uid)
        self.mounted.pop(uid, None)
        self.claimed.pop(uid, None)
        self.written.pop(uid, None)
        self.image_waiting.pop(uid, None)
        self.crash_backoff.forget(f"{uid}/")
        self.image_backoff.forget(f"{uid}/")


def active_deadline(pod: Obj) -> float | None:
    """When the pod's spec.activeDeadlineSeconds runs out, counted from its startTime (epoch
    seconds), or None: no deadline, not started yet, or already finished."""
    seconds = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    status = pod.get("status") or {}
    start = parse_time(status.get("startTime"))
    if not isinstance(seconds, int) or seconds <= 0 or start is None or \
            status.get("phase") in TERMINAL:
        return None
    return start.timestamp() + seconds


def _spec_of(pod: Obj, c: cri.ContainerInfo) -> Obj | None:
    spec = pod.get("spec") or {}
    group = spec.get("initContainers" if c.init else "containers") or []
    return next((s for s in group if s.get("name") == c.name), None)
