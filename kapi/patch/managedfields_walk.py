"""Typed walks of objects for field ownership, after structured-merge-diff's typed package:
the field set of an object (ToFieldSet), the comparison of two objects (Compare: added,
modified and removed paths), removing a set of paths (RemoveItems) and making named
struct fields members (EnsureNamedFieldsAreMembers).

Types come from kapi.validation.typeinfo: structs and maps are granular unless
x-kubernetes-map-type is atomic; lists are atomic, sets (`v:` items) or maps keyed by
x-kubernetes-list-map-keys (`k:` items). Values of no known type are treated as
structured-merge-diff's deduced type (maps granular, lists atomic). Comparisons see
objects as upstream's typed objects do: fields Go always writes (value structs such as
spec and status, fields without omitempty) exist even when a JSON object omits them.
Pure functions; inputs are never mutated.
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi.patch.managedfields_set import (
    EMPTY,
    FieldsError,
    FieldSet,
    Path,
    field_pe,
    key_pe,
    pe_sort_key,
    value_pe,
    with_prefix,
)
from kapi.validation.typeinfo import ANY, ATOMIC, KEY_DEFAULTS, LIST, MAP, STRUCT, TypeNode

MISSING: Any = object()
# Struct-typed fields Go holds by value, so a typed object always has them.
VALUE_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy",
                           "updateStrategy", "jobTemplate", "loadBalancer"})
_ANY_NODE = TypeNode(ANY)


def item_pe(node: TypeNode, item: Any) -> str:
    """The path element of one item of a set or associative list."""
    if node.keys:
        if not isinstance(item, dict):
            raise FieldsError("associative list item is not an object")
        fields = []
        for k in node.keys:
            if k in item and item[k] is not None:
                fields.append((k, item[k]))
            elif k in KEY_DEFAULTS:
                fields.append((k, KEY_DEFAULTS[k]))
            else:
                raise FieldsError(f"associative list with keys has an element that omits key "
                                  f"field {k!r} (and doesn't have default value)")
        return key_pe(fields)
    if isinstance(item, (dict, list)):
        raise FieldsError("set items must be scalars")
    return value_pe(item)


def child(node: TypeNode, key: str) -> TypeNode:
    if node.kind == STRUCT:
        return node.fields.get(key, _ANY_NODE)
    if node.kind == MAP and node.elem is not None:
        return node.elem
    return _ANY_NODE


def _granular_list(node: TypeNode) -> bool:
    return node.kind == LIST and node.list_type != ATOMIC


def _is_map(node: TypeNode, value: Any) -> bool:
    return isinstance(value, dict) and (node.kind in (STRUCT, MAP) or node.kind == ANY)


# -- ToFieldSet ---------------------------------------------------------------------------
def to_field_set(node: TypeNode, value: Any) -> FieldSet:
    out: set[Path] = set()
    _fs(node, value, (), out)
    return frozenset(out)


def _fs(node: TypeNode, value: Any, path: Path, out: set[Path]) -> None:
    if isinstance(value, list) and _granular_list(node):
        assert node.elem is not None
        seen: set[str] = set()
        dups: set[str] = set()
        pes = [item_pe(node, item) for item in value]
        for pe in pes:
            (dups if pe in seen else seen).add(pe)
        for pe in dups:
            out.add(path + (pe,))
        for pe, item in zip(pes, value, strict=True):
            if pe not in dups:
                _fs(node.elem, item, path + (pe,), out)
                out.add(path + (pe,))
    elif _is_map(node, value) and not node.atomic:
        declared = node.kind == STRUCT
        for key, sub in value.items():
            p = path + (field_pe(key),)
            sub_node = child(node, key)
            _fs(sub_node, sub, p, out)
            if sub is None or (isinstance(sub, dict) and not sub) or not (
                    declared and key in node.fields):
                out.add(p)
    elif path:
        out.add(path)


# -- Compare ------------------------------------------------------------------------------
class Comparison:
    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()

    def changed(self) -> FieldSet:
        return frozenset(self.added | self.modified)


def compare(node: TypeNode, lhs: Any, rhs: Any) -> Comparison:
    """What rhs added, modified and removed relative to lhs (typed objects)."""
    c = Comparison()
    _cmp(node, lhs, rhs, (), c)
    return c


def _cmp(node: TypeNode, lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if lhs is MISSING:
        if rhs is not MISSING:
            _cmp_new(node, MISSING, rhs, path, c)
        return
    if rhs is not MISSING and lhs == rhs:
        return  # equal values: nothing added, modified or removed below (C-fast)
    leaf = True
    if _granular_list(node) and (isinstance(lhs, list) or isinstance(rhs, list)) and (
            _nonempty(lhs) or _nonempty(rhs)):
        leaf = False
        _cmp_list(node, _as_list(lhs), _as_list(rhs), path, c)
    elif not node.atomic and (_is_map(node, lhs) or _is_map(node, rhs)) and (
            _nonempty(lhs) or _nonempty(rhs)):
        leaf = False
        _cmp_map(node, _as_map(lhs), _as_map(rhs), lhs is MISSING, rhs is MISSING, path, c)
    if leaf:
        if lhs is MISSING:
            c.added.add(path)
        elif rhs is MISSING:
            c.removed.add(path)
        elif lhs != rhs:
            c.modified.add(path)
    elif lhs is MISSING:
        c.added.add(path)
    elif rhs is MISSING:
        c.removed.add(path)


def _nonempty(v: Any) -> bool:
    return isinstance(v, (dict, list)) and bool(v)


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _as_map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _cmp_map(node: TypeNode, lhs: dict[str, Any], rhs: dict[str, Any], l_missing: bool,
             r_missing: bool, path: Path, c: Comparison) -> None:
    if not lhs:  # all of rhs is new (the whole object, on a create)
        for key, rv in rhs.items():
            sub = child(node, key)
            lv = MISSING if l_missing else _materialized(node, key, sub)
            _cmp_new(sub, lv, rv, path + (field_pe(key),), c)
        return
    for key in list(lhs) + [k for k in rhs if k not in lhs]:
        sub = child(node, key)
        lv = lhs.get(key, MISSING)
        rv = rhs.get(key, MISSING)
        if lv is MISSING and not l_missing:
            lv = _materialized(node, key, sub)
        if rv is MISSING and not r_missing:
            rv = _materialized(node, key, sub)
        if lv is MISSING and rv is MISSING:
            continue
        _cmp(sub, lv, rv, path + (field_pe(key),), c)


def _item_groups(node: TypeNode, rhs: list[Any]) -> tuple[TypeNode, dict[str, list[Any]]]:
    """A granular list's element type and its items grouped by path element (a key
    given twice is one group of several items)."""
    elem = node.elem
    assert elem is not None
    groups: dict[str, list[Any]] = {}
    for item in rhs:
        groups.setdefault(item_pe(node, item), []).append(item)
    return elem, groups


def _cmp_new(node: TypeNode, lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    """_cmp where lhs is nothing (MISSING) or a Go zero value ({} or None): all of rhs is
    added. The same result as _cmp, with far fewer steps (every create comes here)."""
    if lhs is not MISSING and lhs == rhs:
        return
    if type(rhs) is list and rhs and _granular_list(node):
        elem, groups = _item_groups(node, rhs)
        for pe, items in groups.items():
            if len(items) == 1:
                _cmp_new(elem, MISSING, items[0], path + (pe,), c)
            else:
                c.added.add(path + (pe,))
    elif type(rhs) is dict and rhs and not node.atomic and node.kind in (STRUCT, MAP, ANY):
        struct = node.kind == STRUCT and lhs is not MISSING
        for key, value in rhs.items():
            sub = child(node, key)
            lv = _materialized(node, key, sub) if struct else MISSING
            _cmp_new(sub, lv, value, path + (field_pe(key),), c)
    elif lhs is not MISSING:
        c.modified.add(path)
        return
    if lhs is MISSING:
        c.added.add(path)


def _materialized(node: TypeNode, key: str, sub: TypeNode) -> Any:
    """What a typed (Go) object holds for a field the JSON object left out."""
    if node.kind != STRUCT:
        return MISSING
    if key in VALUE_STRUCTS and sub.kind == STRUCT:
        return {}
    if key == "creationTimestamp":
        return None  # a zero metav1.Time is written as null
    if key in node.required and sub.kind in (STRUCT, MAP, LIST):
        return None
    return MISSING


def _cmp_list(node: TypeNode, lhs: list[Any], rhs: list[Any], path: Path,
              c: Comparison) -> None:
    assert node.elem is not None
    lmap = _index(node, lhs)
    rmap = _index(node, rhs)
    for pe in list(lmap) + [p for p in rmap if p not in lmap]:
        litems, ritems = lmap.get(pe, []), rmap.get(pe, [])
        p = path + (pe,)
        if len(litems) <= 1 and len(ritems) <= 1:
            _cmp(node.elem, litems[0] if litems else MISSING,
                 ritems[0] if ritems else MISSING, p, c)
        elif len(litems) >= 2 and len(ritems) >= 2:
            if litems != ritems:
                c.modified.add(p)
        elif len(litems) >= 2:
            if ritems:
                _cmp(node.elem, MISSING, ritems[0], p, c)
            c.removed.add(p)
        else:
            if litems:
                _cmp(node.elem, litems[0], MISSING, p, c)
            c.added.add(p)


def _index(node: TypeNode, items: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(item_pe(node, item), []).append(item)
    return out


# -- RemoveItems --------------------------------------------------------------------------
def remove_items(node: TypeNode, value: Any, fields: FieldSet) -> Any:
    """value without the paths of fields (a member path drops the whole subtree)."""
    if not fields:
        return value
    if isinstance(value, list) and _granular_list(node):
        assert node.elem is not None
        kept = []
        for item in value:
            pe = item_pe(node, item)
            if (pe,) in fields:
                continue
            sub = with_prefix(fields, pe)
            kept.append(remove_items(node.elem, item, sub) if sub else item)
        return kept or None
    if isinstance(value, dict) and not node.atomic:
        out: dict[str, Any] = {}
        for key, sub_value in value.items():
            pe = field_pe(key)
            if (pe,) in fields:
                continue
            sub = with_prefix(fields, pe)
            if sub:
                sub_value = remove_items(child(node, key), sub_value, sub)
                if sub_value is None:
                    continue
            out[key] = sub_value
        return out or None
    return value


def ensure_named_fields(node: TypeNode, fields: FieldSet) -> FieldSet:
    """fields plus every prefix ending in a struct's declared field."""
    if not fields:
        return EMPTY
    out = set(fields)
    for path in fields:
        cur = node
        for i, pe in enumerate(path[:-1]):
            if pe.startswith("f:"):
                name = pe[2:]
                if cur.kind == STRUCT and name in cur.fields:
                    out.add(path[:i + 1])
                cur = child(cur, name)
            else:
                cur = cur.elem if cur.kind == LIST and cur.elem is not None else _ANY_NODE
    return frozenset(out)


# -- the FieldsV1 of a create ---------------------------------------------------------------
# Subtrees whose FieldsV1 is remembered (by their JSON): every pod a controller makes from
# one template, every create of one manifest, has the same pod spec.
REMEMBERED = frozenset({"io.k8s.api.core.v1.PodSpec"})
REMEMBERED_SIZE = 1024


def created_fields(node: TypeNode, obj: Any,
                   memo: dict[bytes, Any] | None = None) -> dict[str, Any]:
    """The FieldsV1 of compare(node, {}, obj).added | .modified, built directly: what
    a create's manager owns (before stripping), without path tuples or sets. The result
    may share remembered subtrees (kept in memo): never mutate below its top level."""
    return _new_fields(node, {}, obj, memo) or {}


def _new_fields(node: TypeNode, lhs: Any, rhs: Any,
                memo: dict[bytes, Any] | None = None) -> dict[str, Any] | None:
    """The FieldsV1 node of rhs against nothing (MISSING) or a Go zero value; None when
    it adds nothing (rhs equal to the zero value)."""
    if lhs is not MISSING and lhs == rhs:
        return None
    if memo is not None and node.definition in REMEMBERED and type(rhs) is dict:
        key = orjson.dumps([lhs is MISSING, rhs])
        if key not in memo:
            if len(memo) >= REMEMBERED_SIZE:
                memo.clear()
            memo[key] = _build_fields(node, lhs, rhs, memo)
        result: dict[str, Any] | None = memo[key]
        return result
    return _build_fields(node, lhs, rhs, memo)


def _build_fields(node: TypeNode, lhs: Any, rhs: Any,
                  memo: dict[bytes, Any] | None) -> dict[str, Any] | None:
    children: dict[str, Any] = {}
    if type(rhs) is list and rhs and _granular_list(node):
        elem, groups = _item_groups(node, rhs)
        for pe in sorted(groups, key=pe_sort_key):
            items = groups[pe]
            children[pe] = (_new_fields(elem, MISSING, items[0], memo) or {}) \
                if len(items) == 1 else {}
    elif type(rhs) is dict and rhs and not node.atomic and node.kind in (STRUCT, MAP, ANY):
        struct = node.kind == STRUCT and lhs is not MISSING
        for key in sorted(rhs):
            sub = child(node, key)
            lv = _materialized(node, key, sub) if struct else MISSING
            got = _new_fields(sub, lv, rhs[key], memo)
            if got is not None:
                children[field_pe(key)] = got
    else:
        return {}  # a leaf: added or modified
    if lhs is MISSING:
        return {".": {}, **children} if children else {}
    return children or None
