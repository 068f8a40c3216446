"""Deployment bookkeeping on ReplicaSets (upstream pkg/controller/deployment/util):
the pod-template-hash, revisions and revision history, the annotations a Deployment
copies to its ReplicaSets (desired-replicas, max-replicas, and its own annotations but
upstream's skip list), and finding the new and old ReplicaSets of a Deployment.

Pure functions over dicts. Functions named `set_*` change the (copied) object they are
given and say whether they changed anything; the rest never mutate their inputs.
They must never do I/O or read a clock.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Iterable, Sequence

import orjson

from runtime.util.meta import created_at, uid_of

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"  # apps/v1 DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS,
                                 MAX_REPLICAS, ROLLBACK_TO})
MAX_REV_HISTORY_CHARS = 2000  # kube-controller-manager's default revision-history length

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery rand.SafeEncodeString


# -- the pod-template-hash ---------------------------------------------------------------
def normalize(value: Any) -> Any:
    """Drop nulls and empty maps/lists recursively: Go's semantic equality treats an
    absent field, a nil and an empty one alike (e.g. `creationTimestamp: null`)."""
    if isinstance(value, dict):
        out = {k: normalize(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pod_template_hash(template: Obj, collision_count: int | None = None) -> str:
    """A stable short hash of a pod template (same template, same hash), encoded as
    upstream's ComputeHash encodes its FNV-32a sum; collisionCount perturbs it."""
    data = orjson.dumps(normalize(template), option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    digits = str(_fnv32a(data))
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in digits)


def without_hash(template: Obj | None) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """Whether two pod templates are equal but for the pod-template-hash label."""
    return bool(normalize(without_hash(t1)) == normalize(without_hash(t2)))


# -- annotations --------------------------------------------------------------------------
def annotations_of(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def _set_annotation(obj: Obj, key: str, value: str) -> bool:
    ann = obj["metadata"].setdefault("annotations", {})
    if ann.get(key) == value:
        return False
    ann[key] = value
    return True


def revision(obj: Obj) -> int:
    """The revision annotation as a number; 0 when absent or malformed."""
    try:
        return int(annotations_of(obj).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def max_revision(rss: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_deployment_revision(d: Obj, rev: str) -> bool:
    return _set_annotation(d, REVISION, rev)


def copy_deployment_annotations(d: Obj, rs: Obj) -> bool:
    """Copy the Deployment's annotations (but the skip list) onto its ReplicaSet."""
    changed = False
    for k, v in annotations_of(d).items():
        if k not in ANNOTATIONS_TO_SKIP:
            changed = _set_annotation(rs, k, v) or changed
    return changed


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    a = _set_annotation(rs, DESIRED_REPLICAS, str(desired))
    b = _set_annotation(rs, MAX_REPLICAS, str(max_replicas))
    return a or b


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = annotations_of(rs)
    return bool(ann.get(DESIRED_REPLICAS) != str(desired)
                or ann.get(MAX_REPLICAS) != str(max_replicas))


def int_annotation(rs: Obj, key: str) -> int | None:
    try:
        return int(annotations_of(rs)[key])
    except (KeyError, ValueError):
        return None


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool,
                           desired: int, max_replicas: int,
                           limit: int = MAX_REV_HISTORY_CHARS) -> bool:
    """Upstream's SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise
    the revision (keeping the old one in revision-history when rolling back to this
    ReplicaSet), and on a ReplicaSet about to be created its replica annotations."""
    changed = copy_deployment_annotations(d, rs)
    old = annotations_of(rs).get(REVISION, "")
    try:
        old_n = int(old) if old else 0
    except ValueError:
        return False  # as upstream: leave a malformed revision alone
    if old_n < int(new_revision):
        changed = _set_annotation(rs, REVISION, new_revision) or changed
        if old:
            _append_history(rs, old, limit)
    if not exists and set_replicas_annotations(rs, desired, max_replicas):
        changed = True
    return changed


def _append_history(rs: Obj, old_revision: str, limit: int) -> None:
    history = annotations_of(rs).get(REVISION_HISTORY, "")
    if not history:
        _set_annotation(rs, REVISION_HISTORY, old_revision)
        return
    olds = history.split(",")
    total, start = len(history) + len(old_revision) + 1, 0
    while total > limit and start < len(olds):
        total -= len(olds[start]) + 1
        start += 1
    if total <= limit:
        _set_annotation(rs, REVISION_HISTORY, ",".join(olds[start:] + [old_revision]))


# -- new and old ReplicaSets ---------------------------------------------------------------
def by_creation(rs: Obj) -> tuple[dt.datetime, str]:
    return created_at(rs), rs["metadata"]["name"]


def by_revision(rs: Obj) -> tuple[int, dt.datetime, str]:
    return (revision(rs), *by_creation(rs))


def spec_replicas(rs: Obj | None) -> int:
    if rs is None:
        return 0
    r = (rs.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def sorted_by_size(rss: Sequence[Obj], *, newer_first: bool) -> list[Obj]:
    """Larger first; equal sizes newer first (scaling up) or older first (down)."""
    by_age = sorted(rss, key=by_creation, reverse=newer_first)
    return sorted(by_age, key=lambda rs: -spec_replicas(rs))


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def find_new_replica_set(d: Obj, rss: Sequence[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (but the hash)."""
    template = (d.get("spec") or {}).get("template")
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_replica_sets(d: Obj, rss: Sequence[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with pods, all old ReplicaSets)."""
    new = find_new_replica_set(d, rss)
    all_old = [rs for rs in rss if new is None or uid_of(rs) != uid_of(new)]
    return [rs for rs in all_old if spec_replicas(rs) != 0], all_old

