"""The ContainerRuntime protocol a real kubelet drives, and the records it returns.

A pod is one sandbox container (holding the network and IPC namespaces) plus one
container per init/app container instance; every container carries the labels below so
that the runtime's own listing is the truth a (restarted) kubelet works from. This module
owns those names and the protocol; it must never talk to an engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.kubelet.security import Settings

Obj = dict[str, Any]

# The same label keys upstream's dockershim used, plus the node that owns the container
# and cluster (several kapi nodes and clusters can share one Docker engine and must never
# adopt or remove each other's containers).
POD_UID = "io.kubernetes.pod.uid"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
CONTAINER_NAME = "io.kubernetes.container.name"
RESTART_COUNT = "io.kubernetes.container.restartCount"
CONTAINER_TYPE = "io.kubernetes.docker.type"  # podsandbox | container
INIT = "dev.kapi.init"                         # "true" on init containers
NODE = "dev.kapi.node"
CLUSTER = "dev.kapi.cluster"                   # the uid of the cluster's kube-system namespace
TERMINATION_LOG = "dev.kapi.termination-log"   # the host file behind the message path
TERMINATION_POLICY = "dev.kapi.termination-policy"
SANDBOX_NAME = "POD"


@dataclass(frozen=True)
class ContainerInfo:
    """One container as the engine reports it (sandboxes included)."""
    id: str
    name: str            # the pod's container name, or "POD" for the sandbox
    pod_uid: str
    pod_namespace: str
    pod_name: str
    attempt: int
    state: str           # created | running | exited
    image: str = ""
    image_id: str = ""
    exit_code: int = 0
    oom_killed: bool = False
    created_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    finished_ts: float = 0.0   # finished_at as epoch seconds (back-off arithmetic)
    ip: str = ""         # sandboxes: the pod IP
    init: bool = False
    message: str = ""    # exited: the termination message (file, or logs on error)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def sandbox(self) -> bool:
        return self.name == SANDBOX_NAME

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ContainerConfig:
    """What the kubelet asks the runtime to create (already resolved from the pod spec)."""
    name: str
    image: str
    labels: dict[str, str]
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    memory_limit: int = 0     # bytes, 0: none
    cpu_quota: int = 0        # microseconds per 100 ms period, 0: none
    cpu_shares: int = 0
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    binds: list[str] = field(default_factory=list)        # "host:container[:ro]"
    security: Settings = field(default_factory=Settings)  # user, capabilities, ...


class ImageMissing(Exception):
    """The image is not on this node and cannot be pulled (kapi reaches no registry)."""


class ContainerRuntime(Protocol):
    async def version(self) -> str: ...                       # "docker://20.10.24"
    async def images(self) -> list[Obj]: ...                  # node.status.images entries
    async def image_id(self, image: str) -> str: ...          # raises ImageMissing
    async def image_user(self, image: str) -> str: ...        # the image's USER ("": root)
    async def list_containers(self, pod_uid: str = "") -> list[ContainerInfo]: ...
    async def run_sandbox(self, pod: Obj, labels: dict[str, str], *, attempt: int,
                          host_network: bool) -> ContainerInfo: ...
    async def run_container(self, pod: Obj, sandbox: ContainerInfo, config: ContainerConfig,
                            *, attempt: int, share_pid: bool) -> ContainerInfo: ...
    async def stop_container(self, container_id: str, grace_seconds: int) -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def exec_probe(self, container_id: str, command: list[str],
                         timeout: float) -> int: ...
    async def logs(self, container_id: str, *, tail: int | None, since: float | None,
                   timestamps: bool, follow: bool) -> Any: ...
