"""Moves objects stored under kapi's earlier key layout to upstream's, once, at start.

Earlier kapi stored every object at /registry/<group>/<resource>/… (and nodes,
services and endpoints under their resource names); the layout is now upstream's (see
Resource.key_prefix). A data dir written before the change would otherwise look empty.
Each object found at an old key is created at its new key with the same bytes, then
the old key is deleted (the object's resourceVersion changes; uid, creationTimestamp
and contents stay). A later start finds nothing to move, at one range read per resource
whose prefix changed.

Must never: touch a key of the current layout (under an old prefix that contains new
prefixes, e.g. /registry/services/, only keys of the old depth are moved), or decode
the objects.
"""

from __future__ import annotations

import logging

from kapi.meta.resources import Resource
from kapi.storage import KeyExists, KeyNotFound, Storage

log = logging.getLogger(__name__)


def legacy_prefix(r: Resource) -> str:
    g = r.stored_group
    return f"/registry/{g + '/' if g else ''}{r.resource}/"


async def move_legacy_keys(storage: Storage, resources: list[Resource]) -> int:
    """Returns how many objects moved."""
    moved = 0
    seen: set[str] = set()
    for r in resources:
        old = legacy_prefix(r)
        if old == r.key_prefix or old in seen:
            continue
        seen.add(old)
        depth = 2 if r.namespaced else 1  # namespace/name or name
        start = ""
        while True:
            page = await storage.list(old, start_after=start, limit=500)
            for kv in page.items:
                rest = kv.key[len(old):]
                if rest.count("/") + 1 != depth:
                    continue  # a key of the current layout below the old prefix
                try:
                    await storage.create(r.key_prefix + rest, kv.value)
                except KeyExists:
                    pass  # moved before, the delete did not happen: keep the new one
                try:
                    await storage.delete(kv.key, expected_revision=kv.mod_revision)
                except KeyNotFound:
                    pass
                moved += 1
            if not page.more:
                break
            start = page.items[-1].key
    if moved:
        log.warning("moved %d objects from kapi's earlier storage keys to upstream's", moved)
    return moved
