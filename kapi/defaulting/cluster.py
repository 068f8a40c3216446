"""SetDefaults for the storage, scheduling, networking and flow-control kinds
(upstream's pkg/apis/<group>/v1/defaults.go): a StorageClass's reclaim policy and binding
mode, a CSIDriver's flags, a PersistentVolume's reclaim policy and mode, a PriorityClass's
preemption policy, a NetworkPolicy's policy types and a priority level's queuing.

Pure functions that fill fields a client left unset, in place; they never validate.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _set(obj: Obj, key: str, value: Any) -> None:
    if obj.get(key) is None:
        obj[key] = value


def _dict(obj: Obj, key: str) -> Obj | None:
    v = obj.get(key)
    return v if isinstance(v, dict) else None


def storage_class(sc: Obj) -> None:
    _set(sc, "reclaimPolicy", "Delete")
    _set(sc, "volumeBindingMode", "Immediate")


def csi_driver(d: Obj) -> None:
    spec = _dict(d, "spec")
    if spec is None:
        return
    for key, value in (("attachRequired", True), ("podInfoOnMount", False),
                       ("storageCapacity", False), ("fsGroupPolicy", "ReadWriteOnceWithFSType"),
                       ("requiresRepublish", False), ("volumeLifecycleModes", ["Persistent"])):
        _set(spec, key, value)


def persistent_volume(pv: Obj) -> None:
    spec = _dict(pv, "spec")
    if spec is not None:
        _set(spec, "persistentVolumeReclaimPolicy", "Retain")
        _set(spec, "volumeMode", "Filesystem")
    status = pv.setdefault("status", {}) if pv.get("status") is None else pv["status"]
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"


def priority_class(pc: Obj) -> None:
    _set(pc, "preemptionPolicy", "PreemptLowerPriority")


def network_policy(np: Obj) -> None:
    spec = _dict(np, "spec")
    if spec is None:
        return
    for rules in (spec.get("ingress"), spec.get("egress")):
        for rule in rules or ():
            for port in (rule or {}).get("ports") or ():
                if isinstance(port, dict):
                    _set(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def ingress_class(ic: Obj) -> None:
    params = _dict(_dict(ic, "spec") or {}, "parameters")
    if params is not None:
        _set(params, "scope", "Cluster")


def flow_schema(fs: Obj) -> None:
    spec = _dict(fs, "spec")
    if spec is not None:
        _set(spec, "matchingPrecedence", 1000)


def priority_level(plc: Obj) -> None:
    spec = _dict(plc, "spec")
    if spec is None:
        return
    exempt = _dict(spec, "exempt")
    if exempt is not None:
        _set(exempt, "nominalConcurrencyShares", 0)
        _set(exempt, "lendablePercent", 0)
    limited = _dict(spec, "limited")
    if limited is None:
        return
    _set(limited, "nominalConcurrencyShares", 30)
    _set(limited, "lendablePercent", 0)
    queuing = _dict(_dict(limited, "limitResponse") or {}, "queuing")
    if queuing is not None:
        _set(queuing, "queues", 64)
        _set(queuing, "handSize", 8)
        _set(queuing, "queueLengthLimit", 50)
