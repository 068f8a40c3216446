"""Server-side apply: merge an applied configuration into the live object and move field
ownership, as structured-merge-diff's Updater.Apply and upstream's field manager do.

Owns: the merge (maps by key, sets and associative lists by item, the applied order
first for shared items; atomic lists and maps replaced), pruning what this manager
applied last time and no longer applies (unless someone else owns it), conflicts with
other managers (`Apply failed with 1 conflict: conflict with "kubectl-client-side-apply"
using apps/v1: .spec.replicas`) and forcing them, the client-side-apply upgrade path of
manager "kubectl" (conflicts on fields the last-applied annotation still matches are
taken over, and the annotation follows the applied configuration). Pure over dicts; the
HTTP layer turns ApplyConflicts into a 409.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import orjson

from kapi.patch.managedfields import (
    APPLY,
    Entry,
    Ident,
    Managers,
    decode_or_empty,
    describe,
    ident,
    owned_paths,
    reset_filter,
    set_managed_fields,
    without_managed_fields,
)
from kapi.patch.managedfields_set import EMPTY, FieldSet, Path, path_string, sorted_paths
from kapi.patch.managedfields_walk import (
    MISSING,
    child,
    compare,
    ensure_named_fields,
    item_pe,
    remove_items,
    to_field_set,
)
from kapi.validation.typeinfo import ATOMIC, LIST, MAP, TypeNode

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
UPGRADING_MANAGER = "kubectl"


class ApplyConflicts(Exception):
    """Fields of the configuration that other managers own with other values."""

    def __init__(self, conflicts: list[tuple[Ident, Path]]) -> None:
        super().__init__("apply conflicts")
        self.conflicts = conflicts

    def message(self) -> str:
        if len(self.conflicts) == 1:
            who, path = self.conflicts[0]
            return (f"Apply failed with 1 conflict: conflict with {describe(who)}: "
                    f"{path_string(path)}")
        by_manager: dict[Ident, list[Path]] = {}
        for who, path in self.conflicts:
            by_manager.setdefault(who, []).append(path)
        lines = []
        for who in sorted(by_manager, key=_ident_json):
            lines.append(f"conflicts with {describe(who)}:")
            lines += [f"- {path_string(p)}" for p in by_manager[who]]
        return f"Apply failed with {len(self.conflicts)} conflicts: " + "\n".join(lines)

    def causes(self) -> list[dict[str, str]]:
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {describe(who)}",
                 "field": path_string(path)} for who, path in self.conflicts]


def _ident_json(i: Ident) -> str:
    manager, operation, version, sub = i
    body: dict[str, str] = {"manager": manager, "operation": operation}
    if version:
        body["apiVersion"] = version
    if sub:
        body["subresource"] = sub
    return orjson.dumps(body).decode()


@dataclass(frozen=True)
class Request:
    """One apply: who, through which version and subresource, forcing or not."""

    manager: str
    api_version: str
    subresource: str = ""
    force: bool = False
    has_status: bool = False
    now: str = ""


def apply(node: TypeNode, live: Obj | None, config: Obj, req: Request) -> Obj:
    """The new object (managedFields included) after applying config to live (None when
    creating). Raises ApplyConflicts."""
    managers = decode_or_empty((live or {}).get("metadata", {}).get("managedFields"))
    current = without_managed_fields(live)
    try:
        return _apply_once(node, current, config, managers, req, req.force)
    except ApplyConflicts as e:
        if req.manager != UPGRADING_MANAGER or req.force:
            raise
        allowed = _allowed_by_last_applied(node, current, req.api_version)
        left = [(who, p) for who, p in e.conflicts if p not in allowed]
        if left:
            raise ApplyConflicts(left) from None
        return _apply_once(node, current, config, managers, req, True)


def _apply_once(node: TypeNode, live: Obj, config: Obj, managers: Managers, req: Request,
                force: bool) -> Obj:
    managers = dict(managers)
    applier = ident(req.manager, APPLY, req.api_version, req.subresource)
    last = managers.get(applier)
    fields = to_field_set(node, config)
    applied = owned_paths(fields, req.subresource, req.has_status)
    merged = merge(node, live, config)
    # while merging the applier owns all it applied (name and namespace too, which keeps
    # metadata from being pruned); the stored entry drops what no manager ever owns
    managers[applier] = Entry(req.manager, APPLY, req.api_version, req.subresource, req.now,
                              reset_filter(fields, req.subresource, req.has_status))
    if last is not None and last.fields and not last.fields <= applied:
        # something applied last time is not applied now (else pruning removes nothing)
        merged = prune(node, merged, managers, applier, last.fields)
    _settle(node, live, merged, managers, applier, req, force)
    unchanged = merged == live
    if unchanged:
        merged = copy.deepcopy(live)
    managers[applier] = _applier_entry(req, applied, last, unchanged)
    if not applied:
        del managers[applier]
    if req.manager == UPGRADING_MANAGER and _last_applied(live):
        _set_last_applied(merged, config)
    set_managed_fields(merged, managers)
    return merged


def _applier_entry(req: Request, applied: FieldSet, last: Entry | None,
                   unchanged: bool) -> Entry:
    """The applier's stored entry; its time moves only when the object changed."""
    known = last.fields_v1 if last is not None and last.fields == applied else None
    if unchanged and last is not None and last.time:
        return Entry(req.manager, APPLY, req.api_version, req.subresource, last.time, applied,
                     fields_v1=known, raw=last.raw if known is not None else None)
    return Entry(req.manager, APPLY, req.api_version, req.subresource, req.now, applied,
                 fields_v1=known)


def _settle(node: TypeNode, live: Obj, merged: Obj, managers: Managers, applier: Ident,
            req: Request, force: bool) -> None:
    """Updater.update: others lose what the apply changed (a conflict unless forced)
    and what it removed."""
    c = compare(node, live, merged)
    changed = owned_paths(frozenset(c.added | c.modified), req.subresource, req.has_status)
    removed = owned_paths(frozenset(c.removed), req.subresource, req.has_status)
    conflicts: list[tuple[Ident, Path]] = []
    for who, e in managers.items():
        if who != applier:
            conflicts += [(who, p) for p in sorted_paths(e.fields & changed)]
    if conflicts and not force:
        raise ApplyConflicts(conflicts)
    for who, e in list(managers.items()):
        if who == applier:
            continue
        left = e.fields - changed - removed
        if not left:
            del managers[who]
        elif left != e.fields:
            managers[who] = Entry(e.manager, e.operation, e.api_version, e.subresource,
                                  e.time, left)


# -- merge ---------------------------------------------------------------------------------
def merge(node: TypeNode, lhs: Any, rhs: Any) -> Any:
    """typed.Merge with the applied side winning every leaf."""
    if rhs is MISSING:
        return lhs
    if lhs is MISSING or lhs is None:
        return _drop_nulls(copy.deepcopy(rhs))
    if isinstance(lhs, list) and isinstance(rhs, list) and node.kind == LIST and (
            node.list_type != ATOMIC) and (lhs or rhs):
        return _merge_list(node, lhs, rhs)
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not node.atomic and (lhs or rhs):
        out: Obj = {}
        for key in list(lhs) + [k for k in rhs if k not in lhs]:
            sub = child(node, key)
            value = merge(sub, lhs.get(key, MISSING), rhs.get(key, MISSING))
            if value is not None and not (value == {} and sub.kind == MAP):
                out[key] = value  # an empty map is omitted, as Go's omitempty does
        return out
    return _drop_nulls(copy.deepcopy(rhs))


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _merge_list(node: TypeNode, lhs: list[Any], rhs: list[Any]) -> list[Any]:
    """mergingWalker.visitListItems: applied order for shared items, live-only items kept
    where they were."""
    assert node.elem is not None
    elem = node.elem
    r_pes = [item_pe(node, i) for i in rhs]
    if len(set(r_pes)) != len(r_pes):
        dup = next(p for p in r_pes if r_pes.count(p) > 1)
        raise ValueError(f"duplicate entries for key {path_string((dup,))}")
    l_pes = [item_pe(node, i) for i in lhs]
    observed_r = dict(zip(r_pes, rhs, strict=True))
    observed_l: dict[str, Any] = {}
    for pe, item in zip(l_pes, lhs, strict=True):
        observed_l[pe] = None if pe in observed_l else item
    shared = [pe for pe in r_pes if pe in observed_l]
    nxt = shared.pop(0) if shared else None
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(l_pes) or ri < len(r_pes):
        if li < len(l_pes) and ri < len(r_pes):
            pe = l_pes[li]
            if pe == r_pes[ri]:
                done.add(pe)
                out.append(merge(elem, _or_missing(observed_l[pe]), observed_r[pe]))
                li, ri = li + 1, ri + 1
                nxt = shared.pop(0) if shared else None
                continue
            if pe in observed_r and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < len(l_pes):
            pe = l_pes[li]
            if pe not in observed_r:
                out.append(lhs[li])
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(r_pes):
            pe = r_pes[ri]
            done.add(pe)
            out.append(merge(elem, _or_missing(observed_l.get(pe, MISSING)), observed_r[pe]))
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = shared.pop(0) if shared else None
    return out


def _or_missing(v: Any) -> Any:
    return MISSING if v is None else v


# -- prune ---------------------------------------------------------------------------------
def prune(node: TypeNode, merged: Obj, managers: Managers, applier: Ident,
          last: FieldSet) -> Obj:
    """Remove what the applier applied last time and no longer applies, unless another
    manager (or the new configuration) owns it."""
    def enf(s: FieldSet) -> FieldSet:
        return ensure_named_fields(node, s)

    last_e = enf(last)
    pruned = remove_items(node, merged, last_e) or {}
    owned: FieldSet = EMPTY
    for e in managers.values():
        owned = owned | e.fields
    merged_set = enf(to_field_set(node, merged))
    keep = enf(to_field_set(node, pruned)) | enf(owned)
    pruned = remove_items(node, merged, merged_set - keep) or {}
    dangling = (merged_set - enf(to_field_set(node, pruned))) & last_e
    return remove_items(node, merged, dangling) or {}


# -- the client-side apply upgrade path -----------------------------------------------------
def _last_applied(obj: Obj) -> str:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    value = ann.get(LAST_APPLIED)
    return value if isinstance(value, str) else ""


def _allowed_by_last_applied(node: TypeNode, live: Obj, api_version: str) -> FieldSet:
    """Fields the last-applied annotation names with the live value: kubectl's earlier
    client-side applies own them, so "kubectl" may take them over."""
    text = _last_applied(live)
    if not text:
        return EMPTY
    try:
        last = orjson.loads(text)
        if not isinstance(last, dict) or last.get("apiVersion") != api_version:
            return EMPTY
        fields = to_field_set(node, last)
        c = compare(node, last, live)
    except (orjson.JSONDecodeError, ValueError):
        return EMPTY
    return fields - c.modified - c.added - c.removed


def _set_last_applied(obj: Obj, config: Obj) -> None:
    body = copy.deepcopy(config)
    ann = (body.get("metadata") or {}).get("annotations")
    if isinstance(ann, dict):
        ann.pop(LAST_APPLIED, None)
        if not ann:
            body["metadata"].pop("annotations")
    text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode() + "\n"
    obj.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = text
