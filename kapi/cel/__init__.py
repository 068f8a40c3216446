"""CEL (the Common Expression Language) as Kubernetes uses it: compile an expression
once, evaluate it over JSON objects, get plain Python values back.

Shared by everything that evaluates CEL: admission (webhook matchConditions,
ValidatingAdmissionPolicy) and CustomResourceDefinitions (x-kubernetes-validations).
Evaluation is cel-python's (celpy: pure Python, maintained, the project's chosen CEL
library); this module adds the Kubernetes extension functions kapi supports
(kapi/cel/library.py) and hides celpy's types behind `compile` / `Program.evaluate`.

It owns no Kubernetes object semantics (which variables exist is the caller's business)
and never does I/O.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import celpy
from celpy import celtypes

from kapi.cel import library

__all__ = ["CELError", "Program", "compile", "to_cel", "to_python"]


class CELError(Exception):
    """An expression that does not compile, or an evaluation that failed (no such key,
    a type error, division by zero); str() is the reason."""


_ENV = celpy.Environment()


class Program:
    """One compiled expression; evaluate it as often as needed (it holds no state)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        try:
            ast = _ENV.compile(expression)
        except Exception as e:  # celpy raises its parse error (and a few others)
            raise CELError(_first_line(str(e)) or "syntax error") from None
        self._program = _ENV.program(ast, functions=library.FUNCTIONS)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """The value of the expression (plain Python) with these JSON variables; each
        variable is converted to CEL values here unless it already is one."""
        activation = {k: v if isinstance(v, _CEL_VALUES) else to_cel(v)
                      for k, v in variables.items()}
        try:
            result = self._program.evaluate(activation)
        except celpy.CELEvalError as e:
            raise CELError(_eval_reason(e)) from None
        except (TypeError, ValueError, KeyError, ZeroDivisionError) as e:
            raise CELError(str(e)) from None
        if isinstance(result, celpy.CELEvalError):
            raise CELError(_eval_reason(result))
        return to_python(result)


_CEL_VALUES = (celtypes.MapType, celtypes.ListType)


@lru_cache(maxsize=4096)
def compile(expression: str) -> Program:  # noqa: A001 (CEL's own word for it)
    """The compiled program of an expression (cached: policies re-evaluate the same few
    expressions on every write). Raises CELError when it does not compile."""
    return Program(expression)


def to_cel(value: Any) -> Any:
    """A JSON value (dicts, lists, str, int, float, bool, None) as CEL values."""
    return celpy.json_to_cel(value)


def to_python(value: Any) -> Any:
    """A CEL value back as JSON-like Python (bool before int: CEL's bool is not an int)."""
    if value is None or isinstance(value, celtypes.BoolType):
        return None if value is None else bool(value)
    if isinstance(value, celtypes.MapType):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (celtypes.ListType, list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.BytesType):
        return bytes(value)
    return value


def _eval_reason(e: Exception) -> str:
    args = getattr(e, "args", ())
    text = args[0] if args else str(e)
    return _first_line(str(text))


def _first_line(s: str) -> str:
    return s.strip().splitlines()[0] if s.strip() else ""
