"""The status a real kubelet reports for a pod, built from the containers that exist.

Pure: phase (upstream's getPhase), conditions (PodScheduled, PodReadyToStartContainers,
Initialized, ContainersReady, Ready, keeping lastTransitionTime while a status holds),
hostIP(s), podIP(s), startTime and container statuses with state/lastState/restartCount.
It must never do I/O or read a clock, and never mutates the pod it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.kubelet.cri import ContainerInfo
from runtime.kubelet.podsync import instances, is_sidecar, sandboxes, succeeded

Obj = dict[str, Any]


@dataclass(frozen=True)
class Observed:
    """What the kubelet knows beyond the container list."""
    host_ip: str
    now: str
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> reason, msg
    ready: frozenset[str] = frozenset()  # ids of running containers that pass readiness
    unstarted: frozenset[str] = frozenset()  # running ids whose startup probe has not passed
    deadline_exceeded: bool = False  # the pod ran past spec.activeDeadlineSeconds


DEADLINE_EXCEEDED = {"reason": "DeadlineExceeded",
                     "message": "Pod was active on the node longer than the specified deadline"}
TERMINAL = ("Succeeded", "Failed")


def final_phase(old: Obj, ph: str, obs: Observed) -> tuple[str, Obj]:
    """The phase with the reason/message that go with it: a pod never leaves a terminal
    phase (upstream's status manager), and one past its active deadline is Failed."""
    if old.get("phase") in TERMINAL:
        return old["phase"], {k: old[k] for k in ("reason", "message") if k in old}
    if obs.deadline_exceeded:
        return "Failed", dict(DEADLINE_EXCEEDED)
    return ph, {}


def terminated(c: ContainerInfo) -> Obj:
    if c.state == "created":  # created but never started
        return {"exitCode": 128, "reason": "StartError", "startedAt": None,
                "finishedAt": c.created_at, "containerID": f"docker://{c.id}"}
    reason = "OOMKilled" if c.oom_killed else ("Completed" if c.exit_code == 0 else "Error")
    out: Obj = {"exitCode": c.exit_code, "reason": reason, "startedAt": c.started_at,
                "finishedAt": c.finished_at, "containerID": f"docker://{c.id}"}
    if c.message:
        out["message"] = c.message
    return out


def container_status(spec: Obj, insts: list[ContainerInfo], init: bool, obs: Observed,
                     initializing: bool) -> Obj:
    current = insts[-1] if insts else None
    previous = insts[-2] if len(insts) > 1 else None
    st: Obj = {"name": spec["name"], "image": spec.get("image", ""), "imageID": "",
               "ready": False, "restartCount": current.attempt if current else 0,
               "started": bool(current and current.running and
                               current.id not in obs.unstarted), "lastState": {}}
    if current is not None:
        st["imageID"], st["containerID"] = current.image_id, f"docker://{current.id}"
    waiting = obs.waiting.get(spec["name"])
    if waiting is not None:
        st["state"] = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
        if current is not None and not current.running:
            st["lastState"] = {"terminated": terminated(current)}
        return st
    if previous is not None and not previous.running:
        st["lastState"] = {"terminated": terminated(previous)}
    if current is None:
        reason = "PodInitializing" if initializing or init else "ContainerCreating"
        st["state"] = {"waiting": {"reason": reason}}
    elif current.running:
        st["state"] = {"running": {"startedAt": current.started_at}}
        st["ready"] = current.id in obs.ready
    else:
        st["state"] = {"terminated": terminated(current)}
        st["ready"] = init and not is_sidecar(spec) and succeeded(current)
    return st


def phase(pod: Obj, inits: list[Obj], apps: list[Obj]) -> str:
    """Upstream's getPhase: sidecars count as running while they run, hold the pod
    Pending until they have started (before any regular container ran), and are left
    out once stopped."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    sidecars = {c["name"] for c in spec.get("initContainers") or [] if is_sidecar(c)}
    pending = running = waiting = 0
    for s in inits:
        if s["name"] in sidecars:
            never_ran = "waiting" in s["state"] and "terminated" not in s["lastState"]
            running += "running" in s["state"]
            waiting += never_ran
            pending += ("running" in s["state"] and not s["started"]) or never_ran
            continue
        term = s["state"].get("terminated")
        if term and term["exitCode"] == 0:
            continue
        failed = (term is not None or "terminated" in s["lastState"])
        if failed and policy == "Never":
            return "Failed"
        pending += 1
    if pending and not _any_started(apps):
        return "Pending"
    return _app_phase(policy, apps, running, waiting)


def _app_phase(policy: str, apps: list[Obj], running: int, waiting: int) -> str:
    stopped = succeeded_ = 0
    for s in apps:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded_ += state["terminated"]["exitCode"] == 0
        elif "terminated" in s["lastState"]:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if stopped == succeeded_:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def _condition(old: dict[str, Obj], type_: str, ok: bool, now: str, reason: str = "",
               message: str = "") -> Obj:
    status = "True" if ok else "False"
    prev = old.get(type_)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
    cond: Obj = {"type": type_, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": since or now}
    if reason and not ok:
        cond["reason"] = reason
    if message and not ok:
        cond["message"] = message
    return cond


def conditions(pod: Obj, ph: str, inits: list[Obj], apps: list[Obj], sandbox_up: bool,
               now: str) -> list[Obj]:
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    sidecars = {c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []
                if is_sidecar(c)}
    # a sidecar is initialized once started, and must be ready for the pod to be
    undone = [s["name"] for s in inits if not s["started" if s["name"] in sidecars
                                                      else "ready"]]
    unready = [s["name"] for s in inits if s["name"] in sidecars and not s["ready"]] + [
        s["name"] for s in apps if not s["ready"]]
    ready_reason = "PodCompleted" if ph == "Succeeded" else "ContainersNotReady"
    msg = f"containers with unready status: [{' '.join(unready)}]"
    return [
        _condition(old, "PodReadyToStartContainers", sandbox_up, now),
        # upstream's GeneratePodInitializedCondition: a Failed pod whose init containers
        # did not all finish is not initialized, unless a regular container ever started
        _condition(old, "Initialized", not undone or ph == "Succeeded" or _any_started(apps),
                   now, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(undone)}]"),
        _condition(old, "Ready", not unready, now, ready_reason, msg),
        _condition(old, "ContainersReady", not unready, now, ready_reason, msg),
        _condition(old, "PodScheduled", True, now)]


def _any_started(apps: list[Obj]) -> bool:
    return any("running" in s["state"] or "terminated" in s["state"]
               or "terminated" in s["lastState"] for s in apps)


def pod_status(pod: Obj, containers: list[ContainerInfo], obs: Observed) -> Obj:
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    init_specs = spec.get("initContainers") or []
    inits = [container_status(c, instances(containers, c["name"], True), True, obs, False)
             for c in init_specs]
    sidecars = {c["name"] for c in init_specs if is_sidecar(c)}
    initializing = any(not s["started" if s["name"] in sidecars else "ready"] for s in inits)
    apps = [container_status(c, instances(containers, c["name"], False), False, obs,
                             initializing) for c in spec.get("containers") or []]
    ph, why = final_phase(old, phase(pod, inits, apps), obs)
    boxes = sandboxes(containers)
    sandbox_up = bool(boxes and boxes[-1].running)
    status: Obj = {"phase": ph, "hostIP": obs.host_ip, "hostIPs": [{"ip": obs.host_ip}],
                   "startTime": old.get("startTime") or obs.now,
                   "conditions": conditions(pod, ph, inits, apps, sandbox_up, obs.now),
                   "containerStatuses": apps} | why
    ip = next((b.ip for b in reversed(boxes) if b.ip), "") or old.get("podIP", "")
    if spec.get("hostNetwork"):
        ip = obs.host_ip
    if ip:
        status |= {"podIP": ip, "podIPs": [{"ip": ip}]}
    if inits:
        status["initContainerStatuses"] = inits
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status
