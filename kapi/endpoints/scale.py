"""The scale subresource: autoscaling/v1 Scale views of Deployments, ReplicaSets,
StatefulSets and ReplicationControllers, and of custom resources through the paths their
definition's scale subresource names (specReplicasPath, statusReplicasPath,
labelSelectorPath). Pure functions over dicts."""

from __future__ import annotations

import copy
from typing import Any

from kapi import errors
from kapi.meta.resources import Resource
from kapi.registry.kinds.base import strategy_of

Obj = dict[str, Any]


def _selector_string(spec: Obj) -> str:
    sel = spec.get("selector") or {}
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _label_selector_spec(obj: Obj) -> Obj:
    """obj's spec with its selector as a LabelSelector (a ReplicationController's is a
    plain label map)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "ReplicationController" and isinstance(spec.get("selector"), dict):
        return dict(spec, selector={"matchLabels": spec["selector"]})
    return spec


def _steps(path: Any) -> list[str]:
    return [p for p in str(path or "").split(".") if p]


def _read(obj: Any, path: Any) -> Any:
    for step in _steps(path):
        obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


def _custom_scale(obj: Obj, paths: Obj) -> Obj:
    meta = obj["metadata"]
    status: Obj = {"replicas": _read(obj, paths.get("statusReplicasPath")) or 0}
    selector = _read(obj, paths.get("labelSelectorPath"))
    if isinstance(selector, str) and selector:
        status["selector"] = selector
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": _read(obj, paths.get("specReplicasPath")) or 0},
        "status": status,
    }


def to_scale(obj: Obj, r: Resource | None = None) -> Obj:
    paths = strategy_of(r).scale_paths(r) if r is not None else None
    if paths is not None:
        return _custom_scale(obj, paths)
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {"replicas": status.get("replicas", 0), "selector": _selector_string(
            _label_selector_spec(obj))},
    }


def apply_scale(r: Resource, current: Obj, scale: Obj) -> Obj:
    if not isinstance(scale, dict) or scale.get("kind", "Scale") != "Scale":
        raise errors.BadRequest("the body must be an autoscaling/v1 Scale")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.Invalid.of(r, "Scale", current["metadata"]["name"], [errors.cause(
            "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")])
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    new = copy.deepcopy(current)
    paths = strategy_of(r).scale_paths(r)
    steps = _steps(paths.get("specReplicasPath")) if paths is not None else ["spec", "replicas"]
    target = new
    for step in steps[:-1]:
        target = target.setdefault(step, {})
    target[steps[-1]] = replicas
    if rv:
        new["metadata"]["resourceVersion"] = rv
    return new
