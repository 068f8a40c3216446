"""The upstream definitions compiled into small type nodes, one per definition, cached.

Owns: `Types(definitions)` -> `TypeNode` trees (struct / map / list / scalar / any) with
what schema checks and server-side apply need: each struct's fields and required names,
list semantics (x-kubernetes-list-type atomic / set / map and its keys, falling back to
the patch strategy like upstream's schema conversion), atomic maps
(x-kubernetes-map-type), scalar kinds (int32, int-or-string, quantity, time, bytes...),
and the Go type names upstream's decoder prints in its errors.

It must never import from the rest of kapi besides kapi.meta.schema, never touch HTTP, and
never mutate a node after building it: nodes are shared by every request.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from kapi.meta.schema import Definitions, ref_name

Schema = dict[str, Any]

STRUCT, MAP, LIST, SCALAR, ANY = "struct", "map", "list", "scalar", "any"
ATOMIC, SET, ASSOCIATIVE = "atomic", "set", "map"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Definitions whose JSON form is a string with its own parser.
_SCALAR_DEFS = {
    INT_OR_STRING: ("int-or-string", "intstr.IntOrString"),
    QUANTITY: ("quantity", "resource.Quantity"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": ("time", "v1.Time"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": ("time", "v1.MicroTime"),
}
# Key fields that upstream's openapi gives a default (kubernetes-validate drops defaults).
KEY_DEFAULTS = {"protocol": "TCP"}


@dataclass(eq=False)
class TypeNode:
    """One type: a struct (named fields), a map (string keys, one element type), a list,
    a scalar, or anything (preserved as sent)."""

    kind: str
    go_name: str = ""  # the Go type as upstream's decoder names it, e.g. "v1.PodSpec"
    scalar: str = ""  # string, integer, number, boolean, int-or-string, quantity, time, bytes
    fmt: str = ""  # int32 / int64 / double for numbers
    fields: dict[str, TypeNode] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    elem: TypeNode | None = None
    list_type: str = ATOMIC  # for lists: atomic, set or map
    keys: tuple[str, ...] = ()  # for associative lists
    atomic: bool = False  # for structs and maps: x-kubernetes-map-type atomic
    definition: str = ""

    @functools.cached_property
    def struct_name(self) -> str:
        """The bare Go struct name ("DeploymentSpec"), as in "Go struct field X.path"."""
        return self.go_name.rsplit(".", 1)[-1]


_ANY = TypeNode(ANY, go_name="interface {}")


class Types:
    """Type nodes of one Definitions object; built on first use, then cached."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self._nodes: dict[str, TypeNode] = {}

    def of(self, definition: str) -> TypeNode | None:
        """The node of a definition (None when there is no such definition)."""
        node = self._nodes.get(definition)
        if node is None:
            if definition not in self.definitions:
                return None
            node = self._build_definition(definition)
        return node

    def forget(self, names: set[str]) -> None:
        """Drop the nodes of definitions that changed (rebuilt on next use)."""
        for name in names:
            self._nodes.pop(name, None)

    def _build_definition(self, name: str) -> TypeNode:
        if name in _SCALAR_DEFS:
            scalar, go = _SCALAR_DEFS[name]
            node = TypeNode(SCALAR, go_name=go, scalar=scalar, definition=name)
            self._nodes[name] = node
            return node
        raw = self.definitions.schema(name)
        pkg = name.split(".")[-2] if "." in name else ""
        node = TypeNode(STRUCT, go_name=f"{pkg}.{name.split('.')[-1]}", definition=name)
        self._nodes[name] = node  # registered before its fields: definitions may recurse
        self._fill(node, raw)
        return node

    def _fill(self, node: TypeNode, raw: Schema) -> None:
        built = self.inline(raw)
        if built.kind == STRUCT:
            node.fields, node.required = built.fields, built.required
            node.atomic = built.atomic
        else:  # a definition that is not a struct (RawExtension, FieldsV1, ...)
            node.kind, node.scalar, node.fmt = built.kind, built.scalar, built.fmt
            node.elem, node.atomic = built.elem, built.atomic
            if built.kind != ANY:
                node.go_name = built.go_name

    def inline(self, schema: Schema) -> TypeNode:
        """The node of a schema written in place (a property, an items schema)."""
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.of(ref_name(ref)) or _ANY
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and "properties" not in schema:
            return self.inline(all_of[0])
        if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get(
                "x-kubernetes-int-or-string"):
            return _ANY
        kind = schema.get("type")
        if kind == "object":
            return self._object(schema)
        if kind == "array":
            return self._array(schema)
        if kind in ("string", "integer", "number", "boolean"):
            return _scalar(kind, str(schema.get("format") or ""))
        return _ANY

    def _object(self, schema: Schema) -> TypeNode:
        atomic = schema.get("x-kubernetes-map-type") == "atomic"
        props = schema.get("properties")
        if isinstance(props, dict):
            fields = {k: self._lazy(v) for k, v in props.items()}
            return TypeNode(STRUCT, go_name="struct", fields=fields, atomic=atomic,
                            required=frozenset(schema.get("required") or ()))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            elem = self._lazy(extra)
            return TypeNode(MAP, go_name=f"map[string]{elem.go_name}", elem=elem,
                            atomic=atomic)
        return _ANY

    def _array(self, schema: Schema) -> TypeNode:
        items = schema.get("items")
        elem = self._lazy(items) if isinstance(items, dict) else _ANY
        list_type = schema.get("x-kubernetes-list-type")
        keys: tuple[str, ...] = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        if list_type is None:  # upstream's schema conversion falls back on the patch strategy
            strategy = str(schema.get("x-kubernetes-patch-strategy") or "")
            merge_key = schema.get("x-kubernetes-patch-merge-key")
            if "merge" in strategy.split(","):
                list_type = ASSOCIATIVE if merge_key else SET
                keys = (merge_key,) if merge_key else ()
            else:
                list_type = ATOMIC
        if list_type == ASSOCIATIVE and not keys:
            list_type = SET
        return TypeNode(LIST, go_name=f"[]{elem.go_name}", elem=elem, list_type=list_type,
                        keys=keys)

    def _lazy(self, schema: Schema) -> TypeNode:
        """A property's node; a $ref to a definition being built returns its shell."""
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref_name(ref)
            cached = self._nodes.get(name)
            if cached is not None:
                return cached
        return self.inline(schema)


def _scalar(kind: str, fmt: str) -> TypeNode:
    if kind == "string" and fmt == "byte":
        return TypeNode(SCALAR, go_name="[]uint8", scalar="bytes")
    if kind == "string" and fmt == "date-time":
        return TypeNode(SCALAR, go_name="v1.Time", scalar="time")
    if kind == "string" and fmt == "int-or-string":
        return TypeNode(SCALAR, go_name="intstr.IntOrString", scalar="int-or-string")
    go = {"string": "string", "boolean": "bool", "number": "float64"}.get(kind)
    if kind == "integer":
        go = fmt if fmt in ("int32", "int64") else "int64"
    if kind == "number" and fmt == "float":
        go = "float32"
    return TypeNode(SCALAR, go_name=go or kind, scalar=kind, fmt=fmt)


def walk(node: TypeNode | None, path: tuple[str | int, ...]) -> TypeNode | None:
    """The node at a field path (ints step into list items)."""
    for step in path:
        if node is None:
            return None
        if isinstance(step, int):
            node = node.elem if node.kind == LIST else None
        elif node.kind == STRUCT:
            node = node.fields.get(step)
        elif node.kind == MAP:
            node = node.elem
        else:
            return None
    return node
