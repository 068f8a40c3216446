"""JSON patch (RFC 6902) on a decoded object, via the jsonpatch library.

Owns: apply_json_patch and the mapping of jsonpatch's failures onto PatchError with the
status upstream answers (400 for a malformed patch, 422 when an operation cannot be
applied or a test fails, 413 past the operation limit). It must never mutate its inputs.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from kapi.patch.errors import PatchError
from kapi.patch.merge_patch import deep_copy_json

MAX_OPERATIONS = 10000  # upstream's cap on operations in one JSON patch


def apply_json_patch(obj: Any, patch_ops: Any) -> Any:
    """Apply a list of RFC 6902 operations to a copy of obj and return the copy."""
    patch = _compile(patch_ops)
    try:
        return patch.apply(deep_copy_json(obj), in_place=True)
    except jsonpatch.InvalidJsonPatch as e:
        raise PatchError(f"invalid JSON patch: {e}") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
        raise PatchError(f"the JSON patch cannot be applied: {e}", 422) from None
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise PatchError(f"the JSON patch cannot be applied: {e}", 422) from None


def _compile(patch_ops: Any) -> jsonpatch.JsonPatch:
    if not isinstance(patch_ops, list):
        raise PatchError("a JSON patch must be a JSON array of operations")
    if len(patch_ops) > MAX_OPERATIONS:
        raise PatchError(f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
                         f"got {len(patch_ops)}", 413)
    for i, op in enumerate(patch_ops):
        if not isinstance(op, dict):
            raise PatchError(f"invalid JSON patch: operation {i} is not an object")
        if not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise PatchError(f"invalid JSON patch: operation {i} needs string 'op' and 'path'")
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"invalid JSON patch: operation {i} ({op['op']}) needs 'value'")
        if op["op"] in ("move", "copy") and not isinstance(op.get("from"), str):
            raise PatchError(f"invalid JSON patch: operation {i} ({op['op']}) needs 'from'")
    try:
        return jsonpatch.JsonPatch(deep_copy_json(patch_ops))
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException) as e:
        raise PatchError(f"invalid JSON patch: {e}") from None
