"""Shared pieces of the server-side printers: columns, rows, time and label formatting.

Owns the building blocks every per-group printer module uses: the `Column` and `Printer`
types, upstream's `HumanDuration`, "<unknown>"/"<none>" conventions and the label and
container formatting helpers of pkg/printers/internalversion/printers.go.

Must never: do I/O, read the clock (callers pass `now`), or know about HTTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from kapi.meta.resources import Resource
from kapi.meta.selectors import SelectorError, label_selector_from_dict

Obj = Mapping[str, Any]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
CREATION_TIMESTAMP_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


@dataclass(frozen=True)
class Column:
    """A metav1.TableColumnDefinition; priority 1 columns are the `-o wide` ones."""

    name: str
    description: str = ""
    type: str = "string"
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME = Column("Name", NAME_DESCRIPTION, format="name")
AGE = Column("Age", CREATION_TIMESTAMP_DESCRIPTION)
CONTAINERS = Column("Containers", "Names of each container in the template.", priority=1)
IMAGES = Column("Images", "Images referenced by each container in the template.", priority=1)


@dataclass(frozen=True)
class Ctx:
    """What a row function may know besides the object."""

    now: dt.datetime
    resource: Resource


@dataclass
class Row:
    """Cells plus optional metav1.TableRowConditions (pods report Completed)."""

    cells: list[Any]
    conditions: list[dict[str, Any]] | None = None


RowFn = Callable[[Obj, Ctx], "Row | list[Any]"]


@dataclass(frozen=True)
class Printer:
    """Upstream's TableHandler: the column definitions and the function producing cells.

    Row functions always produce the wide cells: the API server prints with Wide=true
    and leaves hiding priority>0 columns to the client.
    """

    columns: tuple[Column, ...]
    row: RowFn = field(compare=False)


# ---------------------------------------------------------------------------
# Object access
# ---------------------------------------------------------------------------

def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Nested look-up that treats missing keys, None and short lists alike."""
    cur = obj
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or not -len(cur) <= p < len(cur):
                return default
            cur = cur[p]
        elif isinstance(cur, Mapping) and cur.get(p) is not None:
            cur = cur[p]
        else:
            return default
    return cur


def name(obj: Obj) -> str:
    return get(obj, "metadata", "name", default="")


def integer(obj: Obj, *path: str) -> int:
    """An int32/int64 field as the Go zero value would give it."""
    v = get(obj, *path, default=0)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def quantity(v: Any) -> str:
    """resource.Quantity.String() of a stored quantity (already canonical in JSON)."""
    if v is None:
        return "0"
    return str(v)


def go_bool(v: Any) -> str:
    """printBool: "True"/"False"."""
    return "True" if v else "False"


def bool_ptr(v: Any) -> str:
    """printBoolPtr: "<unset>" for a nil *bool."""
    return "<unset>" if v is None else go_bool(v)


# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------

def parse_time(s: Any) -> dt.datetime | None:
    """A metav1.Time / MicroTime string; None for null, empty or unparseable."""
    if not isinstance(s, str) or not s:
        return None
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration (~2-3 significant figures)."""
    s = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    return _human_days(hours)


def _human_days(hours: int) -> str:
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def since(ts: Any, now: dt.datetime) -> str:
    """translateTimestampSince: "<unknown>" for a zero time."""
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def duration_between(start: Any, end: Any) -> str:
    s, e = parse_time(start), parse_time(end)
    if s is None or e is None:
        return ""
    return human_duration((e - s).total_seconds())


def age(obj: Obj, ctx: Ctx) -> str:
    return since(get(obj, "metadata", "creationTimestamp"), ctx.now)


def rfc3339(ts: Any) -> str:
    """metav1.Time.UTC().Format(time.RFC3339); Go's zero time when unset."""
    t = parse_time(ts)
    if t is None:
        return "0001-01-01T00:00:00Z"
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Labels, selectors, containers
# ---------------------------------------------------------------------------

def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted k=v pairs, "<none>" when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: Mapping[str, Any] | None, *, invalid: str) -> str:
    """LabelSelectorAsSelector(...).String(); `invalid` when the selector does not parse."""
    try:
        return str(label_selector_from_dict(selector))
    except SelectorError:
        return invalid


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: "<error>" when invalid, "<none>" when empty or nil."""
    return selector_string(selector, invalid="<error>") or "<none>"


def layout_containers(containers: Sequence[Mapping[str, Any]] | None) -> tuple[str, str]:
    """layoutContainerCells: comma-joined names and images."""
    containers = containers or []
    names = ",".join(c.get("name", "") for c in containers)
    images = ",".join(c.get("image", "") for c in containers)
    return names, images


def template_containers(obj: Obj, *prefix: str) -> list[str]:
    """[CONTAINERS, IMAGES] cells of the pod template under spec(.prefix).template."""
    names, images = layout_containers(get(obj, "spec", *prefix, "template", "spec", "containers"))
    return [names, images]


def list_with_more(items: list[str], count: int, limit: int = 3, empty: str = "<unset>") -> str:
    """listWithMoreString: the first `limit` items, then "+ N more..."."""
    shown = ",".join(items[:limit])
    if count > limit:
        return f"{shown} + {count - limit} more..."
    return shown or empty
