"""Label and field selectors, parsed and matched exactly as upstream does.

Owns: the label selector grammar of k8s.io/apimachinery/pkg/labels (lexer, parser,
requirement validation, upstream's error strings), metav1.LabelSelector objects
(`label_selector_from_dict`), and the field selector grammar of pkg/fields with its
backslash escaping and the per-kind check of which fields may be selected.

Must never: do I/O, know about HTTP, or import from kapi layers above `kapi.meta`.
Malformed input raises `SelectorError`; turning that into a 400 BadRequest is the
caller's job.

Upstream behaviour worth knowing:
  * label selectors also accept `key>N` / `key<N` (integers), as upstream does;
  * requirements are sorted by key, so `str()` is deterministic;
  * a `None` metav1.LabelSelector selects nothing, an empty one selects everything;
  * a field selector's unescaped `,` or `=` inside a value is an error, and a missing
    field reads as "" when matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Iterable, Mapping, Sequence

from kapi.meta.names import is_label_value, is_qualified_name

__all__ = [
    "SelectorError", "Requirement", "LabelSelector", "FieldRequirement", "FieldSelector",
    "parse_label_selector", "label_selector_from_dict", "everything", "nothing",
    "parse_field_selector", "field_value", "escape_field_value", "unescape_field_value",
    "go_quote", "new_requirement",
]


class SelectorError(ValueError):
    """A selector upstream would reject; `message` is upstream's error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------
# Go formatting helpers (upstream messages quote values with %q / %#v)
# ---------------------------------------------------------------------------

_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r",
               "\t": r"\t", "\v": r"\v", "\\": r"\\", '"': r"\""}


def go_quote(s: str) -> str:
    """Go's strconv.Quote (what %q prints for a string)."""
    out = []
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _go_value(v: Any) -> str:
    """How field.Error prints a bad value: %q for strings, %#v for []string."""
    if isinstance(v, str):
        return go_quote(v)
    if v is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(x) for x in v) + "}"


def _invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {_go_value(value)}: {detail}"


def _aggregate(msgs: list[str]) -> str:
    """utilerrors.Aggregate.Error(): de-duplicated, bracketed when more than one."""
    seen: list[str] = []
    for m in msgs:
        if m not in seen:
            seen.append(m)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


# Key / value validation: kapi.meta.names, upstream's util/validation
def _key_error(key: str, path: str) -> str | None:
    errs = is_qualified_name(key)
    return _invalid(path, key, "; ".join(errs)) if errs else None


# ---------------------------------------------------------------------------
# Requirements
# ---------------------------------------------------------------------------

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INT64 = re.compile(r"^[+-]?[0-9]+$")


def _parse_int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64), None on error."""
    if not _INT64.match(s):
        return None
    n = int(s)
    return n if -(2**63) <= n < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One label requirement: key, upstream operator name, values (in given order)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        op, has = self.operator, self.key in labels
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if op == EXISTS:
            return has
        if op == DOES_NOT_EXIST:
            return not has
        if op in (GREATER_THAN, LESS_THAN) and has and len(self.values) == 1:
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        prefix = "!" if op == DOES_NOT_EXIST else ""
        if op in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        sym = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        vals = ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            vals = f"({vals})"
        return f"{self.key}{sym}{vals}"


def _check_values(op: str, vals: Sequence[str] | None) -> list[str]:
    n = len(vals or ())
    if op in (IN, NOT_IN) and n == 0:
        return [_invalid("values", vals, "for 'in', 'notin' operators, values set can't be empty")]
    if op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and n != 1:
        return [_invalid("values", vals, "exact-match compatibility requires one single value")]
    if op in (EXISTS, DOES_NOT_EXIST) and n != 0:
        return [_invalid("values", vals, "values set must be empty for exists and does not exist")]
    if op not in (GREATER_THAN, LESS_THAN):
        return []
    errs = [] if n == 1 else [_invalid("values", vals,
                                       "for 'Gt', 'Lt' operators, exactly one value is required")]
    for i, v in enumerate(vals or ()):
        if _parse_int64(v) is None:
            errs.append(_invalid(f"values[{i}]", v,
                                 "for 'Gt', 'Lt' operators, the value must be an integer"))
    return errs


def new_requirement(key: str, op: str, values: Sequence[str] | None) -> Requirement:
    """labels.NewRequirement: validate key, operator arity and every value.

    `values=None` stands for a nil Go slice (it only changes how errors print).
    """
    errs = [e for e in [_key_error(key, "key")] if e]
    errs += _check_values(op, values)
    for i, v in enumerate(values or ()):
        problems = is_label_value(v)
        if problems:
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(problems)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, op, tuple(values or ()))


# ---------------------------------------------------------------------------
# Label selectors
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelSelector:
    """AND of requirements. `match_nothing` is upstream's labels.Nothing()."""

    requirements: tuple[Requirement, ...] = ()
    match_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.match_nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (Everything())."""
        return not self.match_nothing and not self.requirements

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (=, == or a one-value `in`), else None."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> LabelSelector:
    return LabelSelector()


def nothing() -> LabelSelector:
    return LabelSelector(match_nothing=True)


def _sorted_by_key(reqs: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(reqs, key=lambda r: r.key))


class _Tok(IntEnum):
    ERROR = 0
    END = 1
    CLOSE_PAR = 2
    COMMA = 3
    NOT = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER = 7
    IDENT = 8
    IN = 9
    LESS = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_STRING_TO_TOKEN = {")": _Tok.CLOSE_PAR, ",": _Tok.COMMA, "!": _Tok.NOT, "==": _Tok.DOUBLE_EQUALS,
                    "=": _Tok.EQUALS, ">": _Tok.GREATER, "in": _Tok.IN, "<": _Tok.LESS,
                    "!=": _Tok.NOT_EQUALS, "notin": _Tok.NOT_IN, "(": _Tok.OPEN_PAR}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_IDENT_STOP = _SPECIAL | _WHITESPACE | {"\0"}


class _Lexer:
    """Upstream's byte lexer; a NUL character ends the input, as in Go."""

    def __init__(self, s: str) -> None:
        self.s, self.pos = s, 0

    def _read(self) -> str:
        ch = self.s[self.pos] if self.pos < len(self.s) else "\0"
        self.pos += 1
        return ch

    def lex(self) -> tuple[_Tok, str]:
        ch = self._read()
        while ch in _WHITESPACE:
            ch = self._read()
        if ch == "\0":
            return _Tok.END, ""
        self.pos -= 1
        return self._special() if ch in _SPECIAL else self._ident()

    def _ident(self) -> tuple[_Tok, str]:
        start = self.pos
        while self.pos < len(self.s) and self.s[self.pos] not in _IDENT_STOP:
            self.pos += 1
        lit = self.s[start:self.pos]
        if self.pos < len(self.s) and self.s[self.pos] == "\0":
            self.pos += 1  # Go consumes the NUL that ends an identifier
        return _STRING_TO_TOKEN.get(lit, _Tok.IDENT), lit

    def _special(self) -> tuple[_Tok, str]:
        buf, last = "", None
        while self.pos < len(self.s) and self.s[self.pos] in _SPECIAL:
            buf += self.s[self.pos]
            if buf in _STRING_TO_TOKEN:
                last = (_STRING_TO_TOKEN[buf], buf)
            elif last is not None:
                break
            self.pos += 1
        if last is None:
            return _Tok.ERROR, f"error expected: keyword found '{buf}'"
        return last


def _scan(s: str) -> list[tuple[_Tok, str]]:
    lexer, items = _Lexer(s), []
    while True:
        tok, lit = lexer.lex()
        items.append((tok, lit))
        if tok == _Tok.END:
            return items


class _Parser:
    """Mirror of upstream's recursive-descent parser (labels/selector.go)."""

    def __init__(self, s: str) -> None:
        self.items, self.pos = _scan(s), 0

    def _peek(self, values: bool = True) -> tuple[_Tok, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.IDENT
        return tok, lit

    def _next(self, values: bool = True) -> tuple[_Tok, str]:
        item = self._peek(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok == _Tok.END:
                return reqs
            if tok not in (_Tok.IDENT, _Tok.NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self._requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e.message}") from None
            tok, lit = self._next()
            if tok == _Tok.END:
                return reqs
            if tok != _Tok.COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self._peek()
            if tok2 not in (_Tok.IDENT, _Tok.NOT):
                raise SelectorError(f"found '{lit2}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, op = self._key_and_inferred_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, op, [])
        op = self._operator()
        values = self._values() if op in (IN, NOT_IN) else self._exact_value()
        return new_requirement(key, op, sorted(values))

    def _key_and_inferred_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self._next()
        if tok == _Tok.NOT:
            op = DOES_NOT_EXIST
            tok, lit = self._next()
        if tok != _Tok.IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        err = _key_error(lit, "<nil>")
        if err:
            raise SelectorError(err)
        if self._peek()[0] in (_Tok.END, _Tok.COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def _operator(self) -> str:
        tok, lit = self._next(values=False)
        ops = {_Tok.IN: IN, _Tok.EQUALS: EQUALS, _Tok.DOUBLE_EQUALS: DOUBLE_EQUALS,
               _Tok.GREATER: GREATER_THAN, _Tok.LESS: LESS_THAN, _Tok.NOT_IN: NOT_IN,
               _Tok.NOT_EQUALS: NOT_EQUALS}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def _values(self) -> set[str]:
        tok, lit = self._next()
        if tok != _Tok.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok == _Tok.CLOSE_PAR:
            self._next()
            return {""}
        if tok not in (_Tok.IDENT, _Tok.COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self._identifiers()
        if self._next()[0] != _Tok.CLOSE_PAR:
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._next()
            if tok == _Tok.IDENT:
                values.add(lit)
                tok2, lit2 = self._peek()
                if tok2 == _Tok.CLOSE_PAR:
                    return values
                if tok2 != _Tok.COMMA:
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == _Tok.COMMA:  # "(,", ",," and ",)" each add the empty value
                if not values:
                    values.add("")
                tok2 = self._peek()[0]
                if tok2 == _Tok.CLOSE_PAR:
                    values.add("")
                    return values
                if tok2 == _Tok.COMMA:
                    self._next()
                    values.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_Tok.END, _Tok.COMMA):
            return {""}
        tok, lit = self._next()
        if tok == _Tok.IDENT:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(s: str) -> LabelSelector:
    """labels.Parse: `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1`; "" selects everything."""
    return LabelSelector(_sorted_by_key(_Parser(s).parse()))


_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS,
                         "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(d: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector for a JSON metav1.LabelSelector.

    None selects nothing; {} (no matchLabels, no matchExpressions) selects everything.
    """
    if d is None:
        return nothing()
    match_labels: Mapping[str, str] = d.get("matchLabels") or {}
    expressions: Sequence[Mapping[str, Any]] = d.get("matchExpressions") or []
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in sorted(match_labels.items())]
    for expr in expressions:
        op = _EXPRESSION_OPERATORS.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"{go_quote(str(expr.get('operator', '')))} is not a valid "
                                "label selector operator")
        values = list(expr.get("values") or []) or None  # Go: append([]string(nil), ...)
        reqs.append(new_requirement(expr.get("key", ""), op, values))
    return LabelSelector(_sorted_by_key(reqs))


# ---------------------------------------------------------------------------
# Field selectors
# ---------------------------------------------------------------------------

ALWAYS_SELECTABLE = ("metadata.name", "metadata.namespace")


def escape_field_value(s: str) -> str:
    """fields.EscapeValue: backslash-escape \\ , and =."""
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(s: str) -> str:
    """fields.UnescapeValue, with upstream's two error messages."""
    out, in_slash = [], False
    for ch in s:
        if in_slash:
            if ch not in "\\,=":
                raise SelectorError("invalid field selector: invalid escape sequence: \\" + ch)
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":  # upstream prints the rune with %v, i.e. its code point
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(s: str) -> list[str]:
    """Split on unescaped commas, keeping escapes in the terms."""
    if not s:
        return []
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(s):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


@dataclass(frozen=True)
class FieldRequirement:
    """field <operator> value, operator "=" (also for "==") or "!=" as upstream reports."""

    field: str
    operator: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        equal = field_value(obj, self.field) == self.value
        return equal if self.operator == "=" else not equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """AND of field requirements, in upstream's (sorted-term) order."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal (e.g. metadata.name to narrow a look-up), else None."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _unsupported(field: str, extra: set[str]) -> SelectorError:
    if extra:  # the kind registers a field label conversion function
        return SelectorError(f"field label not supported: {field}")
    return SelectorError(f"{go_quote(field)} is not a known field selector: only "
                         '"metadata.name", "metadata.namespace"')


def parse_field_selector(s: str, allowed: Iterable[str]) -> FieldSelector:
    """fields.ParseSelector, then upstream's per-kind field label check.

    `allowed` is the kind's extra selectable fields (Resource.field_selectors);
    metadata.name and metadata.namespace are always allowed. Kinds with no extra fields
    get the scheme's default message, others "field label not supported: <field>".
    """
    parsed: list[FieldRequirement] = []
    for part in sorted(_split_terms(s)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{part}'")
        lhs, op, rhs = split
        parsed.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", unescape_field_value(rhs)))
    extra = set(allowed) - set(ALWAYS_SELECTABLE)
    for r in parsed:
        if r.field not in extra and r.field not in ALWAYS_SELECTABLE:
            raise _unsupported(r.field, extra)
    return FieldSelector(tuple(parsed))


# Fields upstream reads through strconv.FormatBool of a non-pointer bool: absent is "false".
_FALSE_WHEN_ABSENT = frozenset({"spec.hostNetwork", "spec.unschedulable"})
# Selector names that do not follow the JSON path of the object.
_FIELD_PATHS = {"source": "source.component"}  # core/v1 Event: source means source.component


def _lookup(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """The string a field selector compares against, as upstream's GetAttrs produce it."""
    value = _lookup(obj, _FIELD_PATHS.get(field, field))
    if not value and field == "source":  # an event with no source names its reporter
        value = _lookup(obj, "reportingComponent")
    if value is None and field == "status.podIP":
        ips = _lookup(obj, "status.podIPs") or []
        value = ips[0].get("ip") if ips and isinstance(ips[0], Mapping) else None
    if value is None:
        return "false" if field in _FALSE_WHEN_ABSENT else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    return ""
