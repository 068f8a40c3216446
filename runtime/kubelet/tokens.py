"""The kubelet's service-account tokens for projected volumes (upstream's token manager,
pkg/kubelet/token): each serviceAccountToken projection of a pod gets a token from
TokenRequest (POST serviceaccounts/NAME/token) bound to the pod, kept until it needs a
refresh, which is when 80% of its lifetime has passed or it is 24 h old (less a jitter of
up to 10 s, so that many pods do not refresh at once).

It only asks the API server for tokens: the files are written by the volume code
(runtime/kubelet/volumes.py reads `Sources.tokens`). Wall time comes from an injected
clock, as token expiry is wall time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable

from runtime.client.resources import SERVICEACCOUNTS
from runtime.client.rest import Client
from runtime.util.times import parse_time

Obj = dict[str, Any]
MAX_TTL = 24 * 3600.0
MAX_JITTER = 10.0


def projection_key(src: Obj) -> str:
    """What tells one pod's token projections apart: audience and lifetime."""
    return f"{src.get('audience', '')}|{src.get('expirationSeconds', 3600)}"


def projections(pod: Obj) -> list[Obj]:
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        for s in (vol.get("projected") or {}).get("sources") or []:
            if isinstance(s, dict) and isinstance(s.get("serviceAccountToken"), dict):
                out.append(s["serviceAccountToken"])
    return out


@dataclass
class _Token:
    token: str
    issued: float  # wall seconds
    expires: float
    seconds: int   # the lifetime asked for (spec.expirationSeconds of the answer)
    jitter: float  # drawn once per token, so the wake-up and the check agree

    @property
    def refresh_at(self) -> float:
        return min(self.issued + MAX_TTL, self.expires - self.seconds * 0.2) - self.jitter


class TokenManager:
    def __init__(self, client: Client, *, wall: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random) -> None:
        self.client, self.wall, self.rand = client, wall, rand
        self.cache: dict[tuple[str, str], _Token] = {}  # (pod uid, projection key) -> token

    async def tokens_for(self, pod: Obj) -> tuple[dict[str, str], float | None]:
        """The pod's tokens by projection key, and the wall time of the next refresh
        (None when the pod projects no token). Raises ApiError when a request fails."""
        uid = pod["metadata"].get("uid", "")
        out: dict[str, str] = {}
        next_refresh: float | None = None
        for src in projections(pod):
            key = projection_key(src)
            if key in out:
                continue
            cached = self.cache.get((uid, key))
            if cached is None or self.wall() >= cached.refresh_at:
                cached = self.cache[(uid, key)] = await self._request(pod, src)
            out[key] = cached.token
            at = cached.refresh_at
            next_refresh = at if next_refresh is None else min(next_refresh, at)
        return out, next_refresh

    async def _request(self, pod: Obj, src: Obj) -> _Token:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        seconds = int(src.get("expirationSeconds") or 3600)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [src["audience"]] if src.get("audience") else [],
                         "expirationSeconds": seconds,
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                            "name": meta["name"], "uid": meta.get("uid")}}}
        ns, sa = meta.get("namespace", ""), spec.get("serviceAccountName") or "default"
        issued = self.wall()
        out = await self.client.request(
            "POST", SERVICEACCOUNTS.path(ns, sa, "token"), body=body)
        status, answered = out.get("status") or {}, out.get("spec") or {}
        got = int(answered.get("expirationSeconds") or seconds)
        when = parse_time(status.get("expirationTimestamp"))
        expires = when.timestamp() if when is not None else issued + got
        return _Token(status.get("token", ""), issued, expires, got, self.rand() * MAX_JITTER)

    def forget(self, uid: str) -> None:
        for key in [k for k in self.cache if k[0] == uid]:
            del self.cache[key]
