"""Field sets and their FieldsV1 form, as structured-merge-diff writes them.

A field set is a frozenset of paths; a path is a tuple of serialized path elements:
`f:name` (a field), `k:{"name":"web"}` (an associative-list item, key fields sorted),
`v:"x"` (a set item), `i:0` (an index). FieldsV1 is the nested-object form stored in
metadata.managedFields ({"f:spec": {"f:replicas": {}}}, with "." marking a node that is
itself a member). Owns: building path elements, FieldsV1 <-> set, the order
structured-merge-diff sorts elements in, and `.spec.replicas`-style path strings used in
conflict messages. Pure functions; never touches objects or HTTP.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Iterable

import orjson

Path = tuple[str, ...]
FieldSet = frozenset[Path]
EMPTY: FieldSet = frozenset()


class FieldsError(ValueError):
    """Malformed FieldsV1 or an unusable path element."""


def json_value(value: Any) -> str:
    """JSON as Go's encoder writes it (compact; <, >, & escaped)."""
    text = orjson.dumps(value).decode()
    if "<" in text or ">" in text or "&" in text:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def field_pe(name: str) -> str:
    return "f:" + name


def key_pe(fields: Iterable[tuple[str, Any]]) -> str:
    items = sorted(fields, key=lambda kv: kv[0])
    return "k:{" + ",".join(f"{json_value(k)}:{json_value(v)}" for k, v in items) + "}"


def value_pe(value: Any) -> str:
    return "v:" + json_value(value)


def index_pe(i: int) -> str:
    return f"i:{i}"


# -- FieldsV1 ---------------------------------------------------------------------------
def from_fields_v1(fields: Any) -> FieldSet:
    """The set a FieldsV1 object encodes (memoized on its JSON: objects come back from
    storage as fresh dicts, but their managedFields rarely change)."""
    if fields is None:
        return EMPTY
    if not isinstance(fields, dict):
        raise FieldsError("FieldsV1 must be an object")
    return _from_json(orjson.dumps(fields))


@functools.lru_cache(maxsize=2048)
def _from_json(text: bytes) -> FieldSet:
    return _decode(orjson.loads(text))


def _decode(fields: dict[str, Any]) -> FieldSet:
    out: set[Path] = set()
    todo: list[tuple[Path, dict[str, Any]]] = [((), fields)]
    while todo:
        prefix, node = todo.pop()
        for key, sub in node.items():
            if key == ".":
                if prefix:
                    out.add(prefix)
                continue
            if len(key) < 2 or key[1] != ":" or key[0] not in "fkvi":
                raise FieldsError(f"unknown path element type: {key!r}")
            if not isinstance(sub, dict):
                raise FieldsError(f"expected an object under {key!r}")
            path = prefix + (key,)
            if not sub:
                out.add(path)
            else:
                todo.append((path, sub))
    return frozenset(out)


def to_fields_v1(fields: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 object of a set, children ordered as structured-merge-diff does."""
    root: dict[str, Any] = {}
    members: set[int] = set()
    for path in fields:
        node = root
        for pe in path:
            node = node.setdefault(pe, {})
        members.add(id(node))
    return _emit(root, members, top=True)


def _emit(node: dict[str, Any], members: set[int], top: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not top and node and id(node) in members:
        out["."] = {}
    for key in sorted(node, key=pe_sort_key):
        out[key] = _emit(node[key], members)
    return out


@functools.lru_cache(maxsize=4096)
def pe_sort_key(pe: str) -> tuple[Any, ...]:
    """PathElement.Compare: field names, then keys, then values, then indices."""
    kind, body = pe[0], pe[2:]
    if kind == "f":
        return (0, body)
    if kind == "k":
        parsed = json.loads(body)
        return (1, tuple((k, _value_key(v)) for k, v in sorted(parsed.items())))
    if kind == "v":
        return (2, _value_key(json.loads(body)))
    return (3, int(body))


def _value_key(v: Any) -> tuple[Any, ...]:
    if v is None:
        return (0,)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, (int, float)):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    return (4, json_value(v))


# -- path strings ------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def pe_string(pe: str) -> str:
    """One element as fieldpath.PathElement.String prints it."""
    kind, body = pe[0], pe[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        parsed = json.loads(body)
        return "[" + ",".join(f"{k}={_go_value(v)}" for k, v in sorted(parsed.items())) + "]"
    if kind == "v":
        return f"[={_go_value(json.loads(body))}]"
    return f"[{body}]"


def path_string(path: Path) -> str:
    return "".join(pe_string(pe) for pe in path)


def _go_value(v: Any) -> str:
    """value.ToString: strings quoted, numbers and bools bare."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return json_value(v)


def sorted_paths(fields: Iterable[Path]) -> list[Path]:
    return sorted(fields, key=lambda p: tuple(pe_sort_key(pe) for pe in p))


def with_prefix(fields: Iterable[Path], pe: str) -> FieldSet:
    """The paths under one element, with that element taken off."""
    return frozenset(p[1:] for p in fields if len(p) > 1 and p[0] == pe)


def under(fields: Iterable[Path], prefix: Path) -> FieldSet:
    n = len(prefix)
    return frozenset(p for p in fields if p[:n] == prefix)


def without_prefixes(fields: Iterable[Path], prefixes: Iterable[Path]) -> FieldSet:
    """RecursiveDifference against prefixes: drop every path at or under one."""
    pre = tuple(prefixes)
    if len(pre) == 1 and len(pre[0]) == 1:  # the common case: one top-level field
        head = pre[0][0]
        return frozenset(p for p in fields if p[0] != head)
    return frozenset(p for p in fields if not any(p[:len(x)] == x for x in pre))
