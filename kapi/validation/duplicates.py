"""Duplicate fields in request bodies, found the way upstream's strict decoders report
them: `duplicate field "spec.paused"` for JSON (in document order, at the repeated
key), `line 14: key "paused" already set in map` for YAML.

Owns: a cheap test that a JSON body can hold no duplicate (so the common case costs one
regex pass), a JSON parse that keeps every (key, value) pair for the walk that reports
them, and the YAML duplicate finder (linear in the document: each node is visited once,
however often aliases name it). Pure functions over bytes; never raises API errors.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

_KEY_END = re.compile(rb'"\s*:')

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


class PairsDict(dict[str, Any]):
    """A decoded JSON object that remembers every key it was written with, in order.

    Like Go's decoder the dict holds the last value of a repeated key; `pairs` keeps
    all of them so the walk can tell a duplicate from a first occurrence."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def count_keys(value: Any) -> int:
    """Keys in every object of a decoded JSON value."""
    total = 0
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            total += len(v)
            todo.extend(x for x in v.values() if isinstance(x, (dict, list)))
        elif isinstance(v, list):
            todo.extend(x for x in v if isinstance(x, (dict, list)))
    return total


def json_may_repeat_keys(raw: bytes, decoded: Any, keys: int | None = None) -> bool:
    """False when raw (a JSON text) certainly repeats no key: every key ends in `"` then
    `:`, so fewer such marks than decoded keys is impossible and as many means none was
    lost. Strings holding `":` only make this say True more often. `keys` is the decoded
    key count when the caller already has it."""
    keys = count_keys(decoded) if keys is None else keys
    marks = raw.count(b'":')  # compact and pretty JSON alike; C speed
    if marks < keys:  # written with blanks before the colons: count those too
        marks = sum(1 for _ in _KEY_END.finditer(raw))
    return marks > keys


def json_with_pairs(raw: bytes) -> Any:
    """Decode JSON keeping each object's pairs (objects become PairsDict)."""
    return json.loads(raw, object_pairs_hook=PairsDict, parse_int=_json_int)


def _json_int(text: str) -> int | float:
    """An integer as orjson (and Go into interface{}) reads it: past 64 bits, a float."""
    value = int(text)
    return value if -(2**63) <= value < 2**64 else float(value)


def yaml_duplicates(raw: bytes) -> list[str]:
    """`line N: key "k" already set in map` for every repeated key, in document order.

    Walks the composed graph depth first, each node once: an alias is the node it names,
    already visited, so a cycle or a billion-laughs document costs its own size."""
    try:
        root = yaml.compose(raw, Loader=_Loader)
    except yaml.YAMLError:
        return []
    out: list[str] = []
    seen: set[int] = set()
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            out.extend(mapping_duplicates(node))
            todo.extend(v for _, v in reversed(node.value))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(reversed(node.value))
    return out


def mapping_duplicates(node: yaml.MappingNode) -> list[str]:
    """The repeated scalar keys of one mapping node, worded as go-yaml words them."""
    out: list[str] = []
    seen: set[Any] = set()
    for key, _ in node.value:
        k = key.value if isinstance(key, yaml.ScalarNode) else None
        if k is not None and k in seen:
            out.append(f'line {key.start_mark.line + 1}: key "{k}" already set in map')
        seen.add(k)
    return out


def json_patch_problems(raw: bytes) -> list[str]:
    """`json patch unknown field "[0].foo"` / `json patch duplicate field "[1].path"` for
    the operations of a JSON patch body."""
    try:
        ops = json_with_pairs(raw)
    except ValueError:
        return []
    if not isinstance(ops, list):
        return []
    out: list[str] = []
    for i, op in enumerate(ops):
        if not isinstance(op, PairsDict):
            continue
        seen: set[str] = set()
        for key, _ in op.pairs:
            if key not in ("op", "path", "value", "from"):
                out.append(f'json patch unknown field "[{i}].{key}"')
            elif key in seen:
                out.append(f'json patch duplicate field "[{i}].{key}"')
            seen.add(key)
    return out


def duplicate_paths(value: Any) -> list[str]:
    """`duplicate field "a.b[0].c"` for every repeated key of a PairsDict tree (a patch),
    in document order."""
    out: list[str] = []
    _dups(value, "", out)
    return out


def _dups(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, PairsDict):
        seen: set[str] = set()
        for key, item in value.pairs:
            sub = f"{path}.{key}" if path else key
            if key in seen:
                out.append(f'duplicate field "{sub}"')
            seen.add(key)
            _dups(item, sub, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _dups(item, f"{path}[{i}]", out)
