"""events.k8s.io/v1 printer: the core/v1 event columns, read from the new field names.

Upstream prints both APIs from the same internal Event, so an events.k8s.io object is
mapped back to core/v1 field names (regarding -> involvedObject, note -> message,
deprecated* -> firstTimestamp/lastTimestamp/count/source, reportingController ->
reportingComponent) and printed by `core.event_row`.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers.common import Ctx, Obj, Printer
from kapi.printers.core import EVENT_COLUMNS, event_row

_RENAMES = {"regarding": "involvedObject", "note": "message", "deprecatedSource": "source",
            "deprecatedFirstTimestamp": "firstTimestamp",
            "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count",
            "reportingController": "reportingComponent"}


def as_core_event(ev: Obj) -> dict[str, Any]:
    """An events.k8s.io/v1 Event under core/v1 field names (core objects pass through)."""
    if "involvedObject" in ev:
        return dict(ev)
    return {_RENAMES.get(k, k): v for k, v in ev.items()}


def events_v1_row(ev: Obj, ctx: Ctx) -> list[Any]:
    return event_row(as_core_event(ev), ctx)


EVENT_V1 = Printer(EVENT_COLUMNS, events_v1_row)
