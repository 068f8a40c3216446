"""ControllerRevisions, the history of a StatefulSet's or DaemonSet's pod template
(upstream pkg/controller/history): building a revision, its hash and name, finding an
equal one, and choosing which old ones to truncate.

A revision's `data` is upstream's patch `{"spec": {"template": {..., "$patch": "replace"}}}`;
its name is `<parent>-<hash>`, and it carries the `controller-revision-hash` label.
Pure functions over dicts; must never do I/O or mutate inputs.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

import orjson

from runtime.util.meta import labels_of, meta

Obj = dict[str, Any]

REVISION_HASH_LABEL = "controller-revision-hash"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery rand.SafeEncodeString


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """Map each byte to a consonant/digit so hashes never spell words (upstream's rule)."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in s)


def template_patch(parent: Mapping[str, Any]) -> Obj:
    template = copy.deepcopy((parent.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def canonical(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def revision_hash(data: Any, collision_count: int = 0) -> str:
    raw = canonical(data)
    if collision_count:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv32a(raw)))


def revision_name(parent_name: str, hash_: str) -> str:
    prefix = parent_name[:223] if len(parent_name) > 223 else parent_name
    return f"{prefix}-{hash_}"


def new_revision(parent: Mapping[str, Any], owner_ref: Obj, number: int,
                 collision_count: int = 0) -> Obj:
    """The ControllerRevision for parent's current template (not yet created)."""
    data = template_patch(parent)
    h = revision_hash(data, collision_count)
    tmeta = ((parent.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels[REVISION_HASH_LABEL] = h
    md: Obj = {"name": revision_name(meta(parent)["name"], h),
               "namespace": meta(parent).get("namespace"), "labels": labels,
               "ownerReferences": [copy.deepcopy(owner_ref)]}
    if meta(parent).get("annotations"):
        md["annotations"] = dict(meta(parent)["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": md,
            "data": data, "revision": number}


def revision_number(rev: Mapping[str, Any]) -> int:
    return int(rev.get("revision") or 0)


def sort_revisions(revs: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(revs, key=lambda r: (revision_number(r), meta(r).get("creationTimestamp") or "",
                                       meta(r).get("name", "")))


def next_number(revs: Iterable[Obj]) -> int:
    return max((revision_number(r) for r in revs), default=0) + 1


def equal_revisions(revs: Iterable[Obj], wanted: Mapping[str, Any]) -> list[Obj]:
    """Revisions whose data equals wanted's (upstream FindEqualRevisions)."""
    raw = canonical(wanted.get("data"))
    return [r for r in revs if canonical(r.get("data")) == raw]


def hash_of(rev: Mapping[str, Any]) -> str:
    return str(labels_of(rev).get(REVISION_HASH_LABEL) or "")


def revisions_to_truncate(revs: Iterable[Obj], live_names: set[str], limit: int) -> list[Obj]:
    """Non-live revisions beyond the history limit, oldest first."""
    history = [r for r in sort_revisions(revs) if meta(r)["name"] not in live_names]
    excess = len(history) - max(limit, 0)
    return history[:excess] if excess > 0 else []
