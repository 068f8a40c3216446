"""Small pieces of controller I/O that several controllers share: resolving a
controller reference against an informer cache (upstream's resolveControllerRef), and
writing a status that changed through the status subresource.

Never mutates cached objects; talks only to the API client and informer caches.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime.client.informer import Informer
from runtime.client.resources import GVR
from runtime.client.rest import ApiError, Client
from runtime.util.meta import meta

Obj = dict[str, Any]


def resolve_ref(informer: Informer, namespace: str | None, ref: Mapping[str, Any],
                kind: str | None = None) -> Obj | None:
    """The cached object `ref` names (of `kind`, if given), if its uid still matches."""
    if kind is not None and ref.get("kind") != kind:
        return None
    obj = informer.get(f"{namespace}/{ref.get('name')}")
    if obj is None or meta(obj).get("uid") != ref.get("uid"):
        return None
    return obj


async def patch_status_if_changed(client: Client, gvr: GVR, obj: Obj, status: Obj) -> None:
    """Merge-patch `status` into obj's status unless every field already has that value;
    an object deleted meanwhile is not an error."""
    old = obj.get("status") or {}
    if all(old.get(k) == v for k, v in status.items()):
        return
    try:
        await client.patch(gvr, meta(obj)["name"], {"status": status},
                           meta(obj).get("namespace"), subresource="status")
    except ApiError as e:
        if not e.not_found:
            raise
