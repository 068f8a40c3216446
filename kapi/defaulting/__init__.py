"""Defaulting: upstream's SetDefaults_* for the fields every client relies on.

Pure functions over the request's object (in its own group/version), run as the first
admission step on create and update. They fill only what is missing and never
overwrite what the client set. The schema-aware issue extends this to every field.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi.meta.resources import Resource

Obj = dict[str, Any]


def _pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        image = str(c.get("image") or "")
        tagless = ":" not in image.rsplit("/", 1)[-1] and "@" not in image
        if "imagePullPolicy" not in c:
            c["imagePullPolicy"] = "Always" if tagless or image.endswith(":latest") else "IfNotPresent"
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def _template(obj: Obj) -> None:
    tpl = (obj.get("spec") or {}).get("template")
    if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict):
        _pod_spec(tpl["spec"])


def _pod(obj: Obj) -> None:
    if isinstance(obj.get("spec"), dict):
        _pod_spec(obj["spec"])


def _deployment(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def _replicated(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _template(obj)


def _job(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    _template(obj)


def _secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")


def _service(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "targetPort" not in p and "port" in p:
                p["targetPort"] = p["port"]


DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replicated,
    "StatefulSet": _replicated,
    "DaemonSet": _template,
    "Job": _job,
    "Secret": _secret,
    "Service": _service,
}


async def admit(r: Resource, op: str, new: Obj, old: Obj | None) -> None:
    """Admission step: default the incoming object."""
    f = DEFAULTERS.get(r.kind)
    if f is not None:
        f(new)
