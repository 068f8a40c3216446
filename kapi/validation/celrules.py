"""x-kubernetes-validations: the CEL rules of a structural schema, evaluated over a custom
resource (and over its previous state for transition rules, those that read oldSelf), with
upstream's messages: `spec: Invalid value: "object": <message>`, where the message is the
rule's message, its messageExpression's value, or `failed rule: <rule>`.

Old values are matched to new ones the way upstream correlates them: object fields by
name, map-list items by their keys; elsewhere a rule has no oldSelf and a transition rule
is skipped. Pure: no HTTP, no storage; CEL itself is kapi.cel.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from kapi.cel import interpreter as cel
from kapi.validation import field as f
from kapi.validation.field import FieldError
from kapi.validation.structural import path_of

Schema = dict[str, Any]
RULES = "x-kubernetes-validations"
_MISSING = object()
_OLD_SELF = re.compile(r"\boldSelf\b")
_REASONS = {"FieldValueForbidden": f.FORBIDDEN, "FieldValueRequired": f.REQUIRED,
            "FieldValueDuplicate": f.DUPLICATE, "FieldValueInvalid": f.INVALID}


def is_transition_rule(rule: str) -> bool:
    """Whether the rule reads oldSelf (judged on the compiled expression's variables)."""
    try:
        return "oldSelf" in cel.compile_expression(rule).variables
    except cel.CompileError:
        return bool(_OLD_SELF.search(rule))


def compile_problems(rule: dict[str, Any]) -> list[tuple[str, str]]:
    """(field of the rule, problem) for a rule whose rule or messageExpression does not
    compile."""
    out = []
    for key in ("rule", "messageExpression"):
        text = rule.get(key)
        if isinstance(text, str) and text:
            try:
                cel.compile_expression(text)
            except cel.CompileError as e:
                out.append((key, f"compilation failed: {e}"))
    return out


# has_rules answers, by schema node (kept alive here, so an id is never reused): schemas
# live as long as their definition is served, and the walk asks for every node each write
_HAS_RULES: dict[int, tuple[Any, bool]] = {}


def has_rules(schema: Any) -> bool:
    """Whether any node of the schema carries CEL rules (else validation skips the walk)."""
    if not isinstance(schema, dict):
        return False
    known = _HAS_RULES.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    subs = list((schema.get("properties") or {}).values())
    subs += [schema.get("items"), schema.get("additionalProperties")]
    found = bool(schema.get(RULES)) or any(has_rules(s) for s in subs)
    if len(_HAS_RULES) > 100_000:  # bounded: definitions come and go
        _HAS_RULES.clear()
    _HAS_RULES[id(schema)] = (schema, found)
    return found


def check(schema: Schema, new: Any, old: Any = _MISSING) -> list[FieldError]:
    """Every failed rule of new (old: the stored object on an update)."""
    return list(_walk(schema, new, old, []))


def _walk(schema: Any, new: Any, old: Any, steps: list[Any]) -> Iterator[FieldError]:
    if not isinstance(schema, dict):
        return
    for rule in schema.get(RULES) or ():
        err = _evaluate(schema, rule, new, old, steps)
        if err is not None:
            yield err
    if isinstance(new, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in new.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            if sub is not None and has_rules(sub):
                o = old.get(k, _MISSING) if isinstance(old, dict) else _MISSING
                yield from _walk(sub, v, o, [*steps, k])
    elif isinstance(new, list):
        items = schema.get("items")
        if not has_rules(items):
            return
        olds = _correlate(schema, old)
        keys = schema.get("x-kubernetes-list-map-keys") or []
        for i, v in enumerate(new):
            o = olds.get(_key(keys, v), _MISSING) if olds else _MISSING
            yield from _walk(items, v, o, [*steps, i])


def _key(keys: list[str], item: Any) -> str:
    return repr([item.get(k) for k in keys]) if isinstance(item, dict) else ""


def _correlate(schema: Schema, old: Any) -> dict[str, Any]:
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return {}
    keys = schema.get("x-kubernetes-list-map-keys") or []
    return {_key(keys, o): o for o in old}


def _evaluate(schema: Schema, rule: dict[str, Any], new: Any, old: Any,
              steps: list[Any]) -> FieldError | None:
    text = str(rule.get("rule") or "")
    transition = is_transition_rule(text)
    if transition and old is _MISSING:
        return None  # a transition rule judges a change; there is none on create
    variables = {"self": new}
    if transition:
        variables["oldSelf"] = old
    path = path_of([*steps, *_field_path(rule)])
    shown = str(schema.get("type") or "object")
    try:
        ok = cel.compile_expression(text).evaluate(variables)
    except (cel.CompileError, cel.EvalError) as e:
        return f.invalid(path, shown, f"{e} evaluating rule: {text}")
    if ok is True:
        return None
    message = _message(rule, variables) if ok is False else \
        f"rule did not evaluate to a bool: {text}"
    reason = _REASONS.get(str(rule.get("reason") or ""), f.INVALID)
    if reason == f.INVALID:
        return f.invalid(path, shown, message)
    return FieldError(reason, path, detail=message)


def _message(rule: dict[str, Any], variables: dict[str, Any]) -> str:
    expression = rule.get("messageExpression")
    if isinstance(expression, str) and expression:
        try:
            out = cel.compile_expression(expression).evaluate(variables)
            if isinstance(out, str) and out.strip():
                return out
        except (cel.CompileError, cel.EvalError):
            pass
    message = rule.get("message")
    if isinstance(message, str) and message:
        return message
    return f"failed rule: {rule.get('rule')}"


def _field_path(rule: dict[str, Any]) -> list[str]:
    """A rule's fieldPath (".spec.x" or ".items['a.b']") as path steps."""
    raw = str(rule.get("fieldPath") or "")
    return [s for s in re.split(r"\.|\['|'\]", raw) if s]
