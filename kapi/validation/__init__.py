"""Validation: pure functions returning every error with its field path, like upstream's
`spec.template.spec.containers[0].image: Required value`.

Owns the pure rule modules (meta, core, pod, workloads: each kind's strategy in
kapi/registry/kinds says which of them apply to it) and `Validator`, which keeps the
compiled per-kind types (kapi.validation.typeinfo) used both by the strict decoding
checks (kapi.validation.decoding) and by server-side apply. It never raises API errors and
never touches HTTP or storage: callers turn FieldErrors into a 422 Status.
"""

from __future__ import annotations

from typing import Any

from kapi.meta.schema import Definitions
from kapi.validation.decoding import Findings, inspect
from kapi.validation.field import FieldError
from kapi.validation.typeinfo import TypeNode, Types

Obj = dict[str, Any]

__all__ = ["FieldError", "Findings", "Validator"]


class Validator:
    """The compiled types of one Definitions object, shared by every request."""

    def __init__(self, definitions: Definitions) -> None:
        self.types = Types(definitions)
        self.clean: dict[bytes, int] = {}  # subtrees inspect() found clean (by JSON)

    def type_of(self, definition: str) -> TypeNode | None:
        return self.types.of(definition) if definition else None

    def inspect(self, definition: str, obj: Any, *, sort_keys: bool = False,
                prune: bool = False, count: bool = True) -> Findings:
        """The decoder's view of obj: type error and unknown/duplicate fields."""
        node = self.type_of(definition)
        if node is None:
            return Findings()
        return inspect(node, obj, sort_keys=sort_keys, prune=prune, count=count,
                       clean=self.clean)
