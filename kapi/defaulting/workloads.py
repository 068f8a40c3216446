"""Workload and service defaults: upstream's apps/v1 (Deployment, ReplicaSet, StatefulSet,
DaemonSet), batch/v1 (Job, CronJob) and core/v1 (Service, Secret, PersistentVolumeClaim,
Endpoints) SetDefaults_* functions, each also defaulting the pod template inside.

Pure functions over the v1 dict form; they fill only what is missing.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi.defaulting.pod import pod_spec

Obj = dict[str, Any]
MAX_INT32 = 2**31 - 1


def _spec(obj: Obj) -> Obj | None:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else None


def template(spec: Obj) -> None:
    tpl = spec.get("template")
    if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict):
        pod_spec(tpl["spec"])


def _set(obj: Obj, key: str, value: Any) -> None:
    if obj.get(key) is None:
        obj[key] = value


def _set_empty(obj: Obj, key: str, value: Any) -> None:
    """Like _set, for fields where upstream also replaces the zero value ("")."""
    if not obj.get(key):
        obj[key] = value


def _dict(obj: Obj, key: str) -> Obj:
    """The object at `key`, made (or replacing a non-object) when missing."""
    if not isinstance(obj.get(key), dict):
        obj[key] = {}
    return obj[key]


def _rolling_update(spec: Obj, key: str, **defaults: Any) -> None:
    """The update strategy at `key`: RollingUpdate unless set, with its parameters."""
    strategy = _dict(spec, key)
    _set_empty(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        for name, value in defaults.items():
            _set(rolling, name, value)


def _workload(spec_defaults: Callable[[Obj], None]) -> Callable[[Obj], None]:
    """The defaulter of a workload kind: `spec_defaults` fill its spec, then its pod
    template is defaulted; an object without a spec object is left alone."""
    def defaulter(obj: Obj) -> None:
        spec = _spec(obj)
        if spec is not None:
            spec_defaults(spec)
            template(spec)
    return defaulter


def _deployment_spec(spec: Obj) -> None:
    _set(spec, "replicas", 1)
    _rolling_update(spec, "strategy", maxUnavailable="25%", maxSurge="25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)


def _replicaset_spec(spec: Obj) -> None:
    _set(spec, "replicas", 1)


def _statefulset_spec(spec: Obj) -> None:
    _set_empty(spec, "podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _dict(strategy, "rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        _set(strategy["rollingUpdate"], "partition", 0)
    policy = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    for key in ("whenDeleted", "whenScaled"):
        _set_empty(policy, key, "Retain")
    _set(spec, "replicas", 1)
    _set(spec, "revisionHistoryLimit", 10)
    for claim in spec.get("volumeClaimTemplates") or ():
        if isinstance(claim, dict):
            pvc(claim)


def _daemonset_spec(spec: Obj) -> None:
    _rolling_update(spec, "updateStrategy", maxUnavailable=1, maxSurge=0)
    _set(spec, "revisionHistoryLimit", 10)


deployment = _workload(_deployment_spec)
replicaset = _workload(_replicaset_spec)
statefulset = _workload(_statefulset_spec)
daemonset = _workload(_daemonset_spec)


def job(obj: Obj) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _set(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    tpl = spec.get("template")
    labels = (tpl.get("metadata") or {}).get("labels") if isinstance(tpl, dict) else None
    meta = obj.setdefault("metadata", {})
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed")
    for rule in ((spec.get("podFailurePolicy") or {}).get("rules") or ()):
        for cond in (rule or {}).get("onPodConditions") or ():
            if isinstance(cond, dict) and not cond.get("status"):
                cond["status"] = "True"
    template(spec)


def cronjob(obj: Obj) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    _set_empty(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    jt = spec.get("jobTemplate")
    if isinstance(jt, dict) and isinstance(jt.get("spec"), dict):
        template(jt["spec"])


def service(obj: Obj) -> None:
    spec = _spec(obj)
    if spec is None:
        return
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        _set(cfg, "timeoutSeconds", 10800)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    stype = spec["type"]
    for p in spec.get("ports") or ():
        if isinstance(p, dict):
            if not p.get("protocol"):
                p["protocol"] = "TCP"
            if p.get("targetPort") in (None, 0, "") and "port" in p:
                p["targetPort"] = p["port"]
    external = stype in ("NodePort", "LoadBalancer") or (
        stype == "ClusterIP" and spec.get("externalIPs"))
    if external and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and stype != "ExternalName":
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer":
        _set(spec, "allocateLoadBalancerNodePorts", True)
    if spec.get("clusterIP") == "None":
        _set(spec, "clusterIPs", ["None"])
        _set(spec, "ipFamilies", ["IPv4"])
        _set(spec, "ipFamilyPolicy", "SingleStack")


def secret(obj: Obj) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"


def pvc(obj: Obj) -> None:
    spec = _spec(obj)
    if spec is not None:
        _set(spec, "volumeMode", "Filesystem")
    status = obj.get("status")
    if isinstance(status, dict) or status is None:
        status = obj.setdefault("status", {}) if status is None else status
        if not status.get("phase"):
            status["phase"] = "Pending"


def endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or ():
        for p in (subset or {}).get("ports") or ():
            if isinstance(p, dict) and not p.get("protocol"):
                p["protocol"] = "TCP"


def hpa_v1(obj: Obj) -> None:
    spec = _spec(obj)
    if spec is not None:
        _set(spec, "minReplicas", 1)


def hpa_v2(obj: Obj) -> None:
    """SetDefaults_HorizontalPodAutoscaler (+ ...Behavior) of autoscaling/v2."""
    spec = _spec(obj)
    if spec is None:
        return
    _set(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), 0, [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}])
        behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), 300, [
            {"type": "Percent", "value": 100, "periodSeconds": 15}])


def _scaling_rules(rules: Any, window: int, policies: list[Obj]) -> Obj:
    rules = dict(rules) if isinstance(rules, dict) else {}
    _set(rules, "stabilizationWindowSeconds", window)
    _set(rules, "selectPolicy", "Max")
    if not rules.get("policies"):
        rules["policies"] = policies
    return rules
