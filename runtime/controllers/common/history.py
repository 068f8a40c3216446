"""The I/O half of ControllerRevision history for StatefulSets and DaemonSets: make
sure the revision for the parent's current template exists (reusing an equal one,
renumbered, as upstream does for a rollback), and delete revisions beyond
revisionHistoryLimit.

Writes only ControllerRevisions, only through the REST client; the decisions are the
pure functions of revisions.py. Never mutates cached objects.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from runtime.client.resources import CONTROLLERREVISIONS
from runtime.client.rest import ApiError, Client
from runtime.controllers.common import revisions as h
from runtime.util.meta import controller_uid, meta

log = logging.getLogger(__name__)

Obj = dict[str, Any]

MAX_COLLISIONS = 8  # bounded retries on a hash collision (each bumps collisionCount)


def owned_revisions(revisions: list[Obj], parent: Obj) -> list[Obj]:
    uid = meta(parent).get("uid")
    return [r for r in revisions if controller_uid(r) == uid]


async def ensure_update_revision(client: Client, parent: Obj, owned: list[Obj],
                                 owner_ref: Obj) -> tuple[Obj, int]:
    """(the revision of the current template, the collision count to record in status)."""
    collisions = int((parent.get("status") or {}).get("collisionCount") or 0)
    number = h.next_number(owned)
    for _ in range(MAX_COLLISIONS):
        wanted = h.new_revision(parent, owner_ref, number, collisions)
        equal = h.equal_revisions(owned, wanted)
        if equal:
            return await _reuse(client, equal[-1], owned, number), collisions
        try:
            return await client.create(CONTROLLERREVISIONS, wanted), collisions
        except ApiError as e:
            if not e.already_exists:
                raise
        existing = await client.get(CONTROLLERREVISIONS, wanted["metadata"]["name"],
                                    meta(parent).get("namespace"))
        if (controller_uid(existing) == meta(parent).get("uid")
                and h.canonical(existing.get("data")) == h.canonical(wanted["data"])):
            return existing, collisions
        collisions += 1
    raise RuntimeError(f"too many ControllerRevision hash collisions for {meta(parent)['name']}")


async def _reuse(client: Client, rev: Obj, owned: list[Obj], number: int) -> Obj:
    """An equal revision becomes the newest one (a rollback renumbers it)."""
    latest = h.sort_revisions(owned)[-1]
    if meta(latest)["name"] == meta(rev)["name"]:
        return rev
    updated = copy.deepcopy(rev)
    updated["revision"] = number
    return await client.update(CONTROLLERREVISIONS, updated)


def current_revision(owned: list[Obj], name: str | None, update: Obj) -> Obj:
    for r in owned:
        if name and meta(r)["name"] == name:
            return r
    return update


async def truncate_history(client: Client, owned: list[Obj], live_names: set[str],
                           limit: int) -> None:
    for r in h.revisions_to_truncate(owned, live_names, limit):
        try:
            await client.delete(CONTROLLERREVISIONS, meta(r)["name"], meta(r).get("namespace"))
        except ApiError as e:
            if not e.not_found:
                raise
