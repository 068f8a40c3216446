"""JSON merge patch (RFC 7386) and the JSON deep copy the patch modules share.

Owns: apply_merge_patch — objects merge key by key, null deletes a key, anything else
(lists, scalars) replaces the target value; a patch that is not an object replaces the
whole document. It must never mutate its inputs or know about Kubernetes schemas (that is
strategic merge patch, in strategic.py).
"""

from __future__ import annotations

from typing import Any


def deep_copy_json(value: Any) -> Any:
    """Copy a decoded JSON value (dicts, lists, scalars) much faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: deep_copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy_json(v) for v in value]
    return value


def apply_merge_patch(obj: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch(obj, patch) as a new value; the inputs are left untouched."""
    if not isinstance(patch, dict):
        return deep_copy_json(patch)
    result = deep_copy_json(obj) if isinstance(obj, dict) else {}
    _merge_into(result, patch)
    return result


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge patch into target (a private copy) in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = target[key] = {}
            _merge_into(current, value)
        else:
            target[key] = deep_copy_json(value)
