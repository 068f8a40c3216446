"""Per-kind strategies: what the generic store does differently for each kind.

A strategy owns the kind's rules for create/update/delete that are not validation or
defaulting: which fields a write may touch (spec vs status), when generation moves,
graceful deletion, and whether an update may create. Strategies are pure functions over
dicts; they never touch storage or HTTP.
"""

from __future__ import annotations

import copy
from typing import Any

from kapi.meta.resources import Resource

Obj = dict[str, Any]

# Metadata fields a client may not change with an update (copied from the stored object).
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "selfLink")
# What a status update may not change: upstream's ResetObjectMetaForStatus.
_STATUS_KEEP_META = ("labels", "annotations", "finalizers", "ownerReferences")

GENERATION_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                              "CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget"})


STATUS_MAY_CHANGE_META = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})

# Status fields Go writes even when zero (no omitempty), per kind.
INITIAL_STATUS: dict[str, Obj] = {
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                  "desiredNumberScheduled": 0, "numberReady": 0},
    "HorizontalPodAutoscaler": {"currentReplicas": 0, "desiredReplicas": 0},
    "PodDisruptionBudget": {"disruptionsAllowed": 0, "currentHealthy": 0,
                            "desiredHealthy": 0, "expectedPods": 0},
}


class Strategy:
    allow_create_on_update = False
    allow_unconditional_update = True
    return_deleted_object = False

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.has_status = resource.subresource("status") is not None
        self.tracks_generation = resource.kind in GENERATION_KINDS

    # -- create -------------------------------------------------------------------------
    def prepare_for_create(self, obj: Obj) -> None:
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1
        if self.has_status:
            self.reset_status(obj)

    def reset_status(self, obj: Obj) -> None:
        # upstream always writes the status struct, with its non-omitempty fields
        obj["status"] = dict(INITIAL_STATUS.get(self.resource.kind, {}))

    # -- update -------------------------------------------------------------------------
    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """A write to the main resource: status comes from the stored object."""
        meta, old_meta = new["metadata"], old["metadata"]
        for f in _SYSTEM_META:
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation and self.spec_of(new) != self.spec_of(old):
            meta["generation"] = old_meta.get("generation", 1) + 1

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """A write to /status: everything but status (and a few fields) from old."""
        out = copy.copy(old)
        out["metadata"] = dict(old["metadata"])
        new_meta = new.get("metadata", {})
        out["metadata"]["resourceVersion"] = new_meta.get("resourceVersion", "")
        if self.resource.kind in STATUS_MAY_CHANGE_META:
            # upstream's apps status strategies reset only spec and labels
            for f in ("annotations", "finalizers", "ownerReferences"):
                if f in new_meta:
                    out["metadata"][f] = new_meta[f]
                else:
                    out["metadata"].pop(f, None)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        return out

    def spec_of(self, obj: Obj) -> Any:
        """What counts as 'spec' for generation: everything but metadata and status."""
        return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}

    # -- delete -------------------------------------------------------------------------
    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds of graceful deletion; 0 deletes at once."""
        return 0


class PodStrategy(Strategy):
    return_deleted_object = True

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0  # never ran on a node (or is done): nothing to wait for
        if requested is not None:
            return max(requested, 0)
        return int(spec.get("terminationGracePeriodSeconds", 30))


def qos_class(spec: Obj) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_any = limits_all = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for name in ("cpu", "memory"):
            if name not in lim or (name in req and req[name] != lim[name]):
                guaranteed = False
        limits_all = limits_all or bool(lim)
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"


class NamespaceStrategy(Strategy):
    return_deleted_object = True

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        fin = spec.setdefault("finalizers", [])
        if "kubernetes" not in fin:
            fin.append("kubernetes")
        labels = obj["metadata"].setdefault("labels", {})
        if obj["metadata"].get("name"):  # a missing name is validation's to report
            labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = old.get("spec", {})  # spec.finalizers only change through /finalize
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            new["metadata"]["name"]


class ServiceStrategy(Strategy):
    return_deleted_object = True

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}


class NodeStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        pass  # a kubelet registers its node with status


class JobStrategy(Strategy):
    """A Job without manualSelector gets a selector on its uid, and its template the
    labels that selector (and the job name) select, as upstream's job strategy does."""

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("manualSelector"):
            return
        meta = obj["metadata"]
        uid, name = meta.get("uid", ""), meta.get("name") or ""
        tpl = spec.setdefault("template", {})
        if not isinstance(tpl, dict):
            return
        labels = tpl.setdefault("metadata", {}).setdefault("labels", {})
        for key in ("job-name", "batch.kubernetes.io/job-name"):
            labels.setdefault(key, name)
        for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
            labels.setdefault(key, uid)
        selector = spec.get("selector")
        if not isinstance(selector, dict):
            selector = spec["selector"] = {}
        selector.setdefault("matchLabels", {}).setdefault(
            "batch.kubernetes.io/controller-uid", uid)


class DaemonSetStrategy(Strategy):
    """Keeps the deprecated.daemonset.template.generation annotation that upstream's
    DaemonSet strategy maintains (pods are labelled with it)."""

    ANNOTATION = "deprecated.daemonset.template.generation"

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["metadata"].setdefault("annotations", {})[self.ANNOTATION] = "1"

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        old_tpl = (old.get("spec") or {}).get("template")
        if (new.get("spec") or {}).get("template") != old_tpl:
            gen = str(new["metadata"].get("generation", 1))
            new["metadata"].setdefault("annotations", {})[self.ANNOTATION] = gen
        else:
            value = (old["metadata"].get("annotations") or {}).get(self.ANNOTATION)
            if value is not None:
                new["metadata"].setdefault("annotations", {})[self.ANNOTATION] = value


class PermissiveStrategy(Strategy):
    """Kinds whose update may create (upstream: endpoints, events, leases)."""

    allow_create_on_update = True


_BY_KIND: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "Namespace": NamespaceStrategy,
    "Service": ServiceStrategy,
    "Node": NodeStrategy,
    "Job": JobStrategy,
    "DaemonSet": DaemonSetStrategy,
    "Endpoints": PermissiveStrategy,
    "Event": PermissiveStrategy,
    "Lease": PermissiveStrategy,
}


def strategy_for(resource: Resource) -> Strategy:
    return _BY_KIND.get(resource.kind, Strategy)(resource)
