"""The step the generic store runs after admission on every create and update:
the kind's strategy's Validate / ValidateUpdate, every FieldError of the object becoming
one cause of a 422 Invalid Status.

Subresources the server builds itself (binding, finalize) are not validated; a status
write is validated as a status write. Never touches storage or HTTP.
"""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.meta.resources import Resource
from kapi.registry.kinds.base import strategy_of

Obj = dict[str, Any]
SERVER_BUILT = frozenset({"binding", "finalize"})


class Validate:
    """Reject an invalid object with upstream's 422 listing every bad field."""

    def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None,
                 subresource: str) -> None:
        if subresource in SERVER_BUILT:
            return
        strategy = strategy_of(r)
        if old is None:
            errs = strategy.validate(r, new)
        else:
            errs = strategy.validate_update(r, new, old, subresource)
        if errs:
            meta = new.get("metadata") or {}
            name = meta.get("name") or meta.get("generateName") or ""
            raise errors.Invalid.of(r, r.kind, name, [e.cause() for e in errs])
