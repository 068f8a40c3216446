"""Tables of custom resources: Name, then a CustomResourceDefinition version's
additionalPrinterColumns (or Age when it declares none), each cell read with the column's
simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`,
`.status.conditions[?(@.type=="Ready")].status`) and typed as the column says (a date
column prints as an age, as upstream's tableconvertor does).

Must never: do I/O, read the clock (callers pass `now`), or know about HTTP.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import orjson

from kapi.printers import common
from kapi.printers.common import Column, Ctx, Obj, Printer

AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
       "description": common.CREATION_TIMESTAMP_DESCRIPTION}
_STEP = re.compile(r"""\.([^.\[]+)|\[(\d+|\*)\]|\[\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)\]""")


def printer(columns: list[dict[str, Any]] | None) -> Printer:
    """The Table printer of one version's additionalPrinterColumns."""
    cols = [c for c in (columns or [AGE]) if isinstance(c, dict)]
    heads = tuple(Column(str(c.get("name", "")), str(c.get("description") or
                         f"Custom resource definition column (in JSONPath format): "
                         f"{c.get('jsonPath', '')}"), type=str(c.get("type") or "string"),
                         priority=int(c.get("priority") or 0), format=str(c.get("format") or ""))
                  for c in cols)
    paths = [str(c.get("jsonPath") or "") for c in cols]
    types = [str(c.get("type") or "string") for c in cols]

    def row(obj: Obj, ctx: Ctx) -> list[Any]:
        cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        for path, kind in zip(paths, types, strict=True):
            found = list(find(obj, path))
            cells.append(cell(kind, found[0], ctx) if found else None)
        return cells

    return Printer((common.NAME, *heads), row)


def find(value: Any, path: str) -> Iterator[Any]:
    """The values a simple JSONPath (braces optional) selects in value."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    steps = [m for m in _STEP.finditer(path)]
    yield from _walk(value, steps)


def _walk(value: Any, steps: list[re.Match[str]]) -> Iterator[Any]:
    if not steps:
        yield value
        return
    m, rest = steps[0], steps[1:]
    name, index, key, wanted = m.groups()
    if name is not None:
        if isinstance(value, dict) and name in value:
            yield from _walk(value[name], rest)
    elif index is not None and isinstance(value, list):
        items = value if index == "*" else value[int(index):int(index) + 1]
        for v in items:
            yield from _walk(v, rest)
    elif key is not None and isinstance(value, list):
        for v in value:
            if isinstance(v, dict) and str(v.get(key)) == wanted:
                yield from _walk(v, rest)


def cell(kind: str, value: Any, ctx: Ctx) -> Any:
    """A found value as the column's type shows it."""
    if kind == "date":
        return common.since(value, ctx.now) if isinstance(value, str) else "<invalid>"
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value if isinstance(value, str) else str(value).lower() \
        if isinstance(value, bool) else str(value)
