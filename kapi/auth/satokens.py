"""Service-account tokens: the claims they carry, signing them, and the authenticator.

Owns upstream's token format (pkg/serviceaccount/claims.go and legacy.go): a bound token
has iss, sub `system:serviceaccount:NS:NAME`, aud, exp, iat, nbf, jti and the
`kubernetes.io` claim (namespace, serviceaccount, pod/secret/node {name, uid}, warnafter);
a legacy token (a Secret's) has the `kubernetes.io/serviceaccount/...` claims and the
issuer `kubernetes/serviceaccount`. A token authenticates while its signature, expiry and
audience hold and while the service account, and the object it is bound to, still exist
with the uids it names.

Objects are read through an injected `Lookup` (the watch cache), never the handlers, and
time through an injected clock.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import jwt
from starlette.requests import HTTPConnection

from kapi import errors
from kapi.auth import User
from kapi.auth.sakeys import ALGORITHM, KeySet

Obj = dict[str, Any]
# (resource, namespace, name) -> the object: the watch cache, then storage on a miss
Lookup = Callable[[str, str, str], Awaitable[Obj | None]]
Clock = Callable[[], dt.datetime]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
WARN_ONLY_SECONDS = 3607  # what the kubelet asks for: such tokens may be extended
EXTENSION_SECONDS = 365 * 24 * 3600
LEEWAY = 60  # seconds: go-jose's DefaultLeeway, and how late a deletion still counts
EXTRA = "authentication.kubernetes.io/"
_LEGACY = "kubernetes.io/serviceaccount/"


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def user_of(namespace: str, name: str, uid: str, extra: dict[str, tuple[str, ...]]) -> User:
    return User(username(namespace, name),
                ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                 "system:authenticated"), uid, extra)


def _ref(obj: Obj) -> dict[str, str]:
    return {"name": obj["metadata"]["name"], "uid": obj["metadata"].get("uid", "")}


def bound_claims(sa: Obj, *, now: dt.datetime, expiration: int, audiences: list[str],
                 issuer: str, pod: Obj | None = None, secret: Obj | None = None,
                 node: Obj | None = None, warn_after: int = 0) -> Obj:
    """The claims of a TokenRequest's token (upstream's serviceaccount.Claims)."""
    iat = int(now.timestamp())
    k8s: Obj = {"namespace": sa["metadata"]["namespace"], "serviceaccount": _ref(sa)}
    for key, obj in (("pod", pod), ("secret", secret), ("node", node)):
        if obj is not None:
            k8s[key] = _ref(obj)
    if warn_after:
        k8s["warnafter"] = iat + warn_after
    return {"aud": audiences, "exp": iat + expiration, "iat": iat, "iss": issuer,
            "jti": str(uuid.uuid4()), "kubernetes.io": k8s, "nbf": iat,
            "sub": username(sa["metadata"]["namespace"], sa["metadata"]["name"])}


def legacy_claims(sa: Obj, secret_name: str) -> Obj:
    """The claims of a legacy Secret token (upstream's LegacyClaims)."""
    meta = sa["metadata"]
    return {"iss": LEGACY_ISSUER, _LEGACY + "namespace": meta["namespace"],
            _LEGACY + "secret.name": secret_name,
            _LEGACY + "service-account.name": meta["name"],
            _LEGACY + "service-account.uid": meta.get("uid", ""),
            "sub": username(meta["namespace"], meta["name"])}


def sign(keys: KeySet, claims: Obj) -> str:
    return jwt.encode(claims, keys.signing, algorithm=ALGORITHM, headers={"kid": keys.kid})


class TokenError(Exception):
    """A token of ours that does not authenticate; str() is upstream's reason."""


@dataclass(frozen=True)
class Result:
    user: User
    audiences: tuple[str, ...]


def _deleted_long_ago(obj: Obj, now: dt.datetime) -> bool:
    ts = obj["metadata"].get("deletionTimestamp")
    return bool(ts) and dt.datetime.fromisoformat(ts.replace("Z", "+00:00")) < \
        now - dt.timedelta(seconds=LEEWAY)


class ServiceAccountTokens:
    """Verifies service-account tokens (bound and legacy) into Users."""

    def __init__(self, *, keys: KeySet, issuers: tuple[str, ...], audiences: tuple[str, ...],
                 lookup: Lookup, clock: Clock) -> None:
        self.keys, self.issuers, self.audiences = keys, issuers, audiences
        self.lookup, self.clock = lookup, clock

    def ours(self, token: str) -> bool:
        """Whether the token is a JWT one of our issuers made (else: not our kind)."""
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return False
        return iss == LEGACY_ISSUER or iss in self.issuers

    async def verify(self, token: str, audiences: tuple[str, ...] = ()) -> Result:
        """The user a token of ours names (raises TokenError with upstream's reason)."""
        claims = self._signed_claims(token)
        token_auds = claims.get("aud") or []
        token_auds = [token_auds] if isinstance(token_auds, str) else list(token_auds)
        wanted = audiences or self.audiences
        auds = tuple(a for a in wanted if a in (token_auds or self.audiences))
        if not auds:
            raise TokenError(f"token audiences {_go_list(token_auds)} is invalid for the "
                             f"target audiences {_go_list(list(wanted))}")
        if claims.get("iss") == LEGACY_ISSUER:  # no audience: the API server's own
            return Result(await self._legacy_user(token, claims), auds)
        return Result(await self._bound_user(claims), auds)

    def _signed_claims(self, token: str) -> Obj:
        failure: Exception = TokenError("go-jose/go-jose: error in cryptographic primitive")
        for public in self.keys.verifying:
            try:
                # time is checked below against the injected clock, audience by verify
                return dict(jwt.decode(token, public, algorithms=[ALGORITHM], options={
                    "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                    "verify_aud": False}))
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as e:
                failure = TokenError(str(e))
                break
        raise failure

    def _check_time(self, claims: Obj) -> None:
        now = self.clock().timestamp()
        if "exp" in claims and now > claims["exp"] + LEEWAY:
            raise TokenError("service account token has expired")
        if "nbf" in claims and now < claims["nbf"] - LEEWAY:
            raise TokenError("service account token is not valid yet")
        if "iat" in claims and now < claims["iat"] - LEEWAY:
            raise TokenError("service account token is issued in the future")

    async def _get(self, resource: str, namespace: str, name: str) -> Obj:
        obj = await self.lookup(resource, namespace, name)
        if obj is None or _deleted_long_ago(obj, self.clock()):
            if obj is not None:
                raise TokenError(f"{resource[:-1]} {namespace}/{name} has been deleted")
            raise TokenError(f'{resource} "{name}" not found')
        return obj

    async def _bound_user(self, claims: Obj) -> User:
        self._check_time(claims)
        k8s = claims.get("kubernetes.io") or {}
        ns, sa_ref = k8s.get("namespace", ""), k8s.get("serviceaccount") or {}
        sa = await self._get("serviceaccounts", ns, sa_ref.get("name", ""))
        if sa["metadata"].get("uid") != sa_ref.get("uid"):
            raise TokenError(f"service account UID ({sa['metadata'].get('uid')}) does not "
                             f"match claim ({sa_ref.get('uid')})")
        extra: dict[str, tuple[str, ...]] = {}
        for kind, resource in (("secret", "secrets"), ("pod", "pods")):
            ref = k8s.get(kind)
            if ref:
                obj = await self._get(resource, ns, ref.get("name", ""))
                if obj["metadata"].get("uid") != ref.get("uid"):
                    raise TokenError(f"{kind} UID ({obj['metadata'].get('uid')}) does not "
                                     f"match service account {kind} ref claim ({ref.get('uid')})")
                if kind == "pod":
                    extra[EXTRA + "pod-name"] = (ref["name"],)
                    extra[EXTRA + "pod-uid"] = (ref["uid"],)
        node_ref = k8s.get("node")
        if node_ref:
            if not k8s.get("pod"):  # a pod-bound token's node is for information only
                node = await self._get("nodes", "", node_ref.get("name", ""))
                if node["metadata"].get("uid") != node_ref.get("uid"):
                    raise TokenError(f"node UID ({node['metadata'].get('uid')}) does not "
                                     f"match service account node ref claim "
                                     f"({node_ref.get('uid')})")
            extra[EXTRA + "node-name"] = (node_ref["name"],)
            extra[EXTRA + "node-uid"] = (node_ref["uid"],)
        if claims.get("jti"):
            extra[EXTRA + "credential-id"] = (f"JTI={claims['jti']}",)
        return user_of(ns, sa_ref["name"], sa_ref["uid"], extra)

    async def _legacy_user(self, token: str, claims: Obj) -> User:
        ns = claims.get(_LEGACY + "namespace", "")
        secret = await self._get("secrets", ns, claims.get(_LEGACY + "secret.name", ""))
        stored = (secret.get("data") or {}).get("token", "")
        if base64.b64decode(stored or "").decode(errors="replace") != token:
            raise TokenError("Token does not match server's copy")
        sa = await self._get("serviceaccounts", ns, claims.get(_LEGACY + "service-account.name", ""))
        uid = claims.get(_LEGACY + "service-account.uid", "")
        if sa["metadata"].get("uid") != uid:
            raise TokenError(f"service account UID ({sa['metadata'].get('uid')}) does not "
                             f"match claim ({uid})")
        return user_of(ns, sa["metadata"]["name"], uid, {})

    # -- the request authenticator (kapi.auth.Authenticator) ------------------------------
    async def __call__(self, request: HTTPConnection) -> User | None:
        token = bearer_token(request)
        if token is None or not self.ours(token):
            return None
        try:
            return (await self.verify(token)).user
        except TokenError:
            raise errors.Unauthorized("Unauthorized") from None


def bearer_token(request: HTTPConnection) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _go_list(items: list[str]) -> str:
    """A []string as Go's %q prints it: ["a" "b"]."""
    return "[" + " ".join(f'"{i}"' for i in items) + "]"
