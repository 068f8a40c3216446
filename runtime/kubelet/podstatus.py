"""Pod status documents as a kubelet reports them (phase, conditions, container states).

Pure builders over plain dicts: they own the shape of `status` for a running, finished
or terminating pod, keeping a condition's lastTransitionTime when its status does not
change. They must never do I/O, read a clock or mutate the pod they are given.
"""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]

READY_ANNOTATION = "sim.kapi.dev/ready"


def container_id(pod: Obj, name: str) -> str:
    digest = hashlib.sha1(f"{pod['metadata'].get('uid', '')}/{name}".encode()).hexdigest()
    return f"kapi-sim://{digest}"


def _conditions(pod: Obj, wanted: list[tuple[str, str, str]], now: str) -> list[Obj]:
    """Conditions (type, status, reason); a condition whose status is unchanged keeps its
    lastTransitionTime."""
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    out = []
    for type_, status, reason in wanted:
        prev = old.get(type_)
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
        cond: Obj = {"type": type_, "status": status, "lastProbeTime": None,
                     "lastTransitionTime": since or now}
        if reason:
            cond["reason"] = reason
        out.append(cond)
    return out


def _base(pod: Obj, host_ip: str, pod_ip: str, started_at: str) -> Obj:
    status: Obj = {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": started_at}
    if pod_ip:
        status |= {"podIP": pod_ip, "podIPs": [{"ip": pod_ip}]}
    qos = (pod.get("status") or {}).get("qosClass")
    if qos:
        status["qosClass"] = qos
    return status


def _init_statuses(pod: Obj, started_at: str) -> list[Obj]:
    return [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
             "containerID": container_id(pod, c["name"]), "ready": True, "restartCount": 0,
             "started": False, "lastState": {},
             "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                      "startedAt": started_at, "finishedAt": started_at,
                                      "containerID": container_id(pod, c["name"])}}}
            for c in (pod.get("spec") or {}).get("initContainers") or []]


def running_status(pod: Obj, *, host_ip: str, pod_ip: str, started_at: str, now: str,
                   restarts: int = 0, last_exit: int | None = None) -> Obj:
    """Every container running (and ready, unless the pod asks otherwise)."""
    ready = ((pod["metadata"].get("annotations") or {}).get(READY_ANNOTATION) != "false")
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    last: Obj = {}
    if last_exit is not None:
        last = {"terminated": {"exitCode": last_exit, "reason": "Error" if last_exit else
                               "Completed", "startedAt": started_at, "finishedAt": now}}
    statuses = [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                 "containerID": container_id(pod, c["name"]), "ready": ready,
                 "started": True, "restartCount": restarts, "lastState": last,
                 "state": {"running": {"startedAt": now if last_exit is not None
                                       else started_at}}}
                for c in (pod.get("spec") or {}).get("containers") or []]
    not_ready = "" if ready else "ContainersNotReady"
    status = _base(pod, host_ip, pod_ip, started_at) | {
        "phase": "Running", "containerStatuses": statuses,
        "conditions": _conditions(pod, [
            ("PodReadyToStartContainers", "True", ""), ("Initialized", "True", ""),
            ("Ready", "True" if ready else "False", not_ready),
            ("ContainersReady", "True" if ready else "False", not_ready),
            ("PodScheduled", "True", "")], now)}
    if not ready:
        msg = f"containers with unready status: [{' '.join(names)}]"
        for c in status["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c["message"] = msg
    if _init_statuses(pod, started_at):
        status["initContainerStatuses"] = _init_statuses(pod, started_at)
    return status


def finished_status(pod: Obj, *, host_ip: str, pod_ip: str, started_at: str, now: str,
                    code: int, keep_phase: bool = False) -> Obj:
    """Every container terminated with `code`: Succeeded (0) or Failed, or, for a pod being
    deleted (keep_phase), its containers stopped and the phase left alone."""
    reason = "Completed" if code == 0 else "Error"
    statuses = [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                 "containerID": container_id(pod, c["name"]), "ready": False,
                 "started": False, "restartCount": 0, "lastState": {},
                 "state": {"terminated": {"exitCode": code, "reason": reason,
                                          "startedAt": started_at, "finishedAt": now,
                                          "containerID": container_id(pod, c["name"])}}}
                for c in (pod.get("spec") or {}).get("containers") or []]
    why = "PodCompleted" if not keep_phase else "ContainersNotReady"
    status = _base(pod, host_ip, pod_ip, started_at) | {
        "containerStatuses": statuses,
        "conditions": _conditions(pod, [
            ("PodReadyToStartContainers", "False", ""), ("Initialized", "True", ""),
            ("Ready", "False", why), ("ContainersReady", "False", why),
            ("PodScheduled", "True", "")], now)}
    if not keep_phase:
        status["phase"] = "Succeeded" if code == 0 else "Failed"
    if _init_statuses(pod, started_at):
        status["initContainerStatuses"] = _init_statuses(pod, started_at)
    return status
