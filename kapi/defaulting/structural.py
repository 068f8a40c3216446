"""Defaulting and pruning of a custom resource along its structural schema, as upstream's
apiextensions-apiserver does on every write and on every read from storage.

- default: a property absent from an object gets a copy of its schema's `default`
  (parents first, so a defaulted object is defaulted inside as well);
- prune: a field the schema does not declare is dropped, unless its object says
  x-kubernetes-preserve-unknown-fields; the root's and every embedded resource's
  apiVersion, kind and metadata always stay (metadata is ObjectMeta, not the schema's).

Both work in place on plain JSON values and return the paths they pruned (for the
`unknown field` warnings). Pure: no HTTP, no storage.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]
_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")


def apply_defaults(schema: Schema, value: Any) -> None:
    """Fill in every default the schema declares, in place."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in value and isinstance(sub, dict) and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
        extra = schema.get("additionalProperties")
        for name, v in value.items():
            sub = props.get(name, extra if isinstance(extra, dict) else None)
            if sub is not None:
                apply_defaults(sub, v)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for v in value:
                apply_defaults(items, v)


def lacks_defaults(schema: Schema, value: Any) -> bool:
    """Whether apply_defaults would change value (most stored objects already carry their
    defaults: reading them then needs no copy)."""
    if not isinstance(schema, dict):
        return False
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name, sub in props.items():
            if name not in value and isinstance(sub, dict) and "default" in sub:
                return True
        return any(lacks_defaults(sub, v) for name, v in value.items()
                   if (sub := props.get(name, extra if isinstance(extra, dict) else None))
                   is not None)
    if isinstance(value, list):
        items = schema.get("items")
        return isinstance(items, dict) and any(lacks_defaults(items, v) for v in value)
    return False


def prune(schema: Schema, value: Any, *, root: bool = True) -> list[str]:
    """Drop undeclared fields in place; the dotted paths of what was dropped."""
    dropped: list[str] = []
    _prune(schema, value, [], dropped, resource=root)
    return dropped


def _prune(schema: Schema, value: Any, steps: list[str], dropped: list[str],
           resource: bool = False) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        resource = resource or bool(schema.get("x-kubernetes-embedded-resource"))
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep_all = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or \
            extra is True or isinstance(extra, dict)
        for name in list(value):
            if resource and name in _RESOURCE_FIELDS:
                continue  # metadata is ObjectMeta: never pruned along the schema
            sub = props.get(name, extra if isinstance(extra, dict) else None)
            if sub is None:
                if not keep_all:
                    dropped.append(".".join([*steps, name]))
                    del value[name]
                continue
            _prune(sub, value[name], [*steps, name], dropped)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _prune(items, v, [*steps[:-1], f"{steps[-1]}[{i}]"] if steps else [], dropped)
