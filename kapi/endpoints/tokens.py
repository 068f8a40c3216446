"""serviceaccounts/token (TokenRequest) and tokenreviews (TokenReview): the two API
writes that mint and check service-account tokens; neither stores anything.

TokenRequest follows upstream's TokenREST (pkg/registry/core/serviceaccount/storage/
token.go): expirationSeconds defaults to 3600 and must be 600..2^32, is capped by
--service-account-max-token-expiration, a pod-bound request for the kubelet's 3607 s is
extended to a year with `warnafter` (--service-account-extend-token-expiration);
boundObjectRef names a Pod, Secret or Node that must exist (with its uid when given),
a pod running as that same service account. TokenReview answers who a token is.

Objects are read through the store (a TokenRequest for an object just created must
see it); this module never signs or verifies itself (kapi.auth.satokens does).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from kapi import errors
from kapi.auth import satokens
from kapi.auth.sakeys import KeySet
from kapi.endpoints import codec
from kapi.endpoints.handlers import Call
from kapi.meta import objects
from kapi.meta.resources import Scheme
from kapi.registry.store import Store

Obj = dict[str, Any]
GROUP_VERSION = "authentication.k8s.io/v1"
MIN_SECONDS, MAX_SECONDS, DEFAULT_SECONDS = 600, 1 << 32, 3600
_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


@dataclass(frozen=True)
class TokenSettings:
    keys: KeySet
    issuers: tuple[str, ...]  # the first signs; every one is accepted
    audiences: tuple[str, ...]  # the API server's own (--api-audiences)
    max_expiration: int = 0  # seconds; 0: no cap
    extend_expiration: bool = True


class TokenEndpoints:
    def __init__(self, *, store: Store, scheme: Scheme, settings: TokenSettings,
                 authenticator: satokens.ServiceAccountTokens,
                 clock: Callable[[], dt.datetime]) -> None:
        self.store, self.scheme, self.settings = store, scheme, settings
        self.authenticator, self.clock = authenticator, clock

    def serves(self, call: Call) -> bool:
        info = call.info
        return info.verb == "create" and (
            (info.resource, info.subresource, info.group) == ("serviceaccounts", "token", "")
            or (info.resource, info.group) == ("tokenreviews", "authentication.k8s.io"))

    async def create(self, call: Call) -> tuple[int, Obj]:
        body = codec.decode_object(call.body, call.content_type)
        if call.info.resource == "tokenreviews":
            return 201, await self.review(body)
        return 201, await self.token_request(call, body)

    # -- TokenRequest ---------------------------------------------------------------------
    async def token_request(self, call: Call, body: Obj) -> Obj:
        spec: Obj = body["spec"] if isinstance(body.get("spec"), dict) else {}
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_SECONDS if seconds is None else seconds
        self._validate(seconds)
        ns, name = call.info.namespace, call.info.name
        sa = await self._get("serviceaccounts", ns, name)
        bound = await self._bound(ns, name, spec.get("boundObjectRef"))
        audiences = list(spec.get("audiences") or self.settings.audiences)
        if self.settings.max_expiration and seconds > self.settings.max_expiration:
            seconds = self.settings.max_expiration
        exp, warn_after = seconds, 0
        if (self.settings.extend_expiration and "pod" in bound
                and seconds == satokens.WARN_ONLY_SECONDS
                and set(audiences) <= set(self.settings.audiences)):
            exp, warn_after = satokens.EXTENSION_SECONDS, seconds
        now = self.clock()
        claims = satokens.bound_claims(sa, now=now, expiration=exp, audiences=audiences,
                                       issuer=self.settings.issuers[0],
                                       warn_after=warn_after, **bound)
        expires = now.replace(microsecond=0) + dt.timedelta(seconds=seconds)
        spec_out = {"audiences": audiences, "expirationSeconds": seconds,
                    "boundObjectRef": spec.get("boundObjectRef")}
        return {"kind": "TokenRequest", "apiVersion": GROUP_VERSION,
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                "spec": spec_out,
                "status": {"token": satokens.sign(self.settings.keys, claims),
                           "expirationTimestamp": objects.rfc3339(expires)}}

    def _validate(self, seconds: Any) -> None:
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise errors.BadRequest("spec.expirationSeconds must be an integer")
        message = ("may not specify a duration less than 10 minutes" if seconds < MIN_SECONDS
                   else "may not specify a duration larger than 2^32 seconds"
                   if seconds > MAX_SECONDS else "")
        if message:  # upstream: NewInvalid(TokenRequest.authentication.k8s.io, "", errs)
            cause = errors.cause("spec.expirationSeconds", f"Invalid value: {seconds}: {message}")
            raise errors.Invalid(
                f'TokenRequest.authentication.k8s.io "" is invalid: {cause["field"]}: '
                f'{cause["message"]}', details={"group": "authentication.k8s.io",
                                                "kind": "TokenRequest", "causes": [cause]})

    async def _get(self, resource: str, ns: str | None, name: str) -> Obj:
        r = self.scheme.get("", "v1", resource)
        assert r is not None
        return await self.store.get(r, ns if r.namespaced else None, name)

    async def _bound(self, ns: str, sa_name: str, ref: Any) -> dict[str, Obj]:
        """The bound object(s) as bound_claims wants them: pod (and its node), secret or
        node."""
        if not ref:
            return {}
        if not isinstance(ref, dict):
            raise errors.BadRequest("spec.boundObjectRef must be an object")
        kind, api_version = ref.get("kind", ""), ref.get("apiVersion", "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if group or kind not in _BINDABLE:
            gv = api_version if "/" in api_version else f"/{api_version}"
            raise errors.BadRequest(f"cannot bind token to object of type {gv}, Kind={kind}")
        obj = await self._get(_BINDABLE[kind], ns, ref.get("name", ""))
        if ref.get("uid") and ref["uid"] != obj["metadata"].get("uid"):
            raise errors.Conflict(
                f'Operation cannot be fulfilled on {kind} "{ref.get("name")}": the UID in the '
                f"bound object reference ({ref['uid']}) does not match the UID in record. The "
                "object might have been deleted and then recreated")
        if kind != "Pod":
            return {kind.lower(): obj}
        if (obj.get("spec") or {}).get("serviceAccountName") != sa_name:
            raise errors.BadRequest(f'cannot bind token for serviceaccount "{sa_name}" to pod '
                                    "running with different serviceaccount name.")
        out = {"pod": obj}
        node_name = (obj.get("spec") or {}).get("nodeName")
        if node_name:  # the pod's node goes into the claims, for information
            try:
                out["node"] = await self._get("nodes", None, node_name)
            except errors.NotFound:
                pass
        return out

    # -- TokenReview ----------------------------------------------------------------------
    async def review(self, body: Obj) -> Obj:
        spec: Obj = body["spec"] if isinstance(body.get("spec"), dict) else {}
        token = spec.get("token") or ""
        if not token:
            raise errors.BadRequest("token is required for TokenReview in authentication")
        audiences = tuple(spec.get("audiences") or ())
        status: Obj = {"user": {}}
        try:
            if not self.authenticator.ours(token):
                raise satokens.TokenError("")
            result = await self.authenticator.verify(token, audiences)
        except satokens.TokenError as e:
            status["authenticated"] = False
            status["error"] = f"[invalid bearer token, {e}]" if str(e) else "invalid bearer token"
        else:
            u = result.user
            status = {"authenticated": True, "user": {
                "username": u.name, "uid": u.uid, "groups": list(u.groups),
                "extra": {k: list(v) for k, v in u.extra.items()}},
                "audiences": list(result.audiences)}
        meta = dict(body.get("metadata") or {})
        meta.setdefault("creationTimestamp", None)
        return {"kind": "TokenReview", "apiVersion": GROUP_VERSION, "metadata": meta,
                "spec": spec, "status": status}
