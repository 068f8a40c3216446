"""The token cleaner (upstream's tokencleaner controller): deletes a bootstrap token's
Secret (kube-system, type bootstrap.kubernetes.io/token) once its `expiration` has
passed, with the Secret's uid as the delete precondition, and looks again at the
expiration time for one that has not. A token without an expiration lives until someone
deletes it. It reads Secrets from the shared informer and deletes nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from runtime.client.resources import SECRETS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler

Obj = dict[str, Any]
NAMESPACE = "kube-system"
TOKEN_TYPE = "bootstrap.kubernetes.io/token"


def expiration(secret: Obj) -> dt.datetime | None:
    """The token's expiration (None: never; an unreadable one counts as already past,
    as upstream's authenticator refuses such a token)."""
    raw = (secret.get("data") or {}).get("expiration")
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(base64.b64decode(raw).decode().replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


class TokenCleaner(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.client: Client = ctx.client
        self.clock = ctx.clock
        self.secrets = ctx.informers.get(SECRETS)
        self.controller = Controller("tokencleaner", self.reconcile, workers=1)
        self.secrets.add_handler(self._on_secret)

    def _on_secret(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and new.get("type") == TOKEN_TYPE and \
                new["metadata"].get("namespace") == NAMESPACE:
            self.controller.enqueue(new)

    async def reconcile(self, key: str) -> float | None:
        secret = self.secrets.get(key)
        if secret is None or secret.get("type") != TOKEN_TYPE:
            return None
        expires = expiration(secret)
        if expires is None:
            return None
        left = (expires - self.clock()).total_seconds()
        if left > 0:
            return left
        meta = secret["metadata"]
        try:
            await self.client.delete(SECRETS, meta["name"], NAMESPACE,
                                     preconditions={"uid": meta["uid"]})
        except ApiError as e:
            if e.code not in (404, 409):  # gone already, or replaced by a new one
                raise
        return None
