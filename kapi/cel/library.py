"""The Kubernetes CEL extension functions kapi adds to standard CEL (upstream's
k8s.io/apiserver/pkg/cel/library and cel-go's strings extension): the string helpers
(lowerAscii, upperAscii, trim, split, join, replace, indexOf, lastIndexOf, substring)
and the list helpers (isSorted, sum, min, max, indexOf, lastIndexOf).

Each function takes and returns celpy values; member calls (`s.lowerAscii()`) receive
the target as the first argument. Pure; no I/O.
"""

from __future__ import annotations

from typing import Any, Callable

from celpy import celtypes

S = celtypes.StringType


def _index_of(target: Any, item: Any, start: Any = 0) -> Any:
    if isinstance(target, str):
        return celtypes.IntType(target.find(item, int(start)))
    for i, v in enumerate(target):
        if v == item:
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def _last_index_of(target: Any, item: Any) -> Any:
    if isinstance(target, str):
        return celtypes.IntType(target.rfind(item))
    for i in range(len(target) - 1, -1, -1):
        if target[i] == item:
            return celtypes.IntType(i)
    return celtypes.IntType(-1)


def _split(s: Any, sep: Any, n: Any = -1) -> Any:
    n = int(n)
    if n == 0:
        return celtypes.ListType([])
    parts = s.split(sep, n - 1) if n > 0 else s.split(sep)
    return celtypes.ListType([S(p) for p in parts])


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    return S(s[int(start):] if end is None else s[int(start):int(end)])


def _sum(items: Any) -> Any:
    total: Any = celtypes.IntType(0)
    for v in items:
        total = total + v
    return total


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: S(s.lower()),
    "upperAscii": lambda s: S(s.upper()),
    "trim": lambda s: S(s.strip()),
    "split": _split,
    "join": lambda items, sep="": S(str(sep).join(str(i) for i in items)),
    "replace": lambda s, old, new, n=-1: S(s.replace(old, new, int(n))),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "isSorted": lambda items: celtypes.BoolType(list(items) == sorted(items)),
    "sum": _sum,
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}
