"""What a DaemonSet should do next, and its status (upstream daemon_controller.go and
update.go): which nodes need a pod, which pods must go (duplicates, misscheduled,
failed, on vanished nodes), the RollingUpdate step within maxUnavailable / maxSurge,
and the status counters.

Pure: never does I/O, reads a clock, or mutates its inputs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from runtime.controllers.common.revisions import REVISION_HASH_LABEL
from runtime.controllers.daemonset import nodes as dn
from runtime.util.intorpercent import scaled_value
from runtime.util.meta import by_creation, is_terminating, labels_of, meta
from runtime.util.pods import is_available, is_ready, phase, pod_from_template

Obj = dict[str, Any]
TEMPLATE_GENERATION_LABEL = "pod-template-generation"


@dataclass
class Plan:
    create_on: list[str] = field(default_factory=list)  # node names
    delete: list[Obj] = field(default_factory=list)  # pods
    failed: list[tuple[str, Obj]] = field(default_factory=list)  # (node, failed pod): backoff


def new_pod(ds: Mapping[str, Any], node_name: str, hash_: str, owner_ref: Obj) -> Obj:
    template = (ds.get("spec") or {}).get("template") or {}
    pod = pod_from_template(template, owner_ref, meta(ds).get("namespace", ""),
                            generate_name=f"{meta(ds)['name']}-")
    labels = pod["metadata"].setdefault("labels", {})
    labels[REVISION_HASH_LABEL] = hash_
    labels[TEMPLATE_GENERATION_LABEL] = str(meta(ds).get("generation", 1))
    spec = dn.pin_to_node(pod["spec"], node_name)
    spec["tolerations"] = dn.with_default_tolerations(spec)
    pod["spec"] = spec
    return pod


def pods_by_node(pods: list[Obj]) -> dict[str, list[Obj]]:
    """Daemon pods per target node, scheduled ones and then the oldest first; pods that
    are both finished and being deleted are already gone for our purposes."""
    out: dict[str, list[Obj]] = {}
    for p in pods:
        node = dn.target_node(p)
        if node is None or (phase(p) in ("Succeeded", "Failed") and is_terminating(p)):
            continue
        out.setdefault(node, []).append(p)
    for ps in out.values():
        ps[:] = sorted(by_creation(ps), key=lambda p: not (p.get("spec") or {}).get("nodeName"))
    return out


def allows_surge(ds: Mapping[str, Any]) -> bool:
    ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return strategy_of(ds) == "RollingUpdate" and scaled_value(ru.get("maxSurge", 0), 100,
                                                                 round_up=True) > 0


def strategy_of(ds: Mapping[str, Any]) -> str:
    return str(((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def min_ready(ds: Mapping[str, Any]) -> int:
    return int((ds.get("spec") or {}).get("minReadySeconds") or 0)


def is_updated(pod: Mapping[str, Any], hash_: str) -> bool:
    return bool(hash_) and labels_of(pod).get(REVISION_HASH_LABEL) == hash_


# -- manage ---------------------------------------------------------------------------------
def _on_node(ds: Mapping[str, Any], node: str, pods: list[Obj], hash_: str,
             now: dt.datetime, plan: Plan) -> None:
    """Upstream podsShouldBeOnNode for a node where daemon pods may keep running."""
    running = []
    for p in pods:
        if is_terminating(p):
            continue
        if phase(p) == "Failed":
            plan.failed.append((node, p))
        elif phase(p) == "Succeeded":
            plan.delete.append(p)
        else:
            running.append(p)
    if len(running) <= 1:
        return
    if not allows_surge(ds):
        plan.delete.extend(running[1:])
        return
    oldest_new = oldest_old = None
    for p in running:
        if is_updated(p, hash_) and oldest_new is None:
            oldest_new = p
        elif not is_updated(p, hash_) and oldest_old is None:
            oldest_old = p
        else:
            plan.delete.append(p)
    if oldest_new is not None and oldest_old is not None and (
            not is_ready(oldest_old) or is_available(oldest_new, min_ready(ds), now)):
        plan.delete.append(oldest_old)


def manage(ds: Mapping[str, Any], nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str,
           now: dt.datetime) -> Plan:
    plan = Plan()
    names = set()
    for node in sorted(nodes, key=lambda n: meta(n)["name"]):
        name = meta(node)["name"]
        names.add(name)
        run, keep = dn.should_run(ds, node)
        pods = by_node.get(name) or []
        if run and not pods:
            plan.create_on.append(name)
        elif keep:
            _on_node(ds, name, pods, hash_, now, plan)
        elif pods:
            plan.delete.extend(p for p in pods if not is_terminating(p))
    for name, pods in sorted(by_node.items()):
        if name not in names:  # the node is gone: nothing will ever run or clean these
            plan.delete.extend(p for p in pods if not is_terminating(p))
    return plan


# -- rolling update -------------------------------------------------------------------------
def budgets(ds: Mapping[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) scaled to the desired count; never both zero."""
    ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    unavailable = scaled_value(ru.get("maxUnavailable", 1), desired, True)
    surge = scaled_value(ru.get("maxSurge", 0), desired, True)
    if desired > 0 and unavailable == 0 and surge == 0:
        unavailable = 1
    return surge, unavailable


def _split(pods: list[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """(new pod, old pod, ok) on a node; not ok when either kind is duplicated."""
    new = old = None
    for p in pods:
        if is_terminating(p):
            continue
        if is_updated(p, hash_):
            if new is not None:
                return None, None, False
            new = p
        else:
            if old is not None:
                return None, None, False
            old = p
    return new, old, True


def _wanted_nodes(ds: Mapping[str, Any], nodes: list[Obj],
                  by_node: dict[str, list[Obj]]) -> dict[str, list[Obj]]:
    out = {k: list(v) for k, v in by_node.items()}
    for n in nodes:
        if dn.should_run(ds, n)[0]:
            out.setdefault(meta(n)["name"], [])
    return dict(sorted(out.items()))


def rolling_update(ds: Mapping[str, Any], nodes: list[Obj], by_node: dict[str, list[Obj]],
                   hash_: str, now: dt.datetime) -> Plan:
    desired = sum(1 for n in nodes if dn.should_run(ds, n)[0])
    surge, unavailable = budgets(ds, desired)
    wanted = _wanted_nodes(ds, nodes, by_node)
    if surge == 0:
        return _update_in_place(ds, wanted, hash_, unavailable, now)
    return _update_with_surge(ds, wanted, hash_, surge, now)


def _update_in_place(ds: Mapping[str, Any], wanted: dict[str, list[Obj]], hash_: str,
                     max_unavailable: int, now: dt.datetime) -> Plan:
    unavailable, replace, candidates = 0, [], []
    for pods in wanted.values():
        new, old, ok = _split(pods, hash_)
        if not ok or (new is None) == (old is None):
            unavailable += 1
        elif new is not None:
            unavailable += not is_available(new, min_ready(ds), now)
        elif old is not None and not is_available(old, min_ready(ds), now):
            replace.append(old)
        elif old is not None and unavailable < max_unavailable:
            candidates.append(old)
    room = max(0, min(max_unavailable - unavailable, len(candidates)))
    return Plan(delete=replace + candidates[:room])


def _update_with_surge(ds: Mapping[str, Any], wanted: dict[str, list[Obj]], hash_: str,
                       max_surge: int, now: dt.datetime) -> Plan:
    surged, allowed, candidates, delete = 0, [], [], []
    for node, pods in wanted.items():
        new, old, ok = _split(pods, hash_)
        if not ok:
            surged += 1
        elif old is None:
            continue
        elif new is None:
            if not is_available(old, min_ready(ds), now):
                allowed.append(node)
            elif surged < max_surge:
                candidates.append(node)
        elif not is_available(new, min_ready(ds), now):
            surged += 1
        else:
            delete.append(old)
    room = max(0, min(max_surge - surged, len(candidates)))
    return Plan(create_on=allowed + candidates[:room], delete=delete)


# -- status ---------------------------------------------------------------------------------
def compute_status(ds: Mapping[str, Any], nodes: list[Obj], by_node: dict[str, list[Obj]],
                   hash_: str, collision_count: int, now: dt.datetime) -> Obj:
    c = dict.fromkeys(("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled",
                       "numberReady", "numberAvailable", "updatedNumberScheduled"), 0)
    for node in nodes:
        run, _ = dn.should_run(ds, node)
        pods = by_node.get(meta(node)["name"]) or []
        if not run:
            c["numberMisscheduled"] += bool(pods)
            continue
        c["desiredNumberScheduled"] += 1
        if not pods:
            continue
        c["currentNumberScheduled"] += 1
        pod = pods[0]
        if is_ready(pod):
            c["numberReady"] += 1
            c["numberAvailable"] += is_available(pod, min_ready(ds), now)
        c["updatedNumberScheduled"] += is_updated(pod, hash_)
    status: Obj = {**c, "observedGeneration": meta(ds).get("generation", 0),
                   "numberUnavailable": c["desiredNumberScheduled"] - c["numberAvailable"]}
    if collision_count:
        status["collisionCount"] = collision_count
    return status
