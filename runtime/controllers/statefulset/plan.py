"""What a StatefulSet should do next, and its status (upstream
stateful_set_control.go): given the set, its pods and its current/update revisions,
a list of actions in the order upstream takes them, cut where upstream would stop.

OrderedReady ("monotonic") creates the lowest missing ordinal only when every lower one
is Running and Ready (and available), scales down from the highest ordinal one pod at a
time, and stops at anything unhealthy. Parallel creates and deletes all at once. A
RollingUpdate deletes, from the highest ordinal down to the partition, one pod whose
revision is not the update revision, waiting for health in between; OnDelete never
deletes for an update.

Pure: never does I/O, reads a clock, or mutates its inputs.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from runtime.controllers.statefulset import pods as sp
from runtime.util.meta import is_terminating, meta
from runtime.util.pods import available_in, is_available, is_running_and_ready, phase

Obj = dict[str, Any]


@dataclass
class Action:
    verb: str  # "create" | "delete" | "relabel"
    pod: Obj
    reason: str = ""  # why a delete happens: "failed", "terminated", "condemned", "update"


@dataclass
class Revisions:
    current_set: Obj  # the set as of the current revision
    update_set: Obj  # the set as of the update revision
    current: str  # revision names
    update: str
    owner_ref: Obj = field(default_factory=dict)


def apply_revision(sts: Mapping[str, Any], revision: Mapping[str, Any]) -> Obj:
    """The set with the template recorded in revision (upstream ApplyRevision)."""
    out = copy.deepcopy(dict(sts))
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    out.setdefault("spec", {})["template"] = template
    return out


def partition_of(sts: Mapping[str, Any]) -> int:
    ru = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return int(ru.get("partition") or 0)


def strategy_of(sts: Mapping[str, Any]) -> str:
    return str(((sts.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def is_monotonic(sts: Mapping[str, Any]) -> bool:
    return (sts.get("spec") or {}).get("podManagementPolicy") != "Parallel"


def min_ready(sts: Mapping[str, Any]) -> int:
    return int((sts.get("spec") or {}).get("minReadySeconds") or 0)


def versioned_pod(sts: Mapping[str, Any], revs: Revisions, ordinal: int) -> Obj:
    """Below the partition a new pod gets the current revision, otherwise the update one
    (upstream newVersionedStatefulSetPod)."""
    if strategy_of(revs.current_set) == "RollingUpdate" and ordinal < sp.start_ordinal(sts) + \
            partition_of(revs.current_set):
        return sp.new_pod(revs.current_set, ordinal, revs.current, revs.owner_ref)
    return sp.new_pod(revs.update_set, ordinal, revs.update, revs.owner_ref)


def split_pods(sts: Mapping[str, Any], pods: list[Obj]) -> tuple[list[Obj | None], list[Obj]]:
    """(a slot per wanted ordinal, the condemned pods by descending ordinal)."""
    start, n = sp.start_ordinal(sts), sp.replicas_of(sts)
    slots: list[Obj | None] = [None] * n
    condemned = []
    for p in pods:
        o = sp.ordinal_of(p)
        if start <= o < start + n:
            slots[o - start] = p
        elif o >= 0:
            condemned.append(p)
    condemned.sort(key=sp.ordinal_of, reverse=True)
    return slots, condemned


def _healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def _ready_and_available(pod: Obj, sts: Mapping[str, Any], now: dt.datetime) -> bool:
    return is_running_and_ready(pod) and is_available(pod, min_ready(sts), now)


def _process_replicas(sts: Mapping[str, Any], slots: list[Obj], created: set[int],
                      revs: Revisions, now: dt.datetime, out: list[Action]) -> bool:
    """Upstream processReplica over every slot; True means stop here."""
    monotonic, start = is_monotonic(sts), sp.start_ordinal(sts)
    for i, pod in enumerate(slots):
        if i not in created and phase(pod) in ("Failed", "Succeeded"):
            out.append(Action("delete", pod, "failed" if phase(pod) == "Failed" else "terminated"))
            slots[i] = pod = versioned_pod(sts, revs, start + i)
            created.add(i)
        if i in created:
            out.append(Action("create", pod))
            if monotonic:
                return True
            continue
        if monotonic and (is_terminating(pod) or not _ready_and_available(pod, sts, now)):
            return True
        if not sp.identity_matches(sts, pod):
            out.append(Action("relabel", pod))
    return False


def _process_condemned(sts: Mapping[str, Any], condemned: list[Obj], first_unhealthy: Obj | None,
                       now: dt.datetime, out: list[Action]) -> bool:
    monotonic = is_monotonic(sts)
    for pod in condemned:
        if is_terminating(pod):
            if monotonic:
                return True
            continue
        if monotonic and pod is not first_unhealthy and not _ready_and_available(pod, sts, now):
            return True
        out.append(Action("delete", pod, "condemned"))
        if monotonic:
            return True
    return False


def _rolling_update(sts: Mapping[str, Any], slots: list[Obj], revs: Revisions,
                    out: list[Action]) -> None:
    for target in range(len(slots) - 1, partition_of(sts) - 1, -1):
        pod = slots[target]
        if sp.pod_revision(pod) != revs.update and not is_terminating(pod):
            out.append(Action("delete", pod, "update"))
            return
        if not _healthy(pod):
            return


def plan(sts: Mapping[str, Any], pods: list[Obj], revs: Revisions,
         now: dt.datetime) -> list[Action]:
    """The actions upstream's updateStatefulSet takes, in order."""
    if meta(sts).get("deletionTimestamp"):
        return []
    found, condemned = split_pods(sts, pods)
    created = {i for i, p in enumerate(found) if p is None}
    slots: list[Obj] = [p if p is not None else versioned_pod(sts, revs, sp.start_ordinal(sts) + i)
                        for i, p in enumerate(found)]
    unhealthy = [p for i, p in enumerate(slots) if i in created or not _healthy(p)]
    unhealthy += [p for p in reversed(condemned) if not _healthy(p)]
    first_unhealthy = unhealthy[0] if unhealthy else None
    out: list[Action] = []
    if _process_replicas(sts, slots, created, revs, now, out):
        return out
    if _process_condemned(sts, condemned, first_unhealthy, now, out):
        return out
    if strategy_of(sts) != "OnDelete":
        _rolling_update(sts, slots, revs, out)
    return out


def compute_status(sts: Mapping[str, Any], pods: list[Obj], revs: Revisions, collision_count: int,
                   now: dt.datetime) -> Obj:
    """Upstream updateStatus + completeRollingUpdate over the pods that exist."""
    st: Obj = {"observedGeneration": meta(sts).get("generation", 0), "replicas": 0,
               "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0,
               "availableReplicas": 0, "currentRevision": revs.current,
               "updateRevision": revs.update, "collisionCount": collision_count}
    for p in pods:
        if not phase(p):
            continue
        st["replicas"] += 1
        if is_running_and_ready(p):
            st["readyReplicas"] += 1
            if is_available(p, min_ready(sts), now):
                st["availableReplicas"] += 1
        if not is_terminating(p):
            st["currentReplicas"] += sp.pod_revision(p) == revs.current
            st["updatedReplicas"] += sp.pod_revision(p) == revs.update
    if (strategy_of(sts) == "RollingUpdate" and st["updatedReplicas"] == st["replicas"]
            and st["readyReplicas"] == st["replicas"]):
        st["currentReplicas"] = st["updatedReplicas"]
        st["currentRevision"] = revs.update
    return st


def next_check(sts: Mapping[str, Any], pods: list[Obj], now: dt.datetime) -> float | None:
    """Seconds until the next ready pod becomes available (minReadySeconds), if any."""
    waits = [w for p in pods if (w := available_in(p, min_ready(sts), now)) is not None]
    return min(waits) if waits else None
