"""The token controller (upstream's serviceaccount-token controller): a Secret of type
kubernetes.io/service-account-token whose annotation kubernetes.io/service-account.name
names a service account gets `token` (a legacy token signed with
--service-account-private-key-file), `ca.crt` (the cluster's root CA) and `namespace`,
and the annotation kubernetes.io/service-account.uid. Such a Secret whose service account
is gone (or was made again, with another uid) is deleted, as upstream does; its token
then stops authenticating.

Without a private key it does nothing (upstream does not start it). It never mutates
cached objects and never creates Secrets (since 1.24 upstream makes none by itself).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from runtime.client.resources import SECRETS, SERVICEACCOUNTS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.serviceaccount.controller import update_unless_gone
from runtime.controllers.serviceaccount.rootca import load_root_ca

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_KEY = "kubernetes.io/service-account.name"
UID_KEY = "kubernetes.io/service-account.uid"
_LEGACY = "kubernetes.io/serviceaccount/"


def legacy_token(key: Any, sa: Obj, secret_name: str) -> str:
    """A legacy token: upstream's LegacyClaims, RS256 with the key's id."""
    meta = sa["metadata"]
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    claims = {"iss": "kubernetes/serviceaccount", _LEGACY + "namespace": meta["namespace"],
              _LEGACY + "secret.name": secret_name,
              _LEGACY + "service-account.name": meta["name"],
              _LEGACY + "service-account.uid": meta.get("uid", ""),
              "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def filled(secret: Obj, sa: Obj, ca_pem: str, sign: Any) -> Obj | None:
    """The secret with what it lacks, or None when it has everything."""
    data = secret.get("data") or {}
    annotations = secret["metadata"].get("annotations") or {}
    ns = secret["metadata"]["namespace"]
    wanted = {"ca.crt": _b64(ca_pem), "namespace": _b64(ns)}
    if data.get("token") and all(data.get(k) == v for k, v in wanted.items()) and \
            annotations.get(UID_KEY) == sa["metadata"].get("uid"):
        return None
    new = copy.deepcopy(secret)
    new["data"] = dict(data, **wanted)
    if not data.get("token"):
        new["data"]["token"] = _b64(sign(sa, secret["metadata"]["name"]))
    new["metadata"]["annotations"] = dict(annotations, **{UID_KEY: sa["metadata"]["uid"]})
    return new


class TokenController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.client: Client = ctx.client
        path = ctx.options.service_account_private_key_file
        self.key = serialization.load_pem_private_key(Path(path).read_bytes(), None) \
            if path else None
        self.secrets = ctx.informers.get(SECRETS)
        self.accounts = ctx.informers.get(SERVICEACCOUNTS)
        self.controller = Controller("serviceaccount-token", self.reconcile, workers=2)
        self.ca_pem: str | None = None
        if self.key is None:
            log.info("serviceaccount-token: no --service-account-private-key-file, "
                     "not filling service-account token secrets")
            return
        self.secrets.add_handler(self._on_secret)
        self.accounts.add_handler(self._on_account)

    def _on_secret(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event != "delete" and new is not None and new.get("type") == TOKEN_TYPE:
            self.controller.enqueue(f"{new['metadata']['namespace']}/{new['metadata']['name']}")

    def _on_account(self, event: str, old: Obj | None, new: Obj | None) -> None:
        sa = new if new is not None else old
        assert sa is not None
        ns, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
        for s in self.secrets.list(ns):
            if s.get("type") == TOKEN_TYPE and \
                    (s["metadata"].get("annotations") or {}).get(NAME_KEY) == name:
                self.controller.enqueue(f"{ns}/{s['metadata']['name']}")

    async def reconcile(self, key: str) -> float | None:
        secret = self.secrets.get(key)
        if secret is None or secret.get("type") != TOKEN_TYPE or self.key is None:
            return None
        ns = secret["metadata"]["namespace"]
        annotations = secret["metadata"].get("annotations") or {}
        sa = await self._account(ns, annotations.get(NAME_KEY, ""), annotations.get(UID_KEY))
        if sa is None:  # the account is gone: so is its token
            try:
                await self.client.delete(SECRETS, secret["metadata"]["name"], ns)
                log.info("deleted token secret %s: its service account is gone", key)
            except ApiError as e:
                if not e.not_found:
                    raise
            return None
        if self.ca_pem is None:
            self.ca_pem = await load_root_ca(self.client, self.ctx.clock())
        new = filled(secret, sa, self.ca_pem,
                     lambda account, name: legacy_token(self.key, account, name))
        if new is not None:
            await update_unless_gone(self.client, SECRETS, new)
        return None

    async def _account(self, ns: str, name: str, uid: str | None) -> Obj | None:
        """The named account (the cache, then the API on a miss), if its uid matches."""
        sa = self.accounts.get(f"{ns}/{name}")
        if sa is None and name:
            try:
                sa = await self.client.get(SERVICEACCOUNTS, name, ns)
            except ApiError as e:
                if not e.not_found:
                    raise
        if sa is None or (uid and sa["metadata"].get("uid") != uid):
            return None
        return sa
