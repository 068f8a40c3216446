"""Server-side printing: objects to meta.k8s.io/v1 Tables, as kube-apiserver serves them
for `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what kubectl get asks for).

Owns: the Table envelope (metadata, columnDefinitions, rows, row objects per
includeObject) around the printer a resource's strategy names (kapi/printers; a resource
without one gets upstream's default convertor: NAME + "Created At" (type date, RFC3339
cell)), and the shape of Table watch events. Must never: do I/O, read the clock
(callers pass `now`), know about HTTP frameworks, or filter columns for the client.

Findings from upstream (k8s 1.33) that shape this module:
  * The API server always prints "wide" (pkg/printers/storage: GenerateOptions{Wide:
    true}): every column, priority 1 included, is defined and every row carries all
    cells. kubectl hides priority>0 columns unless `-o wide`.
  * includeObject (handlers/response.go asTable): "Metadata" (the default, also for "")
    puts a PartialObjectMetadata with the object's whole metadata in each row, "Object"
    the full object, "None" a null object. Any other value is a 400: "Unable to convert
    to Table as requested: includeObject: Unsupported value: ...".
  * Table metadata: for a list, the list's resourceVersion/continue/remainingItemCount;
    for a single object, the object's resourceVersion.
  * `columnDefinitions` and `rows` have no omitempty: without headers the JSON carries
    "columnDefinitions": null; the default convertor leaves rows null for an empty list
    (printers return []). Row "object" is null for includeObject=None.
  * Watch with as=Table (handlers/watch.go + response.go watchEmbeddedEncoder): every
    event's object is a Table holding exactly one row for that event's object. Column
    definitions go out on the FIRST event only; the encoder then sets
    TableOptions.NoHeaders=true, so every later event has "columnDefinitions": null. The
    flag flips after the first event whatever it was, even an ERROR whose metav1.Status
    object is passed through untransformed. kubectl get -w (tableprinter.go) keeps the
    last column definitions it saw and reuses them when an event carries none. Use
    `TableWatchEncoder` (or `watch_table_event(..., with_headers=first)`) for this.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Iterable, Mapping

from kapi.meta.resources import Resource
from kapi.printers.common import (
    CREATION_TIMESTAMP_DESCRIPTION,
    NAME,
    Column,
    Ctx,
    Obj,
    Printer,
    Row,
    get,
    human_duration,
    rfc3339,
)
from kapi.registry.kinds.base import strategy_of

__all__ = ["to_table", "watch_table_event", "TableWatchEncoder", "TableOptionsError",
           "human_duration", "printer_for", "column_definitions", "INCLUDE_OBJECT_POLICIES"]

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_OBJECT_POLICIES = ("", "Metadata", "None", "Object")

DEFAULT_COLUMNS = (NAME, Column("Created At", CREATION_TIMESTAMP_DESCRIPTION, type="date"))


class TableOptionsError(ValueError):
    """Table options upstream rejects with 400 BadRequest; `message` is upstream's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def printer_for(resource: Resource) -> Printer | None:
    """The printer the resource's strategy names, or None for the default convertor."""
    return strategy_of(resource).printer(resource)


def column_definitions(resource: Resource) -> list[dict[str, Any]]:
    printer = printer_for(resource)
    return [c.definition() for c in (printer.columns if printer else DEFAULT_COLUMNS)]


def _check_include_object(include_object: str) -> str:
    if include_object not in INCLUDE_OBJECT_POLICIES:
        allowed = ", ".join(f'"{p}"' for p in INCLUDE_OBJECT_POLICIES)
        raise TableOptionsError(
            "Unable to convert to Table as requested: includeObject: Unsupported value: "
            f'"{include_object}": supported values: {allowed}')
    return include_object or "Metadata"


def _row_object(obj: Obj, policy: str, api_version: str) -> dict[str, Any] | None:
    if policy == "None":
        return None
    if policy == "Object":
        return copy.deepcopy(dict(obj))
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version,
            "metadata": copy.deepcopy(dict(obj.get("metadata") or {}))}


def _default_row(obj: Obj, ctx: Ctx) -> list[Any]:
    return [get(obj, "metadata", "name", default=""),
            rfc3339(get(obj, "metadata", "creationTimestamp"))]


def _row(printer: Printer | None, obj: Obj, ctx: Ctx, policy: str,
         api_version: str) -> dict[str, Any]:
    produced = printer.row(obj, ctx) if printer else _default_row(obj, ctx)
    row = produced if isinstance(produced, Row) else Row(produced)
    out: dict[str, Any] = {"cells": row.cells}
    if row.conditions:
        out["conditions"] = row.conditions
    out["object"] = _row_object(obj, policy, api_version)
    return out


def _table_metadata(objects: list[Obj], list_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    if list_meta is None:
        rv = get(objects[0], "metadata", "resourceVersion") if len(objects) == 1 else None
        return {"resourceVersion": rv} if rv else {}
    meta: dict[str, Any] = {}
    for key in ("resourceVersion", "continue", "remainingItemCount"):
        if list_meta.get(key) not in (None, ""):
            meta[key] = list_meta[key]
    return meta


def to_table(resource: Resource, objects: Iterable[Obj], *, now: dt.datetime,
             include_object: str = "Metadata", list_meta: Mapping[str, Any] | None = None,
             with_headers: bool = True, api_version: str = TABLE_API_VERSION) -> dict[str, Any]:
    """Print `objects` (already in `resource`'s version) as a metav1.Table.

    Pass `list_meta` (the list's metadata) when printing a list; leave it None for a
    single object (a GET or a watch event), whose resourceVersion becomes the table's.
    `with_headers=False` is upstream's NoHeaders (later watch events). `api_version`
    is the negotiated Table group/version (meta.k8s.io/v1 or meta.k8s.io/v1beta1).
    Raises TableOptionsError for an unknown includeObject.
    """
    policy = _check_include_object(include_object)
    objects = list(objects)
    printer = printer_for(resource)
    ctx = Ctx(now=now, resource=resource)
    rows: list[dict[str, Any]] | None = [_row(printer, o, ctx, policy, api_version)
                                         for o in objects]
    if printer is None and not rows:
        rows = None  # the default convertor never allocates its rows slice
    columns = column_definitions(resource) if with_headers else None
    return {"kind": "Table", "apiVersion": api_version,
            "metadata": _table_metadata(objects, list_meta),
            "columnDefinitions": columns, "rows": rows}


def watch_table_event(resource: Resource, event_type: str, obj: Obj, *, now: dt.datetime,
                      include_object: str = "Metadata", with_headers: bool = False,
                      api_version: str = TABLE_API_VERSION) -> dict[str, Any]:
    """One watch event for an as=Table watch: {"type": ..., "object": <one-row Table>}.

    `with_headers` must be True for the first event of the stream only. A metav1.Status
    object (ERROR events) is passed through unchanged, as upstream does.
    """
    if obj.get("kind") == "Status":
        return {"type": event_type, "object": dict(obj)}
    table = to_table(resource, [obj], now=now, include_object=include_object,
                     with_headers=with_headers, api_version=api_version)
    return {"type": event_type, "object": table}


class TableWatchEncoder:
    """Encodes a watch stream's events as Tables, sending column definitions once.

    Validate options up front (the constructor raises TableOptionsError), then call
    `encode` for each event in order.
    """

    def __init__(self, resource: Resource, *, include_object: str = "Metadata",
                 api_version: str = TABLE_API_VERSION) -> None:
        _check_include_object(include_object)
        self.resource, self.include_object, self.api_version = resource, include_object, api_version
        self.headers_sent = False

    def encode(self, event_type: str, obj: Obj, *, now: dt.datetime) -> dict[str, Any]:
        event = watch_table_event(self.resource, event_type, obj, now=now,
                                  include_object=self.include_object,
                                  with_headers=not self.headers_sent,
                                  api_version=self.api_version)
        self.headers_sent = True
        return event
