"""Object metadata as the components read it: labels, annotations, owner references
(the controller reference, a new owner reference), uid, creation time, deletion.

Pure functions over dicts; must never mutate their inputs (objects come from shared
informer caches).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

from runtime.util.times import EPOCH, parse_time

Obj = dict[str, Any]


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid", ""))


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def created_at(obj: Mapping[str, Any]) -> dt.datetime:
    return parse_time(meta(obj).get("creationTimestamp")) or EPOCH


def by_creation(objs: Iterable[Obj]) -> list[Obj]:
    """Oldest first, name as the tie-breaker."""
    return sorted(objs, key=lambda o: (meta(o).get("creationTimestamp") or "",
                                       meta(o).get("name", "")))


def controller_ref(obj: Mapping[str, Any]) -> Obj | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    ref = controller_ref(obj)
    return str(ref.get("uid")) if ref else None


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True,
                    block: bool = True) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": controller, "blockOwnerDeletion": block}
