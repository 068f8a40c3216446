"""CEL (the Common Expression Language) as Kubernetes uses it: compile an expression
once, evaluate it over JSON objects, get plain Python values back.

One engine for everything that evaluates CEL: admission (webhook matchConditions,
ValidatingAdmissionPolicy) and CustomResourceDefinitions (x-kubernetes-validations).
kapi.cel.interpreter holds it (common-expression-language, with the Kubernetes
extension functions of kapi.cel.library); this module is the name callers use.

It owns no Kubernetes object semantics (which variables exist is the caller's business)
and never does I/O.
"""

from __future__ import annotations

from kapi.cel.interpreter import CELError, CompileError, EvalError, Program, compile_expression

__all__ = ["CELError", "CompileError", "EvalError", "Program", "compile"]


def compile(expression: str) -> Program:  # noqa: A001 (CEL's own word for it)
    """The compiled program of an expression (cached: policies re-evaluate the same few
    expressions on every write). Raises CELError when it does not compile."""
    return compile_expression(expression)
