"""The ContainerRuntime over a real Docker engine (the `docker` Python SDK).

Every engine call runs on a small thread pool of its own, so the event loop never blocks
and a slow engine cannot starve the loop's default executor. It owns how a sandbox and a
pod's containers map to Docker (pause container with shareable IPC, app containers
joining its network/IPC/PID namespaces, labels, cgroup limits) and the reading of
Docker's inspect documents. It never pulls an image (kapi reaches no registry) and only
lists or removes containers carrying its node's label.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import docker
import docker.errors

from runtime.kubelet import cri, hijack, images
from runtime.kubelet.containerspec import engine_name, host_ports
from runtime.kubelet.dnsconfig import dns_options

Obj = dict[str, Any]
T = TypeVar("T")
MESSAGE_BYTES = 4096
_ZERO = "0001-01-01T00:00:00Z"


def engine_reachable(timeout: float = 3.0) -> str | None:
    """None when a Docker engine answers, else the reason (for one clear line)."""
    try:
        client = docker.from_env(timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except docker.errors.DockerException as e:
        return str(e).split("\n")[0]
    return None


def _time(value: str | None) -> tuple[str, float]:
    """Docker's nanosecond timestamps -> (RFC 3339 to the second, epoch seconds)."""
    if not value or value.startswith(_ZERO):
        return "", 0.0
    whole, _, frac = value.rstrip("Z").partition(".")
    t = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC)
    return f"{whole}Z", t.timestamp() + float(f"0.{frac[:6] or '0'}")


def image_ref(image: str) -> str:
    """busybox -> busybox:latest (a reference without tag or digest means :latest)."""
    last = image.rsplit("/", 1)[-1]
    return image if (":" in last or "@" in last) else f"{image}:latest"


def info_from_inspect(doc: Obj) -> cri.ContainerInfo:
    labels = (doc.get("Config") or {}).get("Labels") or {}
    state = doc.get("State") or {}
    started, _ = _time(state.get("StartedAt"))
    finished, finished_ts = _time(state.get("FinishedAt"))
    created, _ = _time(doc.get("Created"))
    status = state.get("Status", "")
    networks = (doc.get("NetworkSettings") or {}).get("Networks") or {}
    ip = (doc.get("NetworkSettings") or {}).get("IPAddress") or next(
        (n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), "")
    return cri.ContainerInfo(
        id=doc["Id"], name=labels.get(cri.CONTAINER_NAME, ""),
        pod_uid=labels.get(cri.POD_UID, ""), pod_namespace=labels.get(cri.POD_NAMESPACE, ""),
        pod_name=labels.get(cri.POD_NAME, ""),
        attempt=int(labels.get(cri.RESTART_COUNT, "0") or 0),
        state="running" if status in ("running", "paused", "restarting") else
        ("created" if status == "created" else "exited"),
        image=(doc.get("Config") or {}).get("Image", ""),
        image_id=f"docker://{doc.get('Image', '')}", exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")), created_at=created, started_at=started,
        finished_at=finished, finished_ts=finished_ts, ip=ip,
        init=labels.get(cri.INIT) == "true", labels=dict(labels))


class DockerRuntime:
    def __init__(self, *, node: str, cluster: str, base_url: str | None = None,
                 workers: int = 8, cluster_dns: tuple[str, ...] = (),
                 cluster_domain: str = "cluster.local") -> None:
        self.node, self.cluster = node, cluster
        self.cluster_dns, self.cluster_domain = cluster_dns, cluster_domain
        self._client = (docker.DockerClient(base_url=base_url, timeout=60) if base_url
                        else docker.from_env(timeout=60))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")
        self._inspected: dict[tuple[str, str], cri.ContainerInfo] = {}  # (id, status) -> info
        self._address = hijack.engine_address(base_url)  # for hijacked exec/attach streams

    async def _call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kw))

    async def close(self) -> None:
        # not through the pool: its threads may all be held by calls that outlive the
        # kubelet (an exec probe whose command hangs holds one until the engine's own
        # timeout), and closing the client's connections is quick and releases them
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    async def ensure_images(self) -> list[str]:
        return await self._call(images.ensure_images, self._client)

    async def version(self) -> str:
        v = await self._call(self._client.version)
        return f"docker://{v.get('Version', '')}"

    async def bridge(self) -> tuple[str, str]:
        """(subnet, gateway) of Docker's default bridge: pods' addresses and the host's
        address as the pods see it (the node IP)."""
        net = await self._call(self._client.api.inspect_network, "bridge")
        config = ((net.get("IPAM") or {}).get("Config") or [{}])[0]
        subnet = config.get("Subnet", "")
        gateway = config.get("Gateway") or (
            str(next(ipaddress.ip_network(subnet).hosts())) if subnet else "127.0.0.1")
        return subnet, gateway

    async def images(self) -> list[Obj]:
        found = await self._call(self._client.api.images)
        return [{"names": [*(img.get("RepoTags") or []), img["Id"]],
                 "sizeBytes": int(img.get("Size") or 0)} for img in found
                if img.get("RepoTags") and img["RepoTags"] != ["<none>:<none>"]]

    async def image_user(self, image: str) -> str:
        doc = await self._call(self._client.api.inspect_image, image_ref(image))
        return str((doc.get("Config") or {}).get("User") or "")

    async def image_id(self, image: str) -> str:
        try:
            doc = await self._call(self._client.api.inspect_image, image_ref(image))
        except docker.errors.ImageNotFound:
            raise cri.ImageMissing(image) from None
        return f"docker://{doc['Id']}"

    async def stats(self, container_id: str) -> Obj:
        """One stats document of a running container, without the engine's second
        sample (runtime/kubelet/stats.py computes rates from its own samples)."""
        return await self._call(self._client.api.stats, container_id, stream=False,
                                one_shot=True)

    # -- containers ----------------------------------------------------------------------
    async def list_containers(self, pod_uid: str = "") -> list[cri.ContainerInfo]:
        """The node's containers (or one pod's); each (id, status) is inspected once and
        then cached."""
        labels = [f"{cri.NODE}={self.node}", f"{cri.CLUSTER}={self.cluster}"]
        if pod_uid:
            labels.append(f"{cri.POD_UID}={pod_uid}")
        summary = await self._call(self._client.api.containers, all=True,
                                   filters={"label": labels})
        keys = [(s["Id"], s.get("State", "")) for s in summary]
        fresh = [k for k in keys if k not in self._inspected]
        found = await asyncio.gather(*(self._inspect_or_none(cid) for cid, _ in fresh))
        transient = []  # states (restarting, removing, ...) not worth caching
        for key, info in zip(fresh, found, strict=True):
            if info is not None and key[1] in ("running", "exited", "created"):
                self._inspected[key] = info
            elif info is not None:
                transient.append(info)
        out = [self._inspected[k] for k in keys if k in self._inspected] + transient
        if not pod_uid:  # a full listing: forget containers that are gone
            seen = set(keys)
            for key in [k for k in self._inspected if k not in seen]:
                del self._inspected[key]
        return out

    async def _inspect_or_none(self, container_id: str) -> cri.ContainerInfo | None:
        try:
            return await self.inspect(container_id)
        except docker.errors.NotFound:
            return None

    async def inspect(self, container_id: str) -> cri.ContainerInfo:
        info = info_from_inspect(await self._call(self._client.api.inspect_container,
                                                  container_id))
        if info.state == "exited" and info.labels.get(cri.TERMINATION_LOG):
            info = dataclasses.replace(info, message=await self._call(
                self._termination_message, info))
        return info

    def _termination_message(self, info: cri.ContainerInfo) -> str:
        """The file's first 4096 bytes; with FallbackToLogsOnError and an empty file
        after a failure, the log's last 80 lines, at most 2048 bytes (upstream's)."""
        try:
            with open(info.labels[cri.TERMINATION_LOG], "rb") as f:
                text = f.read(MESSAGE_BYTES)
        except OSError:
            text = b""
        if (not text and info.exit_code != 0 and
                info.labels.get(cri.TERMINATION_POLICY) == "FallbackToLogsOnError"):
            try:
                text = self._client.api.logs(info.id, stdout=True, stderr=True,
                                             tail=80)[-2048:]
            except docker.errors.APIError:
                text = b""
        return text.decode(errors="replace")

    async def _create_and_start(self, name: str, **kw: Any) -> cri.ContainerInfo:
        api = self._client.api
        kw["labels"] = kw["labels"] | {cri.NODE: self.node, cri.CLUSTER: self.cluster}
        try:
            created = await self._call(api.create_container, name=name, **kw)
            cid = created["Id"]
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: this instance exists already; adopt it
                raise
            cid = (await self._call(api.inspect_container, name))["Id"]
        info = await self.inspect(cid)
        if info.state == "created":
            await self._call(api.start, cid)
            info = await self.inspect(cid)
        return info

    async def run_sandbox(self, pod: Obj, labels: dict[str, str], *, attempt: int,
                          host_network: bool) -> cri.ContainerInfo:
        spec = pod.get("spec") or {}
        hostname = (spec.get("hostname") or pod["metadata"]["name"])[:63]
        bindings = host_ports(pod) if not host_network else {}
        host_config = self._client.api.create_host_config(
            ipc_mode="shareable", network_mode="host" if host_network else "bridge",
            port_bindings=bindings or None,
            **dns_options(pod, self.cluster_dns, self.cluster_domain))
        labels = labels | {cri.CONTAINER_NAME: cri.SANDBOX_NAME, cri.RESTART_COUNT: str(attempt),
                           cri.CONTAINER_TYPE: "podsandbox"}
        return await self._create_and_start(
            engine_name(pod, cri.SANDBOX_NAME, attempt), image=images.PAUSE_IMAGE,
            labels=labels, host_config=host_config,
            ports=[tuple(k.split("/")) for k in bindings] or None,  # (port, proto)
            hostname=None if host_network else hostname)

    async def run_container(self, pod: Obj, sandbox: cri.ContainerInfo,
                            config: cri.ContainerConfig, *, attempt: int,
                            share_pid: bool) -> cri.ContainerInfo:
        joined, sec = f"container:{sandbox.id}", config.security
        host_config = self._client.api.create_host_config(
            network_mode=joined, ipc_mode=joined, pid_mode=joined if share_pid else None,
            mem_limit=config.memory_limit or None, cpu_period=100_000 if config.cpu_quota
            else None, cpu_quota=config.cpu_quota or None,
            cpu_shares=config.cpu_shares or None, binds=config.binds or None,
            group_add=sec.group_add or None, read_only=sec.read_only_rootfs or None,
            privileged=sec.privileged, cap_add=sec.cap_add or None,
            cap_drop=sec.cap_drop or None,
            security_opt=["no-new-privileges"] if sec.no_new_privileges else None)
        return await self._create_and_start(
            engine_name(pod, config.name, attempt), image=image_ref(config.image),
            labels=config.labels, host_config=host_config, entrypoint=config.entrypoint,
            command=config.cmd, environment=config.env,
            working_dir=config.working_dir or None, tty=config.tty,
            stdin_open=config.stdin, detach=not config.stdin_once,  # (StdinOnce follows)
            user=sec.user or None)

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        """SIGTERM, then SIGKILL after the grace period (Docker's stop)."""
        try:
            await self._call(self._client.api.stop, container_id, timeout=max(grace_seconds, 0))
        except docker.errors.NotFound:
            pass

    async def remove_container(self, container_id: str) -> None:
        try:
            await self._call(self._client.api.remove_container, container_id, force=True,
                             v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: removal already in progress
                raise

    async def exec_probe(self, container_id: str, command: list[str], timeout: float) -> int:
        """Run `command` in the container; its exit code (a timeout counts as failure)."""
        api = self._client.api
        try:
            ex = await self._call(api.exec_create, container_id, command, stdout=True,
                                  stderr=True)
            # the timeout is the command's (upstream's timeoutSeconds), not the engine's
            # own latency in setting the exec up, which grows with the host's load
            async with asyncio.timeout(timeout):  # not wait_for: see probes.py
                await self._call(api.exec_start, ex["Id"])
            return int((await self._call(api.exec_inspect, ex["Id"])).get("ExitCode") or 0)
        except (TimeoutError, docker.errors.APIError):
            return 1

    async def logs(self, container_id: str, *, tail: int | None, since: float | None,
                   timestamps: bool, follow: bool) -> Any:
        """The container's output: bytes, or (follow) a blocking iterator of chunks that
        the caller drains with `next_chunk`."""
        kw: Obj = {"stdout": True, "stderr": True, "timestamps": timestamps,
                   "tail": tail if tail is not None else "all", "stream": follow,
                   "follow": follow}
        if since is not None:
            kw["since"] = int(since)
        return await self._call(self._client.api.logs, container_id, **kw)

    async def next_chunk(self, stream: Any) -> bytes | None:
        return await self._call(next, stream, None)

    # -- streams (exec, attach: runtime/kubelet/streams.py) ----------------------------

    async def exec_open(self, container_id: str, command: list[str], *, stdin: bool,
                        tty: bool) -> tuple[str, hijack.Streams]:
        """Start `command` in the container; (exec id, its hijacked connection)."""
        api = self._client.api
        ex = await self._call(api.exec_create, container_id, command, stdin=stdin,
                              stdout=True, stderr=True, tty=tty)
        streams = await hijack.hijack(self._address, f"/v{api.api_version}/exec/{ex['Id']}"
                                      "/start", {"Detach": False, "Tty": tty})
        return ex["Id"], streams

    async def exec_exit_code(self, exec_id: str) -> int:
        """The exec's exit code once the engine has seen it end (bounded wait)."""
        for _ in range(50):
            doc = await self._call(self._client.api.exec_inspect, exec_id)
            if not doc.get("Running"):
                return int(doc.get("ExitCode") or 0)
            await asyncio.sleep(0.05)
        return int(doc.get("ExitCode") or 0)

    async def attach_open(self, container_id: str, *,
                          stdin: bool) -> tuple[bool, bool, hijack.Streams]:
        """Attach to the container's own stdio; (whether it has a TTY, whether its stdin
        closes with the first attach's (stdinOnce), the connection)."""
        api = self._client.api
        doc = await self._call(api.inspect_container, container_id)
        config = doc.get("Config") or {}
        path = (f"/v{api.api_version}/containers/{container_id}/attach?stream=1"
                f"&stdin={int(stdin)}&stdout=1&stderr=1")
        return (bool(config.get("Tty")), bool(config.get("StdinOnce")),
                await hijack.hijack(self._address, path))

    async def resize(self, target_id: str, *, exec_session: bool, width: int,
                     height: int) -> None:
        api = self._client.api
        fn = api.exec_resize if exec_session else api.resize
        try:
            await self._call(fn, target_id, height=height, width=width)
        except docker.errors.APIError:
            pass  # the process may have ended meanwhile
