"""The upstream OpenAPI definitions of the Kubernetes release kapi claims.

Owns: reading the definitions shipped in the kubernetes-validate package (JSON Schema
2020-12, ``$defs`` keyed by definition name), converting each one to the OpenAPI v2
(Swagger 2.0) dialect upstream publishes (``#/definitions/...`` refs, single types, no
null enums), and the look-ups built on that: a definition by name, by group/version/kind,
the transitive references of a set of definitions, and walking a field path (resolving
``$ref``) to read a field's patch metadata (x-kubernetes-patch-strategy and
x-kubernetes-patch-merge-key) for strategic merge patch.

It must never import from the rest of kapi, never touch HTTP, and never mutate module
state: everything is cached on the ``Definitions`` object the caller constructs and keeps.
Returned schemas are shared and must be treated as read-only.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import orjson

Schema = dict[str, Any]

V2_REF = "#/definitions/"
PATCH_STRATEGY = "x-kubernetes-patch-strategy"
PATCH_MERGE_KEY = "x-kubernetes-patch-merge-key"
RETAIN_KEYS = "retainKeys"

# kubernetes-validate writes these two as oneOf; upstream publishes them as strings.
_SPECIAL: dict[str, Schema] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string. When used "
                       "in JSON or YAML marshalling and unmarshalling, it produces or "
                       "consumes the inner type.",
        "format": "int-or-string",
        "type": "string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number, written as a "
                       "string such as \"100m\", \"1.5Gi\" or \"2\": a signed number followed "
                       "by an optional binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal (m, k, M, G, "
                       "T, P, E) or exponent suffix.",
        "type": "string",
    },
}
_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


@dataclass(frozen=True)
class PatchMeta:
    """The strategic-merge metadata of one field."""

    strategies: tuple[str, ...] = ()
    merge_key: str = ""

    @property
    def strategy(self) -> str:
        """The strategy with "retainKeys" taken out ("merge", "replace" or "")."""
        rest = [s for s in self.strategies if s != RETAIN_KEYS]
        return rest[0] if rest else ""


def definitions_path(version: str = "1.33") -> Path:
    """Where kubernetes-validate keeps the _definitions.json of a release."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the kubernetes-validate package is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "kubernetes-json-schema" / f"v{version}.0-local" / "_definitions.json"


def load_definitions(version: str = "1.33") -> Definitions:
    """A Definitions object for a release; the file is read on first use, then cached."""
    return Definitions(path=definitions_path(version), version=version)


class Definitions:
    """Upstream definitions of one release, converted lazily to OpenAPI v2 and cached."""

    def __init__(self, raw: dict[str, Schema] | None = None, *, path: Path | None = None,
                 version: str = "1.33") -> None:
        if raw is None and path is None:
            raise ValueError("Definitions needs raw definitions or a path")
        self.version = version
        self._path = path
        self._raw = raw
        self._v2: dict[str, Schema] = {}
        self._refs: dict[str, frozenset[str]] = {}

    # -- loading ------------------------------------------------------------------------
    def _source(self) -> dict[str, Schema]:
        if self._raw is None:
            assert self._path is not None
            self._raw = orjson.loads(self._path.read_bytes())["$defs"]
        return self._raw

    def names(self) -> list[str]:
        return sorted(self._source())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._source()

    def put(self, name: str, schema: Schema) -> None:
        """Add or replace a definition already in the v2 dialect (a custom resource's
        schema, built at run time); it is read-only from here on."""
        self._source()[name] = schema
        self._v2[name] = schema
        self._refs.pop(name, None)

    def drop(self, name: str) -> None:
        """Forget a definition added with put."""
        self._source().pop(name, None)
        self._v2.pop(name, None)
        self._refs.pop(name, None)

    # -- schemas ------------------------------------------------------------------------
    def schema(self, name: str) -> Schema:
        """The OpenAPI v2 form of a definition; KeyError if there is none."""
        cached = self._v2.get(name)
        if cached is None:
            raw = self._source()[name]
            cached = dict(_SPECIAL[name]) if name in _SPECIAL else to_v2(raw)
            self._v2[name] = cached
        return cached

    def get(self, name: str) -> Schema | None:
        return self.schema(name) if name in self else None

    def references(self, name: str) -> frozenset[str]:
        """Names referenced directly by a definition."""
        refs = self._refs.get(name)
        if refs is None:
            found: set[str] = set()
            _collect_refs(self.schema(name), found)
            refs = self._refs[name] = frozenset(found)
        return refs

    def closure(self, names: Iterable[str]) -> list[str]:
        """The given definitions and all they reference transitively, sorted."""
        seen: set[str] = set()
        todo = [n for n in names if n in self]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(r for r in self.references(n) if r not in seen and r in self)
        return sorted(seen)

    # -- walking ------------------------------------------------------------------------
    def resolve(self, schema: Schema | None) -> Schema | None:
        """Follow $ref (and a single-element allOf) to the schema that holds the fields."""
        for _ in range(32):
            if schema is None:
                return None
            ref = schema.get("$ref")
            if isinstance(ref, str):
                schema = self.get(ref_name(ref))
                continue
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and "properties" not in schema:
                schema = all_of[0]
                continue
            return schema
        return None

    def property(self, schema: Schema | None, key: str) -> Schema | None:
        """The (unresolved) schema of field `key` of an object or map schema."""
        node = self.resolve(schema)
        if node is None:
            return None
        props = node.get("properties")
        if isinstance(props, dict) and key in props:
            return props[key]
        extra = node.get("additionalProperties")
        return extra if isinstance(extra, dict) else None

    def items(self, schema: Schema | None) -> Schema | None:
        """The (unresolved) item schema of an array schema."""
        node = self.resolve(schema)
        items = node.get("items") if node is not None else None
        return items if isinstance(items, dict) else None

    def field(self, definition: str, path: Sequence[str | int]) -> Schema | None:
        """Walk from a definition down a field path; the field's own (unresolved) schema.

        A path element that is an int or "[]" steps into the items of an array; a name
        met while standing on an array steps into its items first, so
        ("spec", "containers", "env") works as well as ("spec", "containers", 0, "env").
        """
        node: Schema | None = self.get(definition)
        for step in path:
            if node is None:
                return None
            if isinstance(step, int) or step == "[]":
                node = self.items(node)
                continue
            resolved = self.resolve(node)
            if resolved is not None and resolved.get("type") == "array":
                node = self.items(resolved)
            node = self.property(node, step)
        return node


def patch_meta(field_schema: Schema | None) -> PatchMeta:
    """The strategic-merge metadata written on a field's schema."""
    if not field_schema:
        return PatchMeta()
    raw = field_schema.get(PATCH_STRATEGY) or ""
    strategies = tuple(s.strip() for s in str(raw).split(",") if s.strip())
    return PatchMeta(strategies, str(field_schema.get(PATCH_MERGE_KEY) or ""))


def ref_name(ref: str) -> str:
    """"#/definitions/a.b.C" (or any other JSON pointer) -> "a.b.C"."""
    return ref.rsplit("/", 1)[-1]


def _collect_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref_name(ref))
        for key in _SCHEMA_VALUES:
            _collect_refs(node.get(key), out)
        for key in _SCHEMA_LISTS:
            for sub in node.get(key) or ():
                _collect_refs(sub, out)
        for sub in (node.get("properties") or {}).values():
            _collect_refs(sub, out)


def _single_type(value: Any) -> str | None:
    if isinstance(value, list):
        kinds = [t for t in value if t != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return value if isinstance(value, str) and value != "null" else None


def to_v2(node: Any, field: str | None = None) -> Any:
    """Convert one JSON Schema 2020-12 node (as kubernetes-validate writes it) to v2."""
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = V2_REF + ref_name(value)
        elif key == "type":
            t = _single_type(value)
            if t is not None:
                out[key] = t
        elif key == "enum":
            # kubernetes-validate pins apiVersion/kind with an enum upstream doesn't have.
            values = [v for v in value if v is not None]
            if values and field not in ("apiVersion", "kind"):
                out[key] = values
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: to_v2(sub, name) for name, sub in value.items()}
        else:
            out[key] = map_subschemas(key, value, to_v2)
    return out


def map_subschemas(key: str, value: Any, convert: Callable[[Any], Any]) -> Any:
    """The value of a schema node's `key` with `convert` applied to every schema it holds
    (the values of properties; items, additionalProperties, not; the entries of allOf,
    oneOf, anyOf); any other value as it is. The walk shared by the schema converters."""
    if key == "properties" and isinstance(value, dict):
        return {name: convert(sub) for name, sub in value.items()}
    if key in _SCHEMA_VALUES:
        return convert(value)
    if key in _SCHEMA_LISTS and isinstance(value, list):
        return [convert(sub) for sub in value]
    return value
