"""metadata.managedFields: who owns which fields, kept as upstream's field manager keeps it.

Owns: decoding and encoding the entries (manager, operation, apiVersion, time,
fieldsType FieldsV1, fieldsV1, subresource; sorted like upstream), the manager
identifiers (an Apply entry is one per manager and subresource, an Update entry one per
manager, apiVersion and subresource), the fields never owned (apiVersion, kind, name,
uid...), the fields a write through the main resource or /status never owns, capping
Update entries at 10 ("ancient-changes"), and `Tracker.update`: the bookkeeping of an
Update operation (create, update and every non-apply patch). Server-side apply itself is
kapi.patch.apply. Pure over dicts; never touches HTTP or storage.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from kapi.patch.managedfields_set import (
    EMPTY,
    FieldsError,
    FieldSet,
    Path,
    from_fields_v1,
    to_fields_v1,
    under,
    without_prefixes,
)
from kapi.patch.managedfields_walk import compare, created_fields
from kapi.validation.typeinfo import TypeNode, Types

Obj = dict[str, Any]
APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT = "ancient-changes"
STATUS: Path = ("f:status",)
# Paths no manager ever owns (upstream's stripMetaManager).
STRIPPED: FieldSet = frozenset({
    ("f:apiVersion",), ("f:kind",), ("f:metadata",), ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"), ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:selfLink"), ("f:metadata", "f:uid"), ("f:metadata", "f:clusterName"),
    ("f:metadata", "f:generation"), ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:resourceVersion")})

Ident = tuple[str, str, str, str]  # (manager, operation, apiVersion or "" for Apply, subresource)


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet
    # the decoded wire entry, reused by encode() while the entry is unchanged, and the
    # FieldsV1 of `fields` when known (encoding it is the costly part)
    raw: Obj | None = field(default=None, compare=False, repr=False)
    fields_v1: Obj | None = field(default=None, compare=False, repr=False)

    @property
    def ident(self) -> Ident:
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)


Managers = dict[Ident, Entry]


def ident(manager: str, operation: str, api_version: str, subresource: str) -> Ident:
    return (manager, operation, "" if operation == APPLY else api_version, subresource)


def describe(i: Ident) -> str:
    """printManager: `"kubectl" with subresource "status" using apps/v1`."""
    manager, operation, version, sub = i
    text = f'"{manager}"'
    if sub:
        text += f' with subresource "{sub}"'
    if operation == UPDATE:
        text += f" using {version}"
    return text


# -- decode / encode ---------------------------------------------------------------------
def decode(entries: Any) -> Managers:
    """Managers from metadata.managedFields; FieldsError when malformed."""
    out: Managers = {}
    for i, e in enumerate(entries or ()):
        if not isinstance(e, dict):
            raise FieldsError("managedFields entries must be objects")
        op = e.get("operation")
        if op not in (APPLY, UPDATE):
            raise FieldsError("operation must be `Apply` or `Update`")
        if not e.get("apiVersion"):
            raise FieldsError("apiVersion must not be empty")
        if e.get("fieldsType") != "FieldsV1":
            raise FieldsError(f"invalid fieldsType in managed fields entry {i}")
        entry = Entry(str(e.get("manager") or ""), op, e["apiVersion"],
                      str(e.get("subresource") or ""), e.get("time"),
                      from_fields_v1(e.get("fieldsV1")), raw=e,
                      fields_v1=e.get("fieldsV1"))
        out[entry.ident] = entry
    return out


def encode(managers: Managers) -> list[Obj]:
    def order(e: Entry) -> tuple[Any, ...]:
        return (e.operation, e.time or "", e.manager, e.api_version, e.subresource)

    out = []
    for e in sorted(managers.values(), key=order):
        if e.raw is not None:  # unchanged since decode: its wire form still holds
            out.append(e.raw)
            continue
        entry: Obj = {"manager": e.manager, "operation": e.operation,
                      "apiVersion": e.api_version}
        if e.time:
            entry["time"] = e.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = e.fields_v1 if e.fields_v1 is not None else to_fields_v1(e.fields)
        if e.subresource:
            entry["subresource"] = e.subresource
        out.append(entry)
    return out


def is_reset(entries: Any) -> bool:
    """An update that sends [] (or [{}]) clears managedFields."""
    return isinstance(entries, list) and (not entries or entries == [{}])


def without_managed_fields(obj: Obj | None) -> Obj:
    """A shallow copy of obj with no metadata.managedFields (what the walks compare)."""
    if not obj:
        return {}
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def set_managed_fields(obj: Obj, managers: Managers) -> None:
    meta = obj.setdefault("metadata", {})
    if managers:
        meta["managedFields"] = encode(managers)
    else:
        meta.pop("managedFields", None)


def reset_filter(fields: FieldSet, subresource: str, has_status: bool) -> FieldSet:
    """What the write's strategy resets is never owned: status only through /status (for
    kinds with a status subresource), nothing else through it."""
    if subresource == "status":
        return under(fields, STATUS)
    if has_status:
        return without_prefixes(fields, (STATUS,))
    return fields


def owned_paths(fields: FieldSet, subresource: str, has_status: bool) -> FieldSet:
    """reset_filter, and never the stripped metadata (name, uid, ...)."""
    return reset_filter(fields - STRIPPED, subresource, has_status)


def cap_update_managers(managers: Managers) -> None:
    """Merge the oldest Update entries into "ancient-changes" until at most 10 remain."""
    updaters = [e for e in managers.values() if e.operation == UPDATE]
    excess = len(updaters) - MAX_UPDATE_MANAGERS
    if excess <= 0:
        return
    updaters.sort(key=lambda e: (e.time or "", e.manager))
    first_of_version: dict[str, Entry] = {}
    for e in updaters:
        if excess <= 0:
            break
        bucket = ident(ANCIENT, UPDATE, e.api_version, "")
        first = first_of_version.get(e.api_version)
        if first is None:
            first_of_version[e.api_version] = e
            continue
        if bucket not in managers:
            managers.pop(first.ident, None)
            managers[bucket] = replace(first, manager=ANCIENT, subresource="", raw=None, fields_v1=None)
        merged = managers[bucket].fields | e.fields
        managers[bucket] = replace(managers[bucket], fields=merged, time=e.time, raw=None, fields_v1=None)
        managers.pop(e.ident, None)
        excess -= 1


class Tracker:
    """The Update operation's bookkeeping, with the compiled types of every kind."""

    def __init__(self, types: Types) -> None:
        self.types = types
        self.memo: dict[bytes, Any] = {}  # remembered FieldsV1 subtrees of creates

    def node(self, definition: str) -> TypeNode | None:
        return self.types.of(definition) if definition else None

    def update(self, r: Any, new: Obj, old: Obj | None, *, manager: str, subresource: str,
               now: str) -> None:
        """Set new.metadata.managedFields after an Update by `manager` (old is None for a
        create). On any failure keep the live entries, as upstream's UpdateNoErrors."""
        node = self.node(r.definition)
        if node is None:
            return
        meta = new.get("metadata")
        if old is None and isinstance(meta, dict) and meta.get("managedFields") is None:
            self._create(r, node, new, manager, now)
            return
        try:
            managers = self._current(new, old, subresource)
            changed, removed = self._changes(node, new, old, subresource,
                                             r.subresource("status") is not None)
        except FieldsError:
            live = (old or {}).get("metadata", {}).get("managedFields")
            new.setdefault("metadata", {})["managedFields"] = copy.deepcopy(live)
            if live is None:
                new["metadata"].pop("managedFields")
            return
        i = ident(manager, UPDATE, r.api_version, subresource)
        before = managers.get(i)
        _take(managers, changed, removed)
        if changed:
            prev = managers.get(i)
            fields = changed | (prev.fields if prev else EMPTY)
            known = before.fields_v1 if before is not None and before.fields == fields else None
            managers[i] = Entry(manager, UPDATE, r.api_version, subresource, now, fields,
                                fields_v1=known)
        cap_update_managers(managers)
        set_managed_fields(new, managers)

    def _create(self, r: Any, node: TypeNode, new: Obj, manager: str, now: str) -> None:
        """A create that sent no managedFields: its manager owns all it set; the FieldsV1
        is built in one walk (the same set as update()'s comparison with nothing)."""
        try:
            fields_v1 = created_fields(node, without_managed_fields(new), self.memo)
        except FieldsError:
            return
        fields_v1.pop("f:apiVersion", None)
        fields_v1.pop("f:kind", None)
        if r.subresource("status") is not None:
            fields_v1.pop("f:status", None)
        meta = fields_v1.get("f:metadata")
        if meta is not None:
            for path in STRIPPED:
                if len(path) == 2:
                    meta.pop(path[1], None)
            meta.pop(".", None)
            if not meta:
                del fields_v1["f:metadata"]
        if fields_v1:  # encode() of its one Entry, without decoding fields_v1 to paths
            entry: Obj = {"manager": manager, "operation": UPDATE, "apiVersion": r.api_version}
            if now:
                entry["time"] = now
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = fields_v1
            new.setdefault("metadata", {})["managedFields"] = [entry]

    def _current(self, new: Obj, old: Obj | None, subresource: str) -> Managers:
        """decodeLiveOrNew: the request's entries unless absent (or a subresource write)."""
        live_entries = (old or {}).get("metadata", {}).get("managedFields")
        sent = (new.get("metadata") or {}).get("managedFields")
        if subresource or sent is None:
            return decode_or_empty(live_entries)
        if is_reset(sent):
            return {}
        try:
            managers = decode(sent)
        except FieldsError:
            managers = {}
        return managers or decode_or_empty(live_entries)

    def _changes(self, node: TypeNode, new: Obj, old: Obj | None, subresource: str,
                 has_status: bool) -> tuple[FieldSet, FieldSet]:
        c = compare(node, without_managed_fields(old), without_managed_fields(new))
        changed = owned_paths(frozenset(c.added | c.modified), subresource, has_status)
        removed = owned_paths(frozenset(c.removed), subresource, has_status)
        return changed, removed


def decode_or_empty(entries: Any) -> Managers:
    """Managers of stored entries; none when they cannot be decoded (as upstream)."""
    try:
        return decode(entries)
    except FieldsError:
        return {}


def _take(managers: Managers, changed: FieldSet, removed: FieldSet) -> None:
    """Updates take changed fields from everyone and drop removed ones (force)."""
    if not changed and not removed:
        return
    for i, e in list(managers.items()):
        left = e.fields - changed - removed
        if not left:
            del managers[i]
        elif left != e.fields:
            managers[i] = replace(e, fields=left, raw=None, fields_v1=None)
