"""CEL (Common Expression Language) for the API server: compile an expression once,
evaluate it over plain JSON values many times.

Used by CustomResourceDefinition validation rules (x-kubernetes-validations) and meant
for admission policies too. The library is cel-python (celpy): pure Python, maintained,
and the one whose macros (has, all, exists, exists_one, map, filter) and string functions
match cel-go's for what Kubernetes rules write. Compiled programs are cached by their
source text, so a rule costs its parse once per server.

It must never import from the rest of kapi, touch HTTP or storage, or raise anything but
the two errors below: callers turn them into field errors.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

# celpy logs every evaluation step at DEBUG and warns while building its parser
logging.getLogger("celpy").setLevel(logging.WARNING)
logging.getLogger("lark").setLevel(logging.ERROR)

import celpy  # noqa: E402
from celpy import celtypes  # noqa: E402

__all__ = ["CompileError", "EvalError", "Program", "compile_expression", "to_cel", "to_python"]


class CompileError(ValueError):
    """The expression does not parse (the text is cel-python's, as a one-line reason)."""


class EvalError(ValueError):
    """Evaluating the expression failed (no such key, a wrong type, ...)."""


_ENV: celpy.Environment | None = None


def _env() -> celpy.Environment:
    global _ENV  # built once: building the grammar costs about a tenth of a second
    if _ENV is None:
        _ENV = celpy.Environment()
    return _ENV


class Program:
    """One compiled expression."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            ast = _env().compile(source)
        except celpy.CELParseError as e:
            raise CompileError(" ".join(str(e).split())) from None
        self._runner = _env().program(ast)

    def evaluate(self, variables: dict[str, Any]) -> Any:
        """The expression's value (as plain Python) with these variables, given as plain
        JSON values."""
        activation = {k: to_cel(v) for k, v in variables.items()}
        try:
            result = self._runner.evaluate(activation)
        except celpy.CELEvalError as e:
            raise EvalError(_eval_message(e)) from None
        except (TypeError, ValueError, KeyError, ZeroDivisionError) as e:
            raise EvalError(str(e)) from None
        if isinstance(result, celpy.CELEvalError):
            raise EvalError(_eval_message(result))
        return to_python(result)


def _eval_message(e: Exception) -> str:
    args = [a for a in e.args if a is not None and not isinstance(a, type)]
    return str(args[0]) if args else type(e).__name__


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> Program:
    """The compiled program of source (cached); CompileError when it does not parse."""
    return Program(source)


def to_cel(value: Any) -> Any:
    """A JSON value as CEL values (objects become maps with string keys)."""
    return celpy.json_to_cel(value)


def to_python(value: Any) -> Any:
    """A CEL result as plain Python (bool, int, float, str, list, dict, None)."""
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.ListType):
        return [to_python(v) for v in value]
    if isinstance(value, celtypes.MapType):
        return {to_python(k): to_python(v) for k, v in value.items()}
    return value
