"""What upstream's typed decoder would say about a request object: the first type error
(`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of
type int32`), and the strict-decoding problems, `unknown field "spec.replicaz"` and
`duplicate field "spec.paused"`, in the order upstream lists them.

Owns: the walk of an object against its TypeNode (kapi.validation.typeinfo), pruning
unknown fields when asked (Warn and Ignore drop them, as decoding into Go structs does).
Nulls always read as Go reads them: a null struct, list or map field is its zero value
and is dropped; a null in a map of strings is "" (upstream stores `labels: {a: null}`
as "").
Pure: returns findings; the HTTP layer decides between 400, a warning or silence.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from kapi.validation import quantity
from kapi.validation.duplicates import PairsDict
from kapi.validation.typeinfo import ANY, LIST, MAP, SCALAR, STRUCT, TypeNode

_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# Subtrees whose clean verdict is remembered (by their JSON): pod specs repeat on every
# update of a workload and in every pod a controller makes.
REMEMBERED = frozenset({"io.k8s.api.core.v1.PodSpec"})
CLEAN_CACHE_SIZE = 2048


@dataclass
class Findings:
    type_error: str | None = None
    problems: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # paths of unknown fields
    keys: int = 0  # keys of every object walked (duplicates.json_may_repeat_keys uses it)


def inspect(node: TypeNode, obj: Any, *, sort_keys: bool = False, prune: bool = False,
            count: bool = True, clean: dict[bytes, int] | None = None) -> Findings:
    """Walk obj (a decoded request object) against its type.

    sort_keys walks maps in key order (upstream re-encodes patched objects with sorted
    keys, so their unknown fields come out sorted); otherwise document order, with
    PairsDict objects (from duplicates.json_with_pairs) also reporting repeated keys.
    `count` also counts every key (for the duplicate test of a request body); `clean`
    remembers subtrees found clean (REMEMBERED kinds) across calls."""
    w = _Walker(sort_keys, prune, count, clean)
    w.value(node, obj, (), (), node.struct_name)
    return Findings(w.type_error, w.problems, w.unknown, w.keys)


def _path(parts: tuple[str, ...]) -> str:
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else "." + p
    return out


class _Walker:
    def __init__(self, sort_keys: bool, prune: bool, count: bool,
                 clean: dict[bytes, int] | None) -> None:
        self.sort_keys, self.prune, self.count = sort_keys, prune, count
        self.clean = clean
        self.type_error: str | None = None
        self.problems: list[str] = []
        self.unknown: list[str] = []
        self.keys = 0
        self.nulls = 0  # nulls pruned or coerced (a subtree that had some is not remembered)

    def value(self, node: TypeNode, v: Any, path: tuple[str, ...], go: tuple[str, ...],
              struct: str) -> None:
        if v is None:
            return
        if node.kind == ANY:
            if self.count and isinstance(v, (dict, list)):
                self.keys += _key_marks(v)
            return
        kind = node.kind
        if kind == STRUCT:
            if isinstance(v, dict):
                self.struct(node, v, path, go)
            else:
                self.mismatch(v, node, go, struct)
        elif kind == MAP:
            if isinstance(v, dict):
                self.map(node, v, path, go, struct)
            else:
                self.mismatch(v, node, go, struct)
        elif kind == LIST:
            if isinstance(v, list):
                elem = node.elem
                assert elem is not None
                for i, item in enumerate(v):
                    self.value(elem, item, path + (f"[{i}]",), go, struct)
            else:
                self.mismatch(v, node, go, struct)
        elif kind == SCALAR:
            if node.scalar == "string" and type(v) is str:
                return  # the common case, decided without a call
            self.scalar(node, v, go, struct)

    def struct(self, node: TypeNode, v: dict[str, Any], path: tuple[str, ...],
               go: tuple[str, ...]) -> None:
        if isinstance(v, PairsDict):
            self.keys += len(v)
            self.struct_pairs(node, v, path, go)
            return
        if self.clean is not None and node.definition in REMEMBERED:
            self.remembered(node, v, path, go)
            return
        self.keys += len(v)
        self.struct_fields(node, v, path, go)

    def remembered(self, node: TypeNode, v: dict[str, Any], path: tuple[str, ...],
                   go: tuple[str, ...]) -> None:
        assert self.clean is not None
        key = orjson.dumps(v)
        known = self.clean.get(key)
        if known is not None:
            self.keys += known
            return
        before, problems, error, nulls = self.keys, len(self.problems), self.type_error, self.nulls
        self.keys += len(v)
        self.struct_fields(node, v, path, go)
        if len(self.problems) == problems and self.type_error is error and self.nulls == nulls:
            if len(self.clean) >= CLEAN_CACHE_SIZE:
                self.clean.clear()
            self.clean[key] = self.keys - before

    def struct_fields(self, node: TypeNode, v: dict[str, Any], path: tuple[str, ...],
                      go: tuple[str, ...]) -> None:
        fields, name = node.fields, node.struct_name
        unknown: list[str] = []
        nulls: list[str] = []
        for key, item in (sorted(v.items()) if self.sort_keys else v.items()):
            sub = fields.get(key)
            if sub is None:
                unknown.append(key)
                self.unknown_field(path, key, item)
            elif item is None:
                if sub.kind != SCALAR:  # a null time (creationTimestamp: null) stays
                    nulls.append(key)
            elif sub.scalar == "string" and type(item) is str:
                continue  # the common case, decided without a call
            else:
                self.value(sub, item, path + (key,), go + (key,), name)
                if sub.scalar == "bytes" and type(item) is str:
                    v[key] = _bytes_canonical(item)
        self.drop(v, unknown, nulls)

    def drop(self, v: dict[str, Any], unknown: list[str], nulls: list[str]) -> None:
        """Remove null fields (always) and unknown ones (when pruning)."""
        for key in nulls:
            if v.get(key, 0) is None:  # a repeated key's last value may not be null
                v.pop(key)
                self.nulls += 1
        if self.prune:
            for key in unknown:
                v.pop(key, None)

    def struct_pairs(self, node: TypeNode, v: PairsDict, path: tuple[str, ...],
                     go: tuple[str, ...]) -> None:
        """A struct decoded with every (key, value) pair: duplicates are reported too."""
        fields, name = node.fields, node.struct_name
        seen: set[str] = set()
        unknown: list[str] = []
        nulls: list[str] = []
        for key, item in v.pairs:
            sub = fields.get(key)
            if sub is None:
                if key not in unknown:
                    unknown.append(key)
                    self.unknown_field(path, key, item)
                continue
            if item is None and sub.kind != SCALAR:
                nulls.append(key)
            if key in seen:
                self.problems.append(f'duplicate field "{_path(path + (key,))}"')
            seen.add(key)
            self.value(sub, item, path + (key,), go + (key,), name)
        self.drop(v, unknown, nulls)

    def unknown_field(self, path: tuple[str, ...], key: str, item: Any) -> None:
        if self.count and isinstance(item, (dict, list)):
            self.keys += _key_marks(item)
        self.unknown.append(_path(path + (key,)))
        self.problems.append(f'unknown field "{self.unknown[-1]}"')

    def map(self, node: TypeNode, v: dict[str, Any], path: tuple[str, ...],
            go: tuple[str, ...], struct: str) -> None:
        elem = node.elem
        assert elem is not None
        self.keys += len(v)
        pairs = v.pairs if isinstance(v, PairsDict) else None
        seen: set[str] = set()
        for key, item in (pairs if pairs is not None else v.items()):
            if pairs is not None and key in seen:
                self.problems.append(f'duplicate field "{_path(path + (key,))}"')
            seen.add(key)
            if item is None and elem.scalar == "string":
                v[key] = ""
                self.nulls += 1
            self.value(elem, item, path + (key,), go, struct)
            if elem.scalar == "bytes" and type(item) is str:
                v[key] = _bytes_canonical(item)

    def scalar(self, node: TypeNode, v: Any, go: tuple[str, ...], struct: str) -> None:
        problem = _scalar_problem(node, v)
        if problem is True:
            self.mismatch(v, node, go, struct)
        elif problem:
            self.fail(problem)

    def mismatch(self, v: Any, node: TypeNode, go: tuple[str, ...], struct: str) -> None:
        what = _json_kind(v, node)
        where = f"Go struct field {struct}.{'.'.join(go)}" if go else "Go value"
        self.fail(f"json: cannot unmarshal {what} into {where} of type {node.go_name}")

    def fail(self, message: str) -> None:
        if self.type_error is None:
            self.type_error = message


def _key_marks(value: Any) -> int:
    """The keys of a subtree the walk does not enter (managedFields' FieldsV1, a
    RawExtension), counted at C speed as the `":` marks of its JSON: exact unless one of
    its strings holds `":` (then a repeated key elsewhere may go unnoticed)."""
    return orjson.dumps(value).count(b'":')


def _scalar_problem(node: TypeNode, v: Any) -> bool | str:
    """True for a plain type mismatch, a message for a parse error, False when fine."""
    s = node.scalar
    if s == "string":
        return not isinstance(v, str)
    if s == "boolean":
        return not isinstance(v, bool)
    if s == "integer":
        return not _int_fits(v, node.fmt)
    if s == "number":
        return isinstance(v, bool) or not isinstance(v, (int, float))
    if s == "int-or-string":
        if isinstance(v, str) or _int_fits(v, "int32"):
            return False
        return f"json: cannot unmarshal {_json_kind(v, node)} into Go value of type int32"
    if s == "quantity":
        return _quantity_problem(v)
    if s == "time":
        return _time_problem(v)
    if s == "bytes":
        return _bytes_problem(v)
    return False


def _int_fits(v: Any, fmt: str) -> bool:
    if isinstance(v, bool) or not isinstance(v, int):
        return False
    lo, hi = _INT_RANGE.get(fmt, _INT_RANGE["int64"])
    return lo <= v <= hi


def _quantity_problem(v: Any) -> str | bool:
    if isinstance(v, (dict, list)) or isinstance(v, bool):
        return quantity.FORMAT_ERROR
    try:
        quantity.parse(v)
    except quantity.QuantityError as e:
        return str(e)
    return False


def _time_problem(v: Any) -> str | bool:
    if not isinstance(v, str):
        return f"json: cannot unmarshal {_json_kind(v, None)} into Go value of type string"
    try:
        dt.datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return (f'parsing time "{v}" as "2006-01-02T15:04:05Z07:00": cannot parse "{v}" '
                'as "2006"')
    return False


def _bytes_problem(v: Any) -> str | bool:
    if not isinstance(v, str):
        return True
    try:
        base64.b64decode(_bytes_canonical(v), validate=True)
    except (binascii.Error, ValueError):
        bad = next((i for i, c in enumerate(v)
                    if not (c.isalnum() or c in "+/=\r\n")), len(v))
        return f"illegal base64 data at input byte {bad}"
    return False


def _bytes_canonical(v: str) -> str:
    """Base64 as Go stores a []byte field: its decoder skips CR and LF (a YAML `|`
    block of a PEM), and the value is encoded again without them."""
    if "\n" in v or "\r" in v:
        return v.replace("\r", "").replace("\n", "")
    return v


def _json_kind(v: Any, node: TypeNode | None) -> str:
    """How Go's decoder names the JSON value it could not store."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, (int, float)):
        integer = node is not None and node.scalar in ("integer", "int-or-string")
        if integer or node is None:
            return f"number {v!r}"
        return "number"
    return type(v).__name__
