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
Obj = dict[str, Any]
_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")


class _Plan:
    """Where one schema node's defaults are: its properties with a default, and the
    subschemas (by property, additionalProperties, items) with defaults beneath. Built
    once per node: a write walks only the parts of an object that can take a default."""

    def __init__(self, schema: Schema) -> None:
        props = schema.get("properties") or {}
        self.defaults = [(n, sub["default"]) for n, sub in props.items()
                         if isinstance(sub, dict) and "default" in sub]
        self.props = {n: sub for n, sub in props.items() if _plan(sub) is not None}
        self.declared = frozenset(props)
        extra, items = schema.get("additionalProperties"), schema.get("items")
        self.extra = extra if isinstance(extra, dict) and _plan(extra) else None
        self.items = items if isinstance(items, dict) and _plan(items) else None


# plans by schema node (kept alive here, so an id is never reused); None: no defaults
_PLANS: dict[int, tuple[Any, _Plan | None]] = {}


def _plan(schema: Any) -> _Plan | None:
    if not isinstance(schema, dict):
        return None
    known = _PLANS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    plan: _Plan | None = _Plan(schema)
    assert plan is not None
    if not (plan.defaults or plan.props or plan.extra or plan.items):
        plan = None
    if len(_PLANS) > 100_000:  # bounded: definitions come and go
        _PLANS.clear()
    _PLANS[id(schema)] = (schema, plan)
    return plan


def has_defaults(schema: Any) -> bool:
    """Whether any node of the schema declares a default."""
    return _plan(schema) is not None


def apply_defaults(schema: Schema, value: Any) -> None:
    """Fill in every default the schema declares, in place."""
    plan = _plan(schema)
    if plan is None:
        return
    if isinstance(value, dict):
        for name, default in plan.defaults:
            if name not in value:
                value[name] = copy.deepcopy(default)
        for name, sub in _beneath(plan, value):
            apply_defaults(sub, value[name])
    elif isinstance(value, list) and plan.items is not None:
        for v in value:
            apply_defaults(plan.items, v)


def _beneath(plan: _Plan, value: Obj) -> list[tuple[str, Schema]]:
    """The fields of value whose subschema has defaults beneath."""
    if plan.extra is not None:
        return [(n, plan.props.get(n, plan.extra)) for n in value
                if n in plan.props or n not in plan.declared]
    return [(n, sub) for n, sub in plan.props.items() if n in value]


def lacks_defaults(schema: Schema, value: Any) -> bool:
    """Whether apply_defaults would change value (most stored objects already carry their
    defaults: reading them then needs no copy)."""
    plan = _plan(schema)
    if plan is None:
        return False
    if isinstance(value, dict):
        if any(name not in value for name, _ in plan.defaults):
            return True
        return any(lacks_defaults(sub, value[name]) for name, sub in _beneath(plan, value))
    if isinstance(value, list) and plan.items is not None:
        return any(lacks_defaults(plan.items, v) for v in value)
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
