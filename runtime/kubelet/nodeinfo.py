"""The Node document a Docker-backed kubelet registers: real host facts, or flags.

`host_facts` reads the machine (cpu count, memory, kernel, OS, machine and boot ids,
disk); `node_document` is a pure builder over those facts and the flags (capacity
overrides so several nodes can share one host, the bridge subnet as podCIDR, the node IP
and kubelet port). Conditions and the Lease come from runtime/kubelet/simnode.py, which
already holds the upstream kubelet's condition reasons.
"""

from __future__ import annotations

import os
import platform
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.kubelet import simnode

Obj = dict[str, Any]
KUBELET_VERSION = simnode.KUBELET_VERSION
RUNTIME_ANNOTATION = "kapi.dev/container-runtime"


@dataclass(frozen=True)
class HostFacts:
    cpus: int
    memory_bytes: int
    disk_bytes: int
    kernel: str
    os_image: str
    machine_id: str
    boot_id: str


@dataclass(frozen=True)
class NodeFlags:
    """What the command line decides; an empty capacity value means the host's."""
    cpu: str = ""
    memory: str = ""
    pods: str = "110"
    labels: dict[str, str] = field(default_factory=dict)


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _memory_bytes() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def host_facts(docker_root: str = "/var/lib/docker") -> HostFacts:
    root = docker_root if os.path.isdir(docker_root) else "/"
    machine = _read("/etc/machine-id") or uuid.uuid4().hex
    return HostFacts(cpus=os.cpu_count() or 1, memory_bytes=_memory_bytes(),
                     disk_bytes=shutil.disk_usage(root).total, kernel=platform.release(),
                     os_image=_os_image(), machine_id=machine,
                     boot_id=_read("/proc/sys/kernel/random/boot_id") or machine)


def capacity(facts: HostFacts, flags: NodeFlags) -> dict[str, str]:
    return {"cpu": flags.cpu or str(facts.cpus),
            "memory": flags.memory or f"{facts.memory_bytes // 1024}Ki",
            "pods": flags.pods, "ephemeral-storage": f"{facts.disk_bytes // 1024}Ki",
            "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def node_document(name: str, *, facts: HostFacts, flags: NodeFlags, node_ip: str,
                  pod_cidr: str, port: int, runtime_version: str, images: list[Obj],
                  now: str) -> Obj:
    arch = simnode._arch()
    labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
              "kubernetes.io/arch": arch, "kubernetes.io/hostname": name,
              "kubernetes.io/os": "linux", **flags.labels}
    spec: Obj = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    cap = capacity(facts, flags)
    system_uuid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.{facts.machine_id}"))
    status = {
        "capacity": cap, "allocatable": dict(cap),
        "conditions": simnode.conditions(now, now),
        "addresses": [{"type": "InternalIP", "address": node_ip},
                      {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {"machineID": facts.machine_id, "systemUUID": system_uuid,
                     "bootID": facts.boot_id, "kernelVersion": facts.kernel,
                     "osImage": facts.os_image, "operatingSystem": "linux",
                     "architecture": arch, "containerRuntimeVersion": runtime_version,
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION},
        "images": images}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {RUNTIME_ANNOTATION: "docker",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": spec, "status": status}
