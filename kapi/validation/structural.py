"""Validation of a custom resource against its CustomResourceDefinition's structural
schema (openAPIV3Schema): types, required fields, enums, bounds, patterns, list types and
embedded resources, each reported as upstream's apiextensions-apiserver reports it
(`spec.replicas: Invalid value: "string": spec.replicas in body must be of type
integer: "string"`).

The keyword checks are openapi-schema-validator's (OAS 3.0, the dialect CRD schemas are
written in); this module only turns its findings into FieldErrors with upstream's
wording and field paths, and adds what OpenAPI does not know (x-kubernetes-list-type,
x-kubernetes-embedded-resource). Pure: no HTTP, no storage, no API errors.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from openapi_schema_validator import OAS30Validator

from kapi.validation import field as f
from kapi.validation.field import FieldError

Schema = dict[str, Any]

# jsonschema keywords whose upstream message is "<path> in body <text>"
_TEXT = {
    "minimum": "should be greater than or equal to {v}",
    "maximum": "should be less than or equal to {v}",
    "exclusiveMinimum": "should be greater than {v}",
    "exclusiveMaximum": "should be less than {v}",
    "minLength": "should be at least {v} chars long",
    "pattern": "should match '{v}'",
    "minItems": "should have at least {v} items",
    "multipleOf": "should be a multiple of {v}",
    "minProperties": "should have at least {v} properties",
    "uniqueItems": "shouldn't contain duplicates",
}


def path_of(steps: Any) -> str:
    """["spec", "items", 0, "name"] -> "spec.items[0].name"."""
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else str(s))
    return out


def _number(v: Any) -> str:
    """A bound as Go's %v prints a float64 (10, not 10.0)."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


# JSON types by Python type, bool before int (a bool is an int to Python)
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"))


def _go_type(value: Any) -> str:
    """The JSON type name upstream's validator compares with the schema type."""
    return next((name for t, name in _JSON_TYPES if isinstance(value, t)), "null")


class SchemaValidator:
    """The compiled checks of one version's openAPIV3Schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._validator = OAS30Validator(schema)

    def validate(self, obj: Any) -> list[FieldError]:
        errs = list(_extensions(self.schema, obj, []))
        if not errs and surely_valid(self.schema, obj):
            return []
        errs += [e for err in self._validator.iter_errors(obj) for e in _convert(err)]
        return sorted(f.dedupe(errs), key=lambda e: e.field)


# -- a fast path for valid objects ---------------------------------------------------
# jsonschema spends most of its time creating a validator per property it descends into;
# most writes are valid. surely_valid answers True only when every keyword on the way is
# one it checks itself and every check passes; anything else (a failure, allOf/anyOf/
# oneOf/not, uniqueItems, a null) goes to openapi-schema-validator, which has the last
# word and the messages.
_ANNOTATIONS = frozenset({"description", "title", "default", "example", "format",
                          "externalDocs", "nullable", "type", "properties",
                          "additionalProperties", "items", "required", "enum", "minimum",
                          "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                          "maxLength", "pattern", "minItems", "maxItems", "minProperties",
                          "maxProperties", "multipleOf"})
_TYPES: dict[str, Any] = {"string": str, "object": dict, "array": list, "boolean": bool}


def surely_valid(schema: Any, value: Any) -> bool:
    if not isinstance(schema, dict):
        return schema is True or schema == {}
    if not _facts(schema).plain:
        return False
    return _scalar_ok(schema, value) and _nested_ok(schema, value)


class _Facts:
    """What the walks ask of one schema node every write, worked out once: whether it
    has only keywords surely_valid checks itself, and whether it or a node beneath it
    carries an extension _extensions checks (an embedded resource, a list type)."""

    plain: bool
    extended: bool

    def __init__(self, schema: Schema) -> None:
        self.plain = all(k in _ANNOTATIONS or k.startswith("x-") for k in schema)
        subs = [*(schema.get("properties") or {}).values(), schema.get("items"),
                schema.get("additionalProperties")]
        self.extended = bool(schema.get("x-kubernetes-embedded-resource") or
                             schema.get("x-kubernetes-list-type")) or \
            any(isinstance(sub, dict) and _facts(sub).extended for sub in subs)


# facts by schema node (kept alive here, so an id is never reused)
_FACTS: dict[int, tuple[Any, _Facts]] = {}


def _facts(schema: Schema) -> _Facts:
    known = _FACTS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    facts = _Facts(schema)
    if len(_FACTS) > 100_000:  # bounded: definitions come and go
        _FACTS.clear()
    _FACTS[id(schema)] = (schema, facts)
    return facts


def _type_ok(kind: Any, value: Any) -> bool:
    if kind is None:
        return value is not None
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    want = _TYPES.get(kind)
    return want is not None and isinstance(value, want) and (
        want is not bool or isinstance(value, bool))


def _scalar_ok(schema: Schema, value: Any) -> bool:
    if not _type_ok(schema.get("type"), value):
        return False
    if "enum" in schema and not any(type(value) is type(e) and value == e
                                    for e in schema["enum"]):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_ok(schema, value)
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)) or \
                len(value) < schema.get("minLength", 0):
            return False
        pattern = schema.get("pattern")
        return pattern is None or _regex(pattern).search(value) is not None
    return True


def _number_ok(schema: Schema, value: float) -> bool:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and (value < lo or (schema.get("exclusiveMinimum") and value == lo)):
        return False
    if hi is not None and (value > hi or (schema.get("exclusiveMaximum") and value == hi)):
        return False
    return "multipleOf" not in schema


def _nested_ok(schema: Schema, value: Any) -> bool:
    if isinstance(value, dict):
        if not schema.get("minProperties", 0) <= len(value) <= \
                schema.get("maxProperties", len(value)):
            return False
        if any(r not in value for r in schema.get("required") or ()):
            return False
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            sub = props.get(k)
            if sub is None:
                if extra is False:
                    return False
                sub = extra if isinstance(extra, dict) else None
            if sub is not None and not surely_valid(sub, v):
                return False
    elif isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        items = schema.get("items")
        if isinstance(items, dict):
            return all(surely_valid(items, v) for v in value)
    return True


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _regex(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern)
    return compiled


def _convert(err: Any) -> list[FieldError]:
    """One jsonschema ValidationError as upstream's field errors."""
    kw, steps = err.validator, list(err.absolute_path)
    path, value = path_of(steps), err.instance
    if kw in ("anyOf", "oneOf") and err.context:  # int-or-string and friends
        return [e for sub in err.context[:1] for e in _convert(sub)]
    if kw == "required":
        missing = [p for p in err.validator_value if isinstance(value, dict) and p not in value]
        return [f.required(path_of([*steps, m])) for m in missing[:1]]
    if kw == "type":
        want = err.validator_value
        want = want if isinstance(want, str) else ",".join(want)
        # upstream shows the JSON type as the bad value, not the value itself
        return [f.invalid(path, _go_type(value), f'{path} in body must be of type {want}: '
                                                 f'"{_go_type(value)}"')]
    if kw == "enum":
        return [f.not_supported(path, value, [str(v) if not isinstance(v, str) else v
                                              for v in err.validator_value])]
    if kw == "maxLength":
        return [FieldError(f.TOO_LONG, path, detail=f"may not be more than "
                                                      f"{err.validator_value} bytes")]
    if kw in ("maxItems", "maxProperties"):
        n = len(value) if isinstance(value, (list, dict)) else 0
        return [FieldError(f.TOO_MANY, path, n,
                           f"must have at most {err.validator_value} items")]
    text = _TEXT.get(str(kw))
    if text is None:
        return [f.invalid(path, value, str(err.message))]
    shown = value if not isinstance(value, (dict, list)) else _go_type(value)
    return [f.invalid(path, shown, f"{path} in body " + text.format(
        v=_number(err.validator_value)))]


def _extensions(schema: Schema, value: Any, steps: list[Any]) -> Iterator[FieldError]:
    """The Kubernetes extensions' own checks, walking value along schema."""
    if not isinstance(schema, dict) or not _facts(schema).extended:
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            for key in ("apiVersion", "kind"):
                if not value.get(key):
                    yield f.required(path_of([*steps, key]), "must not be empty")
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _extensions(sub, v, [*steps, k])
    elif isinstance(value, list):
        yield from _list_type(schema, value, steps)
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                yield from _extensions(items, v, [*steps, i])


def _list_type(schema: Schema, value: list[Any], steps: list[Any]) -> Iterator[FieldError]:
    kind = schema.get("x-kubernetes-list-type")
    if kind == "set":
        seen: list[Any] = []
        for i, v in enumerate(value):
            if v in seen:
                yield f.duplicate(path_of([*steps, i]), v)
            seen.append(v)
    elif kind == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: set[str] = set()
        for i, v in enumerate(value):
            if not isinstance(v, dict):
                continue
            key = repr([v.get(k) for k in keys])
            if key in seen_keys:
                yield f.duplicate(path_of([*steps, i]),
                                  f.GoValue(_go_key(keys, v)))
            seen_keys.add(key)


def _go_key(keys: list[str], item: dict[str, Any]) -> str:
    """A map-list key as upstream prints a duplicate (map[string]interface {}{...})."""
    inner = ", ".join(f'"{k}":{f.render(item.get(k))}' for k in keys)
    return "map[string]interface {}{" + inner + "}"
