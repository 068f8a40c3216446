"""Strategic merge patch, as apimachinery's strategicpatch applies it on the server.

Owns: apply_strategic_merge_patch. Maps merge key by key and null deletes; a list merges
only when its field says x-kubernetes-patch-strategy "merge" (by the
x-kubernetes-patch-merge-key for lists of objects, as a set for lists of scalars) and is
replaced otherwise; a field whose strategy is "replace" is replaced. Directives: "$patch"
(replace / delete on a map, replace / delete on a list element), "$retainKeys",
"$deleteFromPrimitiveList/<field>" and "$setElementOrder/<field>". New list items go
before the items the patch does not mention unless "$setElementOrder" says otherwise,
exactly as upstream. Patch metadata comes from kapi.meta.schema.Definitions; a kind with
no definition falls back to JSON merge patch.

Deliberate differences from upstream: directive keys that upstream leaves behind (they
vanish there when the result is decoded into a Go struct) are stripped from the result,
and a "$setElementOrder" over two empty lists is not an error.

It must never mutate its inputs (it works on private copies) and never touch HTTP.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi.meta.schema import Definitions, Schema, patch_meta
from kapi.patch.errors import PatchError
from kapi.patch.merge_patch import apply_merge_patch, deep_copy_json

Obj = dict[str, Any]

DIRECTIVE = "$patch"
REPLACE, DELETE, MERGE = "replace", "delete", "merge"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"


def apply_strategic_merge_patch(obj: Obj, patch: Obj, defs: Definitions,
                                definition_name: str | None) -> Obj:
    """Apply a strategic merge patch to obj, a `definition_name` object; a new dict."""
    if not definition_name or definition_name not in defs:
        return apply_merge_patch(obj, patch)
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    original = deep_copy_json(obj) if isinstance(obj, dict) else {}
    merger = _Merger(defs)
    merged = merger.merge_map(original, deep_copy_json(patch), defs.get(definition_name))
    return strip_directives(merged)


def strip_directives(value: Any) -> Any:
    """Drop directive keys left in maps (in place) and return value."""
    _prune_maps(value, lambda k, _v: _is_directive_key(k))
    return value


def _prune_maps(value: Any, drop: Callable[[str, Any], bool]) -> None:
    """Delete, in place, the entries of every map inside value (lists are walked, not
    pruned) for which drop(key, value) holds."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if drop(k, v)]:
            del value[key]
        for v in value.values():
            _prune_maps(v, drop)
    elif isinstance(value, list):
        for v in value:
            _prune_maps(v, drop)


def _is_directive_key(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN_KEYS) or key.startswith(
        (DELETE_FROM_PRIMITIVE_LIST + "/", SET_ELEMENT_ORDER + "/"))


def _kind(value: Any) -> str:
    """The JSON type of a value, as Go's reflect.TypeOf tells decoded values apart."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def _same(a: Any, b: Any) -> bool:
    """Go's interface equality: same dynamic type and equal value."""
    return _kind(a) == _kind(b) and a == b


def _contains(items: list[Any], value: Any) -> bool:
    return any(_same(v, value) for v in items)


def _strip_prefix(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise PatchError(f"invalid patch format of {prefix}: bad key {key!r}")
    return rest


def _no_merge_key(item: Any, merge_key: str) -> PatchError:
    return PatchError(f"map: {item} does not contain declared merge key: {merge_key}")


class _Merger:
    """One patch application; walks patch and schema together."""

    def __init__(self, defs: Definitions) -> None:
        self.defs = defs

    # -- schema look-ups -----------------------------------------------------------------
    def lookup_struct(self, node: Schema | None, key: str) -> tuple[Schema | None, str]:
        field = self.defs.property(node, key)
        return self.defs.resolve(field), patch_meta(field).strategy

    def lookup_slice(self, node: Schema | None, key: str) -> tuple[Schema | None, str, str]:
        field = self.defs.property(node, key)
        meta = patch_meta(field)
        return self.defs.resolve(self.defs.items(field)), meta.strategy, meta.merge_key

    # -- maps ----------------------------------------------------------------------------
    def merge_map(self, original: Obj | None, patch: Obj, node: Schema | None) -> Obj:
        """mergeMap: merge patch into original (both private copies, mutated)."""
        if DIRECTIVE in patch:
            return _map_directive(patch)
        if original is None:
            original = {}
        _apply_retain_keys(original, patch)
        self.merge_ordered_lists(original, patch, node)
        for key, value in list(patch.items()):
            self.merge_key_into(original, key, value, node)
        return original

    def merge_key_into(self, original: Obj, key: str, value: Any, node: Schema | None) -> None:
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = _strip_prefix(key, DELETE_FROM_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            return
        if key not in original or _kind(original[key]) != _kind(value):
            if not delete_list:
                _set_without_directives(original, key, value, discard_nulls=True)
            return
        if isinstance(value, dict):
            sub, strategy = self.lookup_struct(node, key)
            original[key] = value if strategy == REPLACE else self.merge_map(
                original[key], value, sub)
        elif isinstance(value, list):
            sub, strategy, merge_key = self.lookup_slice(node, key)
            original[key] = self.merge_slice_handler(original[key], value, sub, strategy,
                                                     merge_key, delete_list)
        else:
            original[key] = value

    # -- lists ---------------------------------------------------------------------------
    def merge_slice_handler(self, original: list[Any], patch: list[Any], items: Schema | None,
                            strategy: str, merge_key: str, delete_list: bool) -> list[Any]:
        if strategy != MERGE:
            return patch
        return self.merge_slice(original, patch, items, merge_key, delete_list)

    def merge_slice(self, original: list[Any], patch: list[Any], items: Schema | None,
                    merge_key: str, delete_list: bool) -> list[Any]:
        if not original and not patch:
            return original
        kind = _element_kind(original, patch)
        if kind != "map":
            if delete_list:
                return [v for v in original if not _contains(patch, v)]
            merged = _dedupe(original + patch)
        else:
            if not merge_key:
                raise PatchError("cannot merge lists without merge key")
            original, patch = _apply_list_directives(original, patch, merge_key)
            merged = self.merge_by_key(original, patch, merge_key, items)
        patch_items, server_only = _partition(merged, patch, merge_key, kind)
        return _normalize_order(patch_items, server_only, patch, original, merge_key, kind)

    def merge_by_key(self, original: list[Any], patch: list[Any], merge_key: str,
                     items: Schema | None) -> list[Any]:
        merged = list(original)  # original stays the live order (upstream's slice header)
        for item in patch:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            at = _find_by_key(merged, merge_key, item[merge_key])
            if at is None:
                merged.append(item)
            else:
                merged[at] = self.merge_map(merged[at], item, items)
                if at < len(original):
                    original[at] = merged[at]
        return merged

    # -- $setElementOrder ----------------------------------------------------------------
    def merge_ordered_lists(self, original: Obj, patch: Obj, node: Schema | None) -> None:
        """mergePatchIntoOriginal: merge each list named by a $setElementOrder directive."""
        for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
            order = patch.pop(key)
            if not isinstance(order, list):
                raise PatchError(f"invalid patch format of {SET_ELEMENT_ORDER}: not a list")
            field = _strip_prefix(key, SET_ELEMENT_ORDER)
            in_original, in_patch = field in original, field in patch
            orig_list, patch_list = original.get(field), patch.get(field)
            for value in (orig_list, patch_list):
                if value is not None and not isinstance(value, list):
                    raise PatchError(f"{field}: expected a list, got {_kind(value)}")
            orig_list, patch_list = orig_list or [], patch_list or []
            items, strategy, merge_key = self.lookup_slice(node, field)
            _validate_order(patch_list, order, merge_key)
            if not in_original and not in_patch:
                continue
            if not in_patch:
                merged = orig_list
            elif not in_original:
                merged = _remove_directives(patch_list)[1]
            else:
                merged = self.merge_slice_handler(orig_list, patch_list, items, strategy,
                                                  merge_key, False)
            original[field] = self._order(merged, order, orig_list, patch_list, merge_key)
            patch.pop(field, None)

    def _order(self, merged: list[Any], order: list[Any], orig_list: list[Any],
               patch_list: list[Any], merge_key: str) -> list[Any]:
        if not orig_list and not patch_list:
            return merged
        kind = _element_kind(orig_list, patch_list)
        patch_items, server_only = _partition(merged, order, merge_key,
                                              "map" if merge_key else "scalar")
        return _normalize_order(patch_items, server_only, order, orig_list, merge_key, kind)


# -- map helpers ---------------------------------------------------------------------------
def _map_directive(patch: Obj) -> Obj:
    directive = patch[DIRECTIVE]
    if directive == REPLACE:
        del patch[DIRECTIVE]
        return patch
    if directive == DELETE:
        return {}
    raise PatchError(f"unknown patch type: {directive} in map: {patch}")


def _apply_retain_keys(original: Obj, patch: Obj) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise PatchError("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if not _contains(keep, key):
            raise PatchError("invalid patch format of retainKeys")
    for key in [k for k in original if not _contains(keep, k)]:
        del original[key]


def _set_without_directives(original: Obj, key: str, value: Any, discard_nulls: bool) -> None:
    if discard_nulls:
        _discard_nulls(value)
    keep, cleaned = _remove_directives(value)
    if keep:
        original[key] = cleaned
    else:
        original.pop(key, None)


def _discard_nulls(value: Any) -> None:
    """Delete null-valued keys of every map inside value (lists are walked, not pruned)."""
    _prune_maps(value, lambda _k, v: v is None)


def _remove_directives(value: Any) -> tuple[bool, Any]:
    """removeDirectives: drop every map carrying "$patch"; (keep this value?, value)."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return False, None
        for key in list(value):
            keep, value[key] = _remove_directives(value[key])
            if not keep:
                del value[key]
        return True, value
    if isinstance(value, list):
        kept = [_remove_directives(v) for v in value]
        return True, [v for keep, v in kept if keep]
    return True, value


# -- list helpers --------------------------------------------------------------------------
def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: the one kind every element shares; lists of lists are refused."""
    kind = None
    for items in lists:
        for v in items:
            k = _kind(v)
            if kind is None:
                if k == "list":
                    raise PatchError("lists of lists are not supported")
                kind = k
            elif k != kind:
                raise PatchError(f"list element types are not identical: {lists}")
    if kind is None:
        raise PatchError("no elements in any of the given slices")
    return kind


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in items:
        if not _contains(out, v):
            out.append(v)
    return out


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {i} is not a map.")
        if merge_key in item and _same(item[merge_key], value):
            return i
    return None


def _apply_list_directives(original: list[Any], patch: list[Any],
                           merge_key: str) -> tuple[list[Any], list[Any]]:
    """mergeSliceWithSpecialElements: act on "$patch" list elements, return the rest."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
        elif item[DIRECTIVE] == DELETE:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            original = [o for o in original
                        if not (merge_key in o and _same(o[merge_key], item[merge_key]))]
        elif item[DIRECTIVE] == REPLACE:
            replace = True
        elif item[DIRECTIVE] == MERGE:
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {item[DIRECTIVE]} in map: {item}")
    return (plain, []) if replace else (original, plain)


def _partition(merged: list[Any], by: list[Any], merge_key: str,
               kind: str) -> tuple[list[Any], list[Any]]:
    """Split merged into (items present in `by`, items only on the server)."""
    present: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        if kind == "map":
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item, merge_key)
            found = _find_by_key(by, merge_key, item[merge_key]) is not None
        else:
            found = _contains(by, item)
        (present if found else server_only).append(item)
    return present, server_only


def _index(items: list[Any], value: Any, merge_key: str, kind: str) -> int:
    def key_of(v: Any) -> Any:
        if kind != "map":
            return v
        return v.get(merge_key) if isinstance(v, dict) else None

    wanted = key_of(value)
    for i, item in enumerate(items):
        if _same(key_of(item), wanted):
            return i
    return -1


def _sort_by(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """normalizeSliceOrder: stable-sort items by their place in order; deletions last."""
    deleting: list[Any] = []
    if kind == "map":
        for item in items + order:
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item, merge_key)
        deleting = [i for i in items if i.get(DIRECTIVE) == DELETE]
        items = [i for i in items if i.get(DIRECTIVE) != DELETE]
    ranked = sorted(items, key=lambda item: _index(order, item, merge_key, kind))
    return ranked + deleting


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """normalizeElementOrder: order each part, then interleave them by the live order."""
    right = _sort_by(patch_items, patch_order, merge_key, kind)
    left = _sort_by(server_only, server_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """validatePatchWithSetOrderList: patch items must appear in order, in that order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise PatchError(f"expected a map in {patch_list}, got {item}")
        items = [i for i in patch_list if i.get(DIRECTIVE) != DELETE]
    p = o = 0
    while p < len(items) and o < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if _order_equal(items[p], order[o], merge_key):
            p += 1
        o += 1
    if p < len(items) and o >= len(order):
        raise PatchError(f"the order in patch list:\n{patch_list}\n doesn't match "
                         f"{SET_ELEMENT_ORDER} list:\n{order}")


def _order_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for side in (left, right):
        if not isinstance(side, dict) or merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _same(left[merge_key], right[merge_key])
