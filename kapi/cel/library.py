"""The Kubernetes CEL extension functions kapi adds to standard CEL (upstream's
k8s.io/apiserver/pkg/cel/library and cel-go's strings extension): the string helpers
(lowerAscii, upperAscii, trim, split, join, replace, indexOf, lastIndexOf, substring)
and the list helpers (isSorted, sum, min, max, indexOf, lastIndexOf).

Each function takes and returns plain Python values (the CEL library converts them);
member calls (`s.lowerAscii()`) receive the target as the first argument. Pure; no I/O.
"""

from __future__ import annotations

from typing import Any, Callable


def _index_of(target: Any, item: Any, start: Any = 0) -> int:
    if isinstance(target, str):
        return target.find(item, int(start))
    for i, v in enumerate(target):
        if v == item:
            return i
    return -1


def _last_index_of(target: Any, item: Any) -> int:
    if isinstance(target, str):
        return target.rfind(item)
    for i in range(len(target) - 1, -1, -1):
        if target[i] == item:
            return i
    return -1


def _split(s: str, sep: str, n: Any = -1) -> list[str]:
    n = int(n)
    if n == 0:
        return []
    return s.split(sep, n - 1) if n > 0 else s.split(sep)


def _substring(s: str, start: Any, end: Any = None) -> str:
    return s[int(start):] if end is None else s[int(start):int(end)]


def _sum(items: Any) -> Any:
    total: Any = 0
    for v in items:
        total = total + v
    return total


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": _split,
    "join": lambda items, sep="": str(sep).join(str(i) for i in items),
    "replace": lambda s, old, new, n=-1: s.replace(old, new, int(n)),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "isSorted": lambda items: list(items) == sorted(items),
    "sum": _sum,
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}
