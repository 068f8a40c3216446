"""Field errors as upstream's apimachinery/pkg/util/validation/field writes them.

Owns: FieldError (type, path, bad value, detail), the constructors validators use
(required, invalid, not_supported, duplicate, forbidden, too_long, not_found), the
walk over a list field's objects (each_object), the
rendering of a bad value (Go's %v / %q / %#v forms) and of "path: Type: value: detail".
Pure; knows nothing of HTTP or of the Status object (errors.Invalid renders these).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

_OMIT = object()

REQUIRED, INVALID, NOT_SUPPORTED = "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported"
DUPLICATE, FORBIDDEN, TOO_LONG = "FieldValueDuplicate", "FieldValueForbidden", "FieldValueTooLong"
NOT_FOUND, TOO_MANY = "FieldValueNotFound", "FieldValueTooMany"
_TITLES = {REQUIRED: "Required value", INVALID: "Invalid value", NOT_SUPPORTED: "Unsupported value",
           DUPLICATE: "Duplicate value", FORBIDDEN: "Forbidden", TOO_LONG: "Too long",
           NOT_FOUND: "Not found", TOO_MANY: "Too many"}
_NO_VALUE = (REQUIRED, FORBIDDEN, TOO_LONG)


class GoValue:
    """A bad value already rendered the way Go's %#v would print it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


@dataclass(frozen=True)
class FieldError:
    type: str
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        """The message without the field, as in a Status cause."""
        s = _TITLES[self.type]
        if self.type not in _NO_VALUE and self.value is not _OMIT:
            s += ": " + render(self.value)
        if self.detail:
            s += ": " + self.detail
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.body(), "field": self.field}


def render(value: Any) -> str:
    """Go's formatting of a bad value: %v for numbers and bools, %q for strings."""
    if value is None:
        return "null"
    if isinstance(value, GoValue):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return go_quote(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def go_quote(s: str) -> str:
    """strconv.Quote for the common cases (JSON escaping is close enough)."""
    return json.dumps(s, ensure_ascii=False)


def go_string_map(m: dict[str, Any] | None) -> GoValue:
    """%#v of a map[string]string: map[string]string{"a":"b", "c":"d"} (keys sorted)."""
    if m is None:
        return GoValue("map[string]string(nil)")
    inner = ", ".join(f"{go_quote(k)}:{go_quote(str(v))}" for k, v in sorted(m.items()))
    return GoValue("map[string]string{" + inner + "}")


def go_label_selector(sel: dict[str, Any] | None) -> GoValue:
    """%#v of a v1.LabelSelector, as upstream prints an immutable or empty selector."""
    sel = sel or {}
    labels = go_string_map(sel.get("matchLabels")).text
    exprs = sel.get("matchExpressions")
    if exprs is None:
        ex = "[]v1.LabelSelectorRequirement(nil)"
    else:
        ex = "[]v1.LabelSelectorRequirement{" + ", ".join(_go_requirement(e) for e in exprs) + "}"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{ex}}}")


def _go_requirement(e: Any) -> str:
    e = e if isinstance(e, dict) else {}
    values = e.get("values")
    vals = "[]string(nil)" if values is None else \
        "[]string{" + ", ".join(go_quote(str(v)) for v in values) + "}"
    return (f"v1.LabelSelectorRequirement{{Key:{go_quote(str(e.get('key', '')))}, "
            f"Operator:{go_quote(str(e.get('operator', '')))}, Values:{vals}}}")


# -- constructors -----------------------------------------------------------------------
def each_object(items: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`path[i]`, item) for each entry of a list field that is an object; other entries
    (and a missing list) yield nothing, so a validator reads only fields it can reach."""
    for i, item in enumerate(items or ()):
        if isinstance(item, dict):
            yield f"{path}[{i}]", item


def object_at(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """obj[key] when it is an object, else an empty one (a validator reads only what it
    can reach; the schema check reports the wrong type)."""
    v = obj.get(key)
    return v if isinstance(v, dict) else {}


def spec_immutable(new: dict[str, Any], old: dict[str, Any], field: str) -> list[FieldError]:
    """ValidateImmutableField on spec.<field>."""
    value = object_at(new, "spec").get(field)
    if value == object_at(old, "spec").get(field):
        return []
    return [invalid(f"spec.{field}", value, "field is immutable")]


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, path, "", detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, path, value, detail)


def not_supported(path: str, value: Any, valid: list[str] | tuple[str, ...]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(v) for v in valid) if valid else ""
    return FieldError(NOT_SUPPORTED, path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, path, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, path, "", detail)


def too_long(path: str, max_bytes: int) -> FieldError:
    return FieldError(TOO_LONG, path, "", f"must have at most {max_bytes} bytes")


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, path, value)


def dedupe(errs: list[FieldError]) -> list[FieldError]:
    """Drop repeated messages, as ErrorList.ToAggregate does."""
    seen: set[str] = set()
    out = []
    for e in errs:
        text = str(e)
        if text not in seen:
            seen.add(text)
            out.append(e)
    return out
