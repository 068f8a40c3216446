"""Field order of objects as Go's encoder writes them: clients that compare bodies byte
for byte, and people reading `-o json`, see upstream's order.

Go writes struct fields in declaration order: TypeMeta (kind, apiVersion), then
metadata, then the kind's own fields, with `status` last wherever a kind has one; and
ObjectMeta's fields in ObjectMeta's order. kapi stores objects as clients sent them, so
this puts each object read from storage in that order once, when it is decoded. Pure;
never changes a value, only the order of keys.
"""

from __future__ import annotations

from typing import Any

# metav1.ObjectMeta's fields in declaration order.
OBJECT_META = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
               "finalizers", "managedFields")
_META_RANK = {k: i for i, k in enumerate(OBJECT_META)}
_HEAD = ("kind", "apiVersion", "metadata")


def ordered_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """ObjectMeta in Go's order (unknown keys, which validation refuses anyway, last);
    labels and annotations, Go maps, with their keys sorted as Go encodes maps."""
    out = dict(sorted(meta.items(), key=lambda kv: _META_RANK.get(kv[0], len(_META_RANK))))
    for key in ("labels", "annotations"):
        value = out.get(key)
        if isinstance(value, dict) and len(value) > 1:
            out[key] = dict(sorted(value.items()))
    return out


def go_order(obj: dict[str, Any]) -> dict[str, Any]:
    """obj's keys in Go's order: kind, apiVersion, metadata (itself ordered), the
    kind's own fields as they are, status last. Returns a new top-level dict."""
    out: dict[str, Any] = {k: obj[k] for k in _HEAD if k in obj}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = ordered_meta(meta)
    for k, v in obj.items():
        if k not in out and k != "status":
            out[k] = v
    if "status" in obj:
        out["status"] = obj["status"]
    return out
