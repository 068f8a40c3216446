"""A Docker kubelet whose pods run and are probed stops when its task is cancelled, again
and again: the kubelet (runtime/kubelet/kubelet.py, with its pod workers, probes and
API server) runs in-process against a real API server, over an engine kept in memory
(every container "runs" at once, a sandbox's IP is loopback, where the test listens for
the tcpSocket probes); each round cancels it while its probes fire, within a bounded
wait, and checks that no task of the kubelet is left behind. No Docker is needed: the
Docker tests (tests/e2e/test_docker_shutdown.py) check the same through `kapi up`."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from runtime.client.resources import NAMESPACES, NODES, PODS
from runtime.client.rest import ApiError, Client
from runtime.kubelet import cri
from runtime.kubelet.kubelet import DockerKubelet, KubeletConfig
from tests.conftest import Server

Obj = dict[str, Any]
ROUNDS = 4


class MemoryEngine:
    """The ContainerRuntime protocol over a dict: containers start running and stay so."""

    cluster = "memory"

    def __init__(self) -> None:
        self.containers: dict[str, cri.ContainerInfo] = {}
        self.ids = itertools.count()

    async def ensure_images(self) -> list[str]:
        return []

    async def bridge(self) -> tuple[str, str]:
        return "10.250.0.0/24", "127.0.0.1"

    async def version(self) -> str:
        return "docker://0.0-memory"

    async def images(self) -> list[Obj]:
        return []

    async def image_id(self, image: str) -> str:
        return f"sha256:{image}"

    async def image_user(self, image: str) -> str:
        return ""

    async def list_containers(self, pod_uid: str = "") -> list[cri.ContainerInfo]:
        await asyncio.sleep(0)
        return [c for c in self.containers.values() if not pod_uid or c.pod_uid == pod_uid]

    def _add(self, pod: Obj, name: str, attempt: int, labels: dict[str, str],
             ip: str = "") -> cri.ContainerInfo:
        meta = pod["metadata"]
        info = cri.ContainerInfo(
            id=f"c{next(self.ids):012d}", name=name, pod_uid=meta["uid"],
            pod_namespace=meta.get("namespace", ""), pod_name=meta["name"], attempt=attempt,
            state="running", created_at="2026-01-01T00:00:00Z",
            started_at="2026-01-01T00:00:00Z", ip=ip, init=labels.get(cri.INIT) == "true",
            labels=labels)
        self.containers[info.id] = info
        return info

    async def run_sandbox(self, pod: Obj, labels: dict[str, str], *, attempt: int,
                          host_network: bool) -> cri.ContainerInfo:
        return self._add(pod, cri.SANDBOX_NAME, attempt, labels, ip="127.0.0.1")

    async def run_container(self, pod: Obj, sandbox: cri.ContainerInfo,
                            config: cri.ContainerConfig, *, attempt: int,
                            share_pid: bool) -> cri.ContainerInfo:
        name = config.labels.get(cri.CONTAINER_NAME, config.name)
        return self._add(pod, name, attempt, config.labels)

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        c = self.containers.get(container_id)
        if c is not None:
            self.containers[container_id] = replace(c, state="exited", exit_code=137)

    async def remove_container(self, container_id: str) -> None:
        self.containers.pop(container_id, None)

    async def exec_probe(self, container_id: str, command: list[str], timeout: float) -> int:
        await asyncio.sleep(0.01)
        return 0

    async def stats(self, container_id: str) -> Obj:
        return {}

    async def close(self) -> None:
        pass


def _pod(i: int, port: int) -> Obj:
    every = {"periodSeconds": 1, "failureThreshold": 100}
    return {"metadata": {"name": f"p{i}"}, "spec": {
        "nodeName": "memory-node", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox",
                        "readinessProbe": {"tcpSocket": {"port": port}, **every},
                        "livenessProbe": {"exec": {"command": ["true"]}, **every}}]}}


async def _round(kubeconfig: Path, root: Path, ns: str) -> set[asyncio.Task[Any]]:
    probed = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = probed.sockets[0].getsockname()[1]
    before = asyncio.all_tasks()
    client = Client.from_kubeconfig(kubeconfig)
    kubelet = DockerKubelet(client, MemoryEngine(), KubeletConfig(
        node_name="memory-node", root_dir=str(root), relist_period=0.2))
    try:
        await kubelet.start()
        try:
            await client.create(NAMESPACES, {"metadata": {"name": ns}})
        except ApiError as e:
            if not e.already_exists:
                raise
        for i in range(4):
            await client.create(PODS, _pod(i, port), ns)
        for _ in range(100):  # bounded: the pods are probed ready
            pods = (await client.list(PODS, ns))["items"]
            if pods and all(any(c["type"] == "Ready" and c["status"] == "True"
                                for c in p.get("status", {}).get("conditions") or [])
                            for p in pods):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the pods were not probed ready within 10 s")
        stopper = asyncio.create_task(kubelet.stop())
        done, _ = await asyncio.wait({stopper}, timeout=20)
        assert done, "the kubelet did not stop within 20 s"
        for _ in range(3):
            await asyncio.sleep(0)
        return {t for t in asyncio.all_tasks() - before
                if t is not asyncio.current_task() and not t.done()}
    finally:
        for p in (await client.list(PODS, ns))["items"]:
            await client.delete(PODS, p["metadata"]["name"], ns, grace_period_seconds=0)
        await client.close()
        probed.close()


def test_a_probing_kubelet_stops_every_time(server: Server) -> None:
    with tempfile.TemporaryDirectory() as root:
        for n in range(ROUNDS):
            left = asyncio.run(_round(server.kubeconfig, Path(root), f"stop-{n}"))
            assert not left, sorted(t.get_name() for t in left)
    asyncio.run(_delete_node(server.kubeconfig))


async def _delete_node(kubeconfig: Path) -> None:
    client = Client.from_kubeconfig(kubeconfig)
    try:
        await client.delete(NODES, "memory-node")
    finally:
        await client.close()
