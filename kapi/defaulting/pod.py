"""Pod and pod-template defaults: upstream's SetDefaults_PodSpec, _Container, _Probe,
_Volume (and the volume sources' defaultMode), _ObjectFieldSelector, _HTTPGetAction,
_Pod (requests from limits, enableServiceLinks, host-network ports) and the admission
plugins every pod meets on create (ServiceAccount, Priority, DefaultTolerationSeconds).

Pure functions over the v1 dict form; they fill only what is missing.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
_MODE_SOURCES = ("secret", "configMap", "downwardAPI", "projected")


def _dicts(items: Any) -> list[Obj]:
    return [i for i in items or () if isinstance(i, dict)] if isinstance(items, list) else []


def pull_policy(image: str) -> str:
    """Always for ":latest" or no tag (the tag then defaults to latest), else IfNotPresent."""
    if "@" in image:
        name = image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    else:
        last = image.rsplit("/", 1)[-1]
        tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and everything inside a pod spec (templates included)."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    spec.setdefault("schedulerName", "default-scheduler")
    for c in _dicts(spec.get("initContainers")) + _dicts(spec.get("containers")):
        container(c)
    for c in _dicts(spec.get("ephemeralContainers")):
        container(c)
    for v in _dicts(spec.get("volumes")):
        volume(v)


def container(c: Obj) -> None:
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = pull_policy(str(c.get("image") or ""))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if c.get("resources") is None:
        c["resources"] = {}  # a value struct: always written
    for p in _dicts(c.get("ports")):
        p.setdefault("protocol", "TCP")
    for e in _dicts(c.get("env")):
        field_ref((e.get("valueFrom") or {}).get("fieldRef"))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(name), dict):
            probe(c[name])
    for hook in ("postStart", "preStop"):
        handler = ((c.get("lifecycle") or {}).get(hook)) if isinstance(c.get("lifecycle"), dict) else None
        if isinstance(handler, dict):
            http_get(handler.get("httpGet"))


def probe(p: Obj) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not p.get(key):
            p[key] = value
    http_get(p.get("httpGet"))


def http_get(action: Any) -> None:
    if isinstance(action, dict):
        action.setdefault("path", "/")
        action.setdefault("scheme", "HTTP")


def field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def volume(v: Obj) -> None:
    sources = [k for k, val in v.items() if k != "name" and val is not None]
    if not sources:
        v["emptyDir"] = {}
    for name in _MODE_SOURCES:
        src = v.get(name)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = 420
    host = v.get("hostPath")
    if isinstance(host, dict) and host.get("type") is None:
        host["type"] = ""
    for item in _dicts((v.get("downwardAPI") or {}).get("items")) if isinstance(
            v.get("downwardAPI"), dict) else []:
        field_ref(item.get("fieldRef"))
    projected = v.get("projected")
    if isinstance(projected, dict):
        for src in _dicts(projected.get("sources")):
            token = src.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
            for item in _dicts((src.get("downwardAPI") or {}).get("items")):
                field_ref(item.get("fieldRef"))
    claim = (v.get("ephemeral") or {}).get("volumeClaimTemplate") if isinstance(
        v.get("ephemeral"), dict) else None
    if isinstance(claim, dict) and isinstance(claim.get("spec"), dict):
        claim["spec"].setdefault("volumeMode", "Filesystem")


def pod(obj: Obj) -> None:
    """SetDefaults_Pod (on top of the pod spec defaults)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    pod_spec(spec)
    for c in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        res = c.get("resources")
        limits = res.get("limits") if isinstance(res, dict) else None
        if isinstance(res, dict) and isinstance(limits, dict) and limits:
            requests = res.setdefault("requests", {})
            for key, value in limits.items():
                requests.setdefault(key, copy.deepcopy(value))
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for c in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
            for p in _dicts(c.get("ports")):
                if not p.get("hostPort"):
                    p["hostPort"] = p.get("containerPort")


def pod_admission(obj: Obj, toleration_seconds: int) -> None:
    """What the ServiceAccount, Priority and DefaultTolerationSeconds admission plugins
    add to a new pod."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    spec["serviceAccount"] = spec["serviceAccountName"]
    if spec.get("priority") is None and not spec.get("priorityClassName"):
        spec["priority"] = 0
    if not spec.get("preemptionPolicy"):
        spec["preemptionPolicy"] = "PreemptLowerPriority"
    default_tolerations(spec, toleration_seconds)


def default_tolerations(spec: Obj, seconds: int) -> None:
    tols = spec.get("tolerations")
    tols = tols if isinstance(tols, list) else []
    have = {key: any(isinstance(t, dict) and t.get("key", "") in (key, "")
                     and t.get("effect", "") in ("NoExecute", "") for t in tols)
            for key in (NOT_READY, UNREACHABLE)}
    added = [{"key": key, "operator": "Exists", "effect": "NoExecute",
              "tolerationSeconds": seconds} for key in (NOT_READY, UNREACHABLE) if not have[key]]
    if added:
        spec["tolerations"] = tols + added
