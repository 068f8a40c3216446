"""Startup, readiness and liveness probes (exec, httpGet, tcpSocket, grpc) of running
containers (grpc: runtime/kubelet/grpcprobe.py).

One task per running app container or sidecar and probe kind, started when the relist first sees the
container running and cancelled when it stops. It owns the probe results: readiness
results feed `ready_ids` (a container with no readiness probe is ready once running);
a liveness probe failing `failureThreshold` times in a row stops the container (SIGTERM,
then SIGKILL after the grace period) so the pod's restart policy applies. Probes only
reach the pod's own IP (a container this node made) or run inside the container.
A container with a startup probe runs only that probe until it succeeds (it is neither
started nor ready before); failing it `failureThreshold` times stops the container as
a failed liveness probe does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import httpx

from runtime.kubelet import cri, grpcprobe

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Report = Callable[[Obj, str, str], Awaitable[None]]  # (pod, reason, message) -> event
# (pod, container spec, container, grace seconds): preStop, SIGTERM, SIGKILL
Stopper = Callable[[Obj, Obj, cri.ContainerInfo, int], Awaitable[None]]
LABELS = {"readinessProbe": "Readiness", "livenessProbe": "Liveness",
          "startupProbe": "Startup"}


def probed_specs(pod: Obj) -> list[Obj]:
    """The containers that are probed: the app's and the sidecars (init containers with
    restartPolicy Always); names are unique across both lists."""
    spec = pod.get("spec") or {}
    return [*(c for c in spec.get("initContainers") or []
              if c.get("restartPolicy") == "Always"), *(spec.get("containers") or [])]


def _port(value: Any, container: Obj) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return int(p.get("containerPort", 0))
    return 0


class Prober:
    def __init__(self, runtime: Any, *, on_change: Callable[[str], None],
                 clock: Callable[[], float], report: Report | None = None,
                 stopper: Stopper | None = None) -> None:
        self.runtime, self.on_change, self.clock, self.report = runtime, on_change, clock, report
        self.stopper = stopper
        self.started: set[str] = set()                          # ids past their startup probe
        self.specs: dict[str, Obj] = {}                         # uid -> pod
        self.running: dict[str, dict[str, str]] = {}            # uid -> running app id -> name
        self.results: dict[str, bool] = {}                      # container id -> ready
        self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.stopped = False  # after stop(), no probe starts (none would be cancelled)

    def update_pod(self, pod: Obj) -> None:
        self.specs[pod["metadata"].get("uid", "")] = pod

    def forget(self, uid: str) -> None:
        self.specs.pop(uid, None)
        self.pod_containers(uid, [])

    def ready_ids(self, uid: str) -> frozenset[str]:
        """Running app containers that pass readiness (or have no readiness probe)."""
        probed = {c["name"] for c in probed_specs(self.specs.get(uid) or {})
                  if c.get("readinessProbe")}
        unstarted = self.unstarted_ids(uid)
        return frozenset(cid for cid, name in self.running.get(uid, {}).items()
                         if cid not in unstarted and
                         (name not in probed or self.results.get(cid, False)))

    def unstarted_ids(self, uid: str) -> frozenset[str]:
        """Running app containers whose startup probe has not succeeded yet."""
        probed = {c["name"] for c in probed_specs(self.specs.get(uid) or {})
                  if c.get("startupProbe")}
        return frozenset(cid for cid, name in self.running.get(uid, {}).items()
                         if name in probed and cid not in self.started)

    def containers_changed(self, found: list[cri.ContainerInfo]) -> None:
        """A listing of the whole node."""
        by_uid: dict[str, list[cri.ContainerInfo]] = {uid: [] for uid in self.running}
        for c in found:
            by_uid.setdefault(c.pod_uid, []).append(c)
        for uid, containers in by_uid.items():
            self.pod_containers(uid, containers)

    def pod_containers(self, uid: str, found: list[cri.ContainerInfo]) -> None:
        """A listing of one pod: probe what newly runs, stop probing what stopped."""
        ip = next((c.ip for c in found if c.sandbox and c.running), "")
        probed = {c["name"] for c in probed_specs(self.specs.get(uid) or {})}
        running = {c.id: c.name for c in found if c.running and not c.sandbox and
                   (not c.init or c.name in probed)}
        for c in found:
            if c.id in running:
                self._ensure(c, ip)
        gone = set(self.running.get(uid, {})) - set(running)
        if running:
            self.running[uid] = running
        else:
            self.running.pop(uid, None)
        for key in [k for k in self.tasks if k[0] in gone]:
            self.tasks.pop(key).cancel()
        for cid in gone:
            self.results.pop(cid, None)
            self.started.discard(cid)

    def _ensure(self, c: cri.ContainerInfo, ip: str) -> None:
        pod = self.specs.get(c.pod_uid)
        spec = next((s for s in probed_specs(pod or {}) if s["name"] == c.name), None)
        if pod is None or spec is None or self.stopped:
            return
        kinds = (("startupProbe",) if spec.get("startupProbe") and c.id not in self.started
                 else ("readinessProbe", "livenessProbe"))
        for kind in kinds:
            if spec.get(kind) and (c.id, kind) not in self.tasks:
                self.tasks[(c.id, kind)] = asyncio.create_task(
                    self._loop(pod, spec, c, kind, ip), name=f"probe-{kind}-{c.id[:12]}")

    async def stop(self) -> None:
        self.stopped = True
        tasks = list(self.tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()

    async def _loop(self, pod: Obj, spec: Obj, c: cri.ContainerInfo, kind: str,
                    ip: str) -> None:
        probe = spec[kind]
        period = max(int(probe.get("periodSeconds", 10)), 1)
        success_needed = max(int(probe.get("successThreshold", 1)), 1)
        failure_needed = max(int(probe.get("failureThreshold", 3)), 1)
        await asyncio.sleep(max(int(probe.get("initialDelaySeconds", 0)), 0))
        ok_run = fail_run = 0
        while True:
            ok, why = await self.run(probe, spec, c.id, ip)
            ok_run, fail_run = (ok_run + 1, 0) if ok else (0, fail_run + 1)
            if not ok and self.report is not None:
                await self.report(pod, "Unhealthy", f"{LABELS[kind]} probe failed: {why}")
            if kind == "readinessProbe":
                self._readiness(c, ok_run >= success_needed, fail_run >= failure_needed)
            elif kind == "startupProbe" and ok:
                self.started.add(c.id)
                self.tasks.pop((c.id, kind), None)
                self._ensure(c, ip)  # readiness and liveness take over
                self.on_change(c.pod_uid)
                return
            elif fail_run >= failure_needed:
                await self._kill(pod, spec, c, kind)
                return
            await asyncio.sleep(period)

    def _readiness(self, c: cri.ContainerInfo, became_ready: bool, became_unready: bool) -> None:
        before = self.results.get(c.id, False)
        after = True if became_ready else (False if became_unready else before)
        if after != before:
            self.results[c.id] = after
            self.on_change(c.pod_uid)

    async def _kill(self, pod: Obj, spec: Obj, c: cri.ContainerInfo, kind: str) -> None:
        if self.report is not None:
            await self.report(pod, "Killing", f"Container {c.name} failed "
                                              f"{LABELS[kind].lower()} probe, will be restarted")
        grace = int(spec[kind].get("terminationGracePeriodSeconds") or
                    (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        if self.stopper is not None:
            await self.stopper(pod, spec, c, grace)
        else:
            await self.runtime.stop_container(c.id, grace)
        self.on_change(c.pod_uid)

    async def run(self, probe: Obj, spec: Obj, cid: str, ip: str) -> tuple[bool, str]:
        """One probe: (success, why it failed)."""
        timeout = max(int(probe.get("timeoutSeconds", 1)), 1)
        try:
            if "exec" in probe:
                code = await self.runtime.exec_probe(cid, list(probe["exec"].get("command")
                                                               or []), timeout)
                return code == 0, f"command exited with {code}"
            if "httpGet" in probe:
                return await self._http(probe["httpGet"], spec, ip, timeout)
            if "tcpSocket" in probe:
                port = _port(probe["tcpSocket"].get("port"), spec)
                # asyncio.timeout, never wait_for: on 3.11 wait_for returns the result
                # when a cancellation races the connection's completion, and a probe
                # loop that swallowed its cancellation holds the kubelet's stop for ever
                async with asyncio.timeout(timeout):
                    _, writer = await asyncio.open_connection(ip, port)
                writer.close()
                return True, ""
            if "grpc" in probe:
                grpc = probe["grpc"]
                return await grpcprobe.check(ip, int(grpc.get("port") or 0),
                                             str(grpc.get("service") or ""), timeout)
        except (TimeoutError, OSError, httpx.HTTPError) as e:
            return False, str(e) or type(e).__name__
        return False, "unsupported probe handler"

    async def _http(self, get: Obj, spec: Obj, ip: str, timeout: int) -> tuple[bool, str]:
        scheme = str(get.get("scheme") or "HTTP").lower()
        host = get.get("host") or ip
        url = f"{scheme}://{host}:{_port(get.get('port'), spec)}{get.get('path') or '/'}"
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
        async with httpx.AsyncClient(timeout=timeout, verify=False) as http:
            r = await http.get(url, headers=headers)
        if 200 <= r.status_code < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {r.status_code}"
