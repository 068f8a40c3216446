"""Hairpin mode on the bridge ports of this cluster's pods, so that a pod reaching
itself through its Service (DNAT back to its own address) gets the packet back out of
the port it came in by (upstream's kubelet --hairpin-mode=hairpin-veth).

Touches only the host-side veth of sandbox containers labelled with this cluster's
id; reads the container's own /sys through /proc/<pid>/root to find it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CLUSTER_LABEL = "dev.kapi.cluster"
TYPE_LABEL = "io.kubernetes.docker.type"


def _veth_of(pid: int) -> str | None:
    try:
        index = (Path(f"/proc/{pid}/root/sys/class/net/eth0/iflink")).read_text().strip()
    except OSError:
        return None
    for dev in Path("/sys/class/net").iterdir():
        try:
            if (dev / "ifindex").read_text().strip() == index:
                return dev.name
        except OSError:
            continue
    return None


class Hairpin:
    def __init__(self, cluster_uid: str) -> None:
        self.cluster_uid = cluster_uid
        self.done: set[str] = set()
        self._docker: Any = None

    def sync(self) -> None:
        """Set hairpin mode on each new sandbox's veth (best effort: a pod gone
        meanwhile or no engine is not an error)."""
        try:
            import docker
            if self._docker is None:
                self._docker = docker.from_env(timeout=10)
            found = self._docker.api.containers(filters={"label": [
                f"{CLUSTER_LABEL}={self.cluster_uid}", f"{TYPE_LABEL}=podsandbox"]})
        except Exception as e:  # no engine here: nothing of ours to set
            log.debug("hairpin: %s", e)
            return
        for c in found:
            if c["Id"] in self.done:
                continue
            pid = int(((self._docker.api.inspect_container(c["Id"]).get("State") or {})
                       .get("Pid")) or 0)
            veth = _veth_of(pid) if pid else None
            mode = Path(f"/sys/class/net/{veth}/brport/hairpin_mode") if veth else None
            if mode is not None and mode.exists():
                mode.write_text("1")
                self.done.add(c["Id"])
        self.done &= {c["Id"] for c in found}

    def close(self) -> None:
        if self._docker is not None:
            self._docker.close()
