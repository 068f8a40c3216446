"""The node's MemoryPressure, DiskPressure and PIDPressure conditions from the host's
real figures, against upstream's default hard eviction thresholds (memory.available
<100Mi, nodefs.available<10%, nodefs.inodesFree<5%, imagefs.available<15%,
imagefs.inodesFree<5%; upstream sets no default pid.available threshold, so PIDPressure
only reports the figure's absence of pressure). `host_figures` reads the host;
`conditions_patch` is pure. It never evicts pods (no eviction manager yet).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
MEMORY_AVAILABLE_MIN = 100 * 1024 * 1024
NODEFS_MIN, NODEFS_INODES_MIN = 0.10, 0.05
IMAGEFS_MIN, IMAGEFS_INODES_MIN = 0.15, 0.05

_TEXT = {  # type -> (healthy reason, message), (pressure reason, message)
    "MemoryPressure": (("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                       ("KubeletHasInsufficientMemory",
                        "kubelet has insufficient memory available")),
    "DiskPressure": (("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    "PIDPressure": (("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
    "Ready": (("KubeletReady", "kubelet is posting ready status"),
              ("KubeletNotReady", "kubelet is not ready")),
}


@dataclass(frozen=True)
class Figures:
    memory_available: int          # bytes
    nodefs_free: float             # fractions of the filesystem
    nodefs_inodes_free: float
    imagefs_free: float
    imagefs_inodes_free: float


def _fs(path: str) -> tuple[float, float]:
    st = os.statvfs(path if os.path.exists(path) else "/")
    space = st.f_bavail / st.f_blocks if st.f_blocks else 1.0
    inodes = st.f_favail / st.f_files if st.f_files else 1.0
    return space, inodes


def host_figures(nodefs: str, imagefs: str = "/var/lib/docker") -> Figures:
    available = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) * 1024
    node_space, node_inodes = _fs(nodefs)
    image_space, image_inodes = _fs(imagefs)
    return Figures(available, node_space, node_inodes, image_space, image_inodes)


def pressures(f: Figures) -> dict[str, bool]:
    return {"MemoryPressure": f.memory_available < MEMORY_AVAILABLE_MIN,
            "DiskPressure": (f.nodefs_free < NODEFS_MIN or
                             f.nodefs_inodes_free < NODEFS_INODES_MIN or
                             f.imagefs_free < IMAGEFS_MIN or
                             f.imagefs_inodes_free < IMAGEFS_INODES_MIN),
            "PIDPressure": False, "Ready": False}


def conditions_patch(node: Obj | None, figures: Figures, now: str) -> Obj:
    """A merge patch of status.conditions, keeping lastTransitionTime while a status
    holds."""
    old = {c.get("type"): c for c in ((node or {}).get("status") or {}).get("conditions")
           or []}
    out = []
    for type_, bad in pressures(figures).items():
        status = ("True" if not bad else "False") if type_ == "Ready" else \
            ("True" if bad else "False")
        reason, message = _TEXT[type_][bad]
        prev = old.get(type_)
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == status \
            else None
        out.append({"type": type_, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": since or now})
    return {"status": {"conditions": out}}


def statuses(node: Obj | None) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in
            ((node or {}).get("status") or {}).get("conditions") or []}
