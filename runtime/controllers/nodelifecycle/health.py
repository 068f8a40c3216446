"""Node health decisions, pure: when a node counts as silent, what its conditions and
taints become, and when a pod on a tainted node must be evicted.

Silence is judged by the controller's own clock (as upstream): a node's probe time
moves whenever its Lease renewTime or its kubelet-posted Ready heartbeat changes, so
clock skew between nodes and the controller does not matter. Nothing here does I/O,
reads a clock (callers pass `now`) or mutates what it is given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from runtime.util.times import parse_time
from runtime.util.tolerations import tolerates

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
PRESSURE_TAINTS = {  # condition (when True) -> NoSchedule taint key
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
    "NetworkUnavailable": "node.kubernetes.io/network-unavailable",
}
MANAGED_KEYS = frozenset({NOT_READY, UNREACHABLE, UNSCHEDULABLE, *PRESSURE_TAINTS.values()})
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
# Reasons this controller writes: a Ready condition carrying one is not a kubelet heartbeat.
UNKNOWN_REASON, NEVER_REASON = "NodeStatusUnknown", "NodeStatusNeverUpdated"
UNKNOWN_MESSAGE, NEVER_MESSAGE = ("Kubelet stopped posting node status.",
                                  "Kubelet never posted node status.")


def condition(node: Obj, ctype: str) -> Obj | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


# -- silence ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    at: float  # controller time (seconds) when the node last showed progress
    heartbeat: str  # Ready.lastHeartbeatTime as last seen from the kubelet
    renew: str  # Lease spec.renewTime as last seen


def _heartbeat(node: Obj) -> str:
    ready = condition(node, "Ready")
    if ready is None or ready.get("reason") in (UNKNOWN_REASON, NEVER_REASON):
        return ""
    return str(ready.get("lastHeartbeatTime") or "")


class HealthTracker:
    def __init__(self) -> None:
        self.probes: dict[str, Probe] = {}

    def observe(self, name: str, node: Obj, lease: Obj | None, now: float) -> Probe:
        """Record what the node shows now; progress (a new heartbeat or renewal) moves
        the probe time. The first sight of a node counts as progress."""
        hb = _heartbeat(node)
        renew = str(((lease or {}).get("spec") or {}).get("renewTime") or "")
        p = self.probes.get(name)
        if p is None or (hb and hb != p.heartbeat) or (renew and renew != p.renew):
            p = Probe(now, hb or (p.heartbeat if p else ""), renew or (p.renew if p else ""))
            self.probes[name] = p
        return p

    def remaining(self, name: str, now: float, grace: float,
                  startup_grace: float | None = None) -> float:
        """Seconds before the node counts as silent (<= 0: it does). A node that never
        posted a heartbeat gets `startup_grace` (when given) instead of `grace`."""
        p = self.probes.get(name)
        if p is None:
            return grace
        if not p.heartbeat and startup_grace is not None:
            grace = startup_grace
        return p.at + grace - now

    def forget(self, name: str) -> None:
        self.probes.pop(name, None)


def unknown_conditions(node: Obj, now: str) -> list[Obj] | None:
    """The node's conditions with the monitored ones turned Unknown; None if they
    already are."""
    conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    changed = False
    for ctype in MONITORED_CONDITIONS:
        c = next((c for c in conds if c.get("type") == ctype), None)
        if c is None:
            conds.append({"type": ctype, "status": "Unknown", "reason": NEVER_REASON,
                          "message": NEVER_MESSAGE, "lastTransitionTime": now,
                          "lastHeartbeatTime": node["metadata"].get("creationTimestamp")})
            changed = True
        elif c.get("status") != "Unknown":
            c.update(status="Unknown", reason=UNKNOWN_REASON, message=UNKNOWN_MESSAGE,
                     lastTransitionTime=now)
            changed = True
    return conds if changed else None


# -- taints ----------------------------------------------------------------------------
def wanted_taints(node: Obj) -> set[tuple[str, str]]:
    """(key, effect) of the taints this controller manages that the node should carry."""
    out: set[tuple[str, str]] = set()
    ready = condition(node, "Ready")
    status = ready.get("status") if ready else None
    if status in ("False", "Unknown"):
        key = NOT_READY if status == "False" else UNREACHABLE
        out |= {(key, "NoExecute"), (key, "NoSchedule")}
    for ctype, key in PRESSURE_TAINTS.items():
        c = condition(node, ctype)
        if c is not None and c.get("status") == "True":
            out.add((key, "NoSchedule"))
    if (node.get("spec") or {}).get("unschedulable"):
        out.add((UNSCHEDULABLE, "NoSchedule"))
    return out


def reconciled_taints(node: Obj, now: str) -> list[Obj] | None:
    """The node's taints with the managed ones made right (others untouched, existing
    ones keep their timeAdded); None if nothing changes."""
    current = list((node.get("spec") or {}).get("taints") or [])
    wanted = wanted_taints(node)
    keep = [dict(t) for t in current
            if t.get("key") not in MANAGED_KEYS or (t.get("key"), t.get("effect")) in wanted]
    have = {(t.get("key"), t.get("effect")) for t in keep}
    add = [{"key": k, "effect": e, "timeAdded": now} for k, e in sorted(wanted - have)]
    new = keep + add
    return None if new == current else new


# -- tolerations and eviction ----------------------------------------------------------
def effective_tolerations(pod: Obj, default_seconds: float) -> list[Obj]:
    """The pod's tolerations plus the not-ready/unreachable NoExecute defaults it does
    not already have (what upstream's DefaultTolerationSeconds admission adds)."""
    tols = list((pod.get("spec") or {}).get("tolerations") or [])
    for key in (NOT_READY, UNREACHABLE):
        if not any(t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", "")
                   for t in tols):
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": default_seconds})
    return tols


def eviction_delay(pod: Obj, taints: list[Obj], default_seconds: float,
                   now: dt.datetime) -> float | None:
    """Seconds until the pod must be evicted from a node with these taints: None if
    never (no NoExecute taint, or tolerated forever), 0 if now. Each NoExecute taint
    counts from its timeAdded; the first expiring toleration decides."""
    deadlines = []
    for taint in (t for t in taints if t.get("effect") == "NoExecute"):
        tol = next((t for t in effective_tolerations(pod, default_seconds)
                    if tolerates(t, taint)), None)
        if tol is None:
            return 0.0
        if tol.get("tolerationSeconds") is not None:
            secs = max(float(tol["tolerationSeconds"]), 0.0)
            deadlines.append((parse_time(taint.get("timeAdded")) or now) + dt.timedelta(seconds=secs))
    if not deadlines:
        return None
    return max((min(deadlines) - now).total_seconds(), 0.0)
