"""Bootstrap tokens: the `<id>.<secret>` bearer tokens nodes join with (kubeadm's
`--token`, k3s's agent token), and the Secret format that holds them.

A token is the Secret `kube-system/bootstrap-token-<id>` of type
`bootstrap.kubernetes.io/token` with `token-id`, `token-secret`, and optionally
`expiration` (RFC 3339), `usage-bootstrap-authentication`/`usage-bootstrap-signing`
("true") and `auth-extra-groups` (comma-separated, each `system:bootstrappers:...`), as
upstream's bootstrap.kubernetes.io/token Secrets. A token authenticates as
`system:bootstrap:<id>` in `system:bootstrappers` (plus its extra groups) while its
Secret exists, is not being deleted, allows authentication and has not expired.

Like upstream's authenticator, a token that does not authenticate is not this
authenticator's (None: the next one, then 401), so a caller learns nothing about which
part was wrong. Secrets are read through the injected lookup (the watch cache), never
the handlers; time through an injected clock.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
import secrets
import string
from typing import Any, Awaitable, Callable

from starlette.requests import HTTPConnection

from kapi.auth import User
from kapi.auth.tokenfile import AUTHENTICATED, bearer_token

Obj = dict[str, Any]
Lookup = Callable[[str, str, str], Awaitable[Obj | None]]
Clock = Callable[[], dt.datetime]

NAMESPACE = "kube-system"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
USER_PREFIX = "system:bootstrap:"
GROUP = "system:bootstrappers"
# kubeadm's default extra group; kapi's bootstrap bindings name it
DEFAULT_GROUP = "system:bootstrappers:kubeadm:default-node-token"
TOKEN_RE = re.compile(r"\A([a-z0-9]{6})\.([a-z0-9]{16})\Z")
GROUP_RE = re.compile(r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\Z")
USAGES = ("authentication", "signing")
_ALPHABET = string.ascii_lowercase + string.digits


def generate() -> str:
    """A fresh `<6>.<16>` token from [a-z0-9] (upstream's token format)."""
    def part(n: int) -> str:
        return "".join(secrets.choice(_ALPHABET) for _ in range(n))
    return f"{part(6)}.{part(16)}"


def secret_for(token: str, *, expiration: dt.datetime | None, usages: tuple[str, ...],
               groups: tuple[str, ...], description: str = "") -> Obj:
    """The Secret that holds `token` (raises ValueError on a malformed token, usage or
    group, with the message the user sees)."""
    m = TOKEN_RE.match(token)
    if m is None:
        raise ValueError(f"token {token!r} does not match the format [a-z0-9]{{6}}.[a-z0-9]{{16}}")
    for usage in usages:
        if usage not in USAGES:
            raise ValueError(f"unknown usage {usage!r} (valid: {', '.join(USAGES)})")
    for group in groups:
        if not GROUP_RE.match(group):
            raise ValueError(f"group {group!r} must match {GROUP_RE.pattern[2:-2]}")
    data = {"token-id": m.group(1), "token-secret": m.group(2)}
    if description:
        data["description"] = description
    if expiration is not None:
        data["expiration"] = expiration.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data |= {f"usage-bootstrap-{u}": "true" for u in usages}
    if groups:
        data["auth-extra-groups"] = ",".join(groups)
    return {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": SECRET_PREFIX + m.group(1), "namespace": NAMESPACE},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def secret_data(secret: Obj) -> dict[str, str]:
    """A Secret's data decoded (undecodable values are empty)."""
    out = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value or "").decode()
        except ValueError:
            out[key] = ""
    return out


def expired(data: dict[str, str], now: dt.datetime) -> bool:
    """Whether the token's expiration has passed (an unparseable one counts as passed)."""
    text = data.get("expiration")
    if not text:
        return False
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) <= now
    except ValueError:
        return True


class BootstrapTokens:
    """The Authenticator of bootstrap tokens (kapi.auth.Authenticator)."""

    def __init__(self, lookup: Lookup, clock: Clock) -> None:
        self.lookup, self.clock = lookup, clock

    async def __call__(self, request: HTTPConnection) -> User | None:
        token = bearer_token(request)
        m = TOKEN_RE.match(token or "")
        if m is None:
            return None
        token_id, token_secret = m.groups()
        secret = await self.lookup("secrets", NAMESPACE, SECRET_PREFIX + token_id)
        if secret is None or secret["metadata"].get("deletionTimestamp") or \
                secret.get("type") != SECRET_TYPE:
            return None
        data = secret_data(secret)
        if not hmac.compare_digest(data.get("token-secret", "").encode(), token_secret.encode()):
            return None
        if expired(data, self.clock()) or data.get("usage-bootstrap-authentication") != "true":
            return None
        extra = [g.strip() for g in data.get("auth-extra-groups", "").split(",") if g.strip()]
        if not all(GROUP_RE.match(g) for g in extra):
            return None  # upstream refuses the token rather than drop the odd group
        return User(USER_PREFIX + token_id, (GROUP, *extra, AUTHENTICATED))
