"""`kapi secrets reencrypt`: every Secret read and written back unchanged through the API,
so that each is stored again with the API server's current writing provider after its
encryption configuration changed (encryption turned on, a new key put first), as
upstream's documented `kubectl get secrets -A -o json | kubectl replace -f -` does.

Through the API rather than the store, because then it works on any backend and with any
number of API servers while they serve, needs neither the data dir nor the keys, is held
to RBAC (list and update of secrets), and the server alone decides the key. An unchanged
write is stored again only when the stored value is stale (written by another provider:
kapi/registry/store.py), so a second run rewrites nothing. A Secret changed or deleted
meanwhile is skipped: whoever wrote it wrote it with the current key.

Never changes a Secret's content; never touches storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.client.resources import SECRETS
from runtime.client.rest import ApiError, Client

Obj = dict[str, Any]


@dataclass
class Result:
    rewritten: int = 0   # stored again (their value was stale)
    current: int = 0     # already stored with the writing provider: nothing written
    skipped: int = 0     # changed or deleted meanwhile (so written with the current key)

    def summary(self) -> str:
        return (f"{self.rewritten} Secrets rewritten, {self.current} already current, "
                f"{self.skipped} changed or deleted meanwhile")


async def reencrypt(client: Client, namespace: str | None = None, *,
                    page: int = 500) -> Result:
    """Rewrite every Secret (of `namespace`, or of all), a page of `page` at a time."""
    result = Result()
    cont = ""
    while True:
        params: dict[str, Any] = {"limit": page}
        if cont:
            params["continue"] = cont
        listing = await client.list(SECRETS, namespace, **params)
        for secret in listing.get("items") or []:
            await _rewrite(client, secret, result)
        cont = (listing.get("metadata") or {}).get("continue") or ""
        if not cont:
            return result


async def _rewrite(client: Client, secret: Obj, result: Result) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", **secret}
    before = secret["metadata"].get("resourceVersion")
    try:
        written = await client.update(SECRETS, secret)  # resourceVersion: no lost update
    except ApiError as e:
        if e.conflict or e.not_found:
            result.skipped += 1
            return
        raise
    if written["metadata"].get("resourceVersion") != before:
        result.rewritten += 1
    else:
        result.current += 1
