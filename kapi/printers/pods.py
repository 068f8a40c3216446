"""The core/v1 Pod printer: READY, STATUS and RESTARTS exactly as kubectl shows them.

Owns upstream's printPod reasoning (init containers, restartable "sidecar" init
containers, waiting/terminated reasons, Completed-but-running, Terminating/Unknown)
and the "N (X ago)" restart cell.

Must never: mutate the pod, read the clock, or do I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from kapi.printers import common
from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, Row, get, name

COLUMNS = (
    NAME,
    Column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "The aggregate status of the containers in this pod."),
    Column("Restarts", "The number of times the containers in this pod have been restarted "
                       "and when the last container in this pod has restarted."),
    AGE,
    Column("IP", "podIP address allocated to the pod. Routable at least within the cluster. "
                 "Empty if not yet allocated.", priority=1),
    Column("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
    Column("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods "
                             "on the node, but it cannot be scheduled right away.", priority=1),
    Column("Readiness Gates", "If specified, all readiness gates will be evaluated for pod "
                              "readiness.", priority=1),
)

SUCCEEDED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                         "message": "The pod has completed successfully."}]
FAILED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Failed",
                      "message": "The pod failed."}]
NODE_UNREACHABLE_REASON = "NodeLost"


@dataclass
class _Tally:
    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: dt.datetime | None = None
    sidecar_restarts: int = 0
    sidecar_last_restart: dt.datetime | None = None


def _later(a: dt.datetime | None, status: Mapping[str, Any]) -> dt.datetime | None:
    finished = common.parse_time(get(status, "lastState", "terminated", "finishedAt"))
    if finished is not None and (a is None or a < finished):
        return finished
    return a


def _has_condition(pod: Obj, ctype: str, status: str = "True") -> bool:
    for c in get(pod, "status", "conditions", default=[]):
        if c.get("type") == ctype:
            return c.get("status") == status
    return False


def _restartable(init_container: Mapping[str, Any] | None) -> bool:
    return init_container is not None and init_container.get("restartPolicy") == "Always"


def _terminated_reason(term: Mapping[str, Any], prefix: str) -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _init_reason(i: int, cs: Mapping[str, Any], sidecar: bool, pod: Obj,
                 t: _Tally) -> str | None:
    """The Init:... reason this init container imposes, or None to look at the next one."""
    term, waiting = get(cs, "state", "terminated"), get(cs, "state", "waiting")
    if term is not None and term.get("exitCode", 0) == 0:
        return None
    if sidecar and cs.get("started"):
        t.ready += 1 if cs.get("ready") else 0
        return None
    if term is not None:
        return _terminated_reason(term, "Init:")
    if waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
        return "Init:" + waiting["reason"]
    return f"Init:{i}/{len(get(pod, 'spec', 'initContainers', default=[]))}"


def _scan_init_containers(pod: Obj, t: _Tally) -> bool:
    """Tally init containers; True while the pod is still initializing."""
    specs = {c.get("name"): c for c in get(pod, "spec", "initContainers", default=[])}
    for i, cs in enumerate(get(pod, "status", "initContainerStatuses", default=[])):
        t.restarts += cs.get("restartCount", 0)
        t.last_restart = _later(t.last_restart, cs)
        sidecar = _restartable(specs.get(cs.get("name")))
        if sidecar:
            t.sidecar_restarts += cs.get("restartCount", 0)
            t.sidecar_last_restart = _later(t.sidecar_last_restart, cs)
        reason = _init_reason(i, cs, sidecar, pod, t)
        if reason is not None:
            t.reason = reason
            return True
    return False


def _scan_containers(pod: Obj, t: _Tally) -> None:
    t.restarts, t.last_restart = t.sidecar_restarts, t.sidecar_last_restart
    has_running = False
    for cs in reversed(get(pod, "status", "containerStatuses", default=[])):
        t.restarts += cs.get("restartCount", 0)
        t.last_restart = _later(t.last_restart, cs)
        waiting, term = get(cs, "state", "waiting"), get(cs, "state", "terminated")
        if waiting is not None and waiting.get("reason"):
            t.reason = waiting["reason"]
        elif term is not None:
            t.reason = _terminated_reason(term, "")
        elif cs.get("ready") and get(cs, "state", "running") is not None:
            has_running = True
            t.ready += 1
    if t.reason == "Completed" and has_running:
        t.reason = "Running" if _has_condition(pod, "Ready") else "NotReady"


def _base_reason(pod: Obj) -> str:
    reason = get(pod, "status", "reason") or get(pod, "status", "phase", default="")
    for c in get(pod, "status", "conditions", default=[]):
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    return reason


def _final_reason(pod: Obj, reason: str) -> str:
    if get(pod, "metadata", "deletionTimestamp") is None:
        return reason
    if get(pod, "status", "reason") == NODE_UNREACHABLE_REASON:
        return "Unknown"
    if get(pod, "status", "phase") not in ("Failed", "Succeeded"):
        return "Terminating"
    return reason


def _restarts_cell(t: _Tally, now: dt.datetime) -> str:
    if t.restarts != 0 and t.last_restart is not None:
        return f"{t.restarts} ({common.human_duration((now - t.last_restart).total_seconds())} ago)"
    return str(t.restarts)


def pod_summary(pod: Obj, now: dt.datetime) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) cells, e.g. ("1/2", "CrashLoopBackOff", "5 (3m ago)")."""
    t = _Tally(_base_reason(pod))
    inits = get(pod, "spec", "initContainers", default=[])
    total = len(get(pod, "spec", "containers", default=[])) + sum(map(_restartable, inits))
    initializing = _scan_init_containers(pod, t)
    if not initializing or _has_condition(pod, "Initialized"):
        _scan_containers(pod, t)
    return f"{t.ready}/{total}", _final_reason(pod, t.reason), _restarts_cell(t, now)


def _readiness_gates(pod: Obj) -> str:
    gates = get(pod, "spec", "readinessGates", default=[])
    if not gates:
        return "<none>"
    conditions = get(pod, "status", "conditions", default=[])
    true = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        true += 1 if match is not None and match.get("status") == "True" else 0
    return f"{true}/{len(gates)}"


def _pod_ip(pod: Obj) -> str:
    return get(pod, "status", "podIP") or get(pod, "status", "podIPs", 0, "ip") or "<none>"


def pod_row(pod: Obj, ctx: Ctx) -> Row:
    ready, status, restarts = pod_summary(pod, ctx.now)
    cells: list[Any] = [name(pod), ready, status, restarts,
                        common.since(get(pod, "metadata", "creationTimestamp"), ctx.now),
                        _pod_ip(pod), get(pod, "spec", "nodeName") or "<none>",
                        get(pod, "status", "nominatedNodeName") or "<none>", _readiness_gates(pod)]
    phase = get(pod, "status", "phase")
    conditions = {"Succeeded": SUCCEEDED_CONDITIONS, "Failed": FAILED_CONDITIONS}.get(phase)
    return Row(cells, [dict(c) for c in conditions] if conditions else None)


POD = Printer(COLUMNS, pod_row)
