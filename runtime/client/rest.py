"""An async Kubernetes REST client over httpx: objects are plain dicts.

It knows the REST conventions (paths, verbs, Status errors, watch streams) and nothing
of kapi's internals. API errors are translated once here into `ApiError` with the
Status's code and reason, so components branch on `e.reason` / `e.code`.

Servers are reached through runtime/client/transport.py (a lean HTTP/1.1 transport:
httpx's default one costs several times more CPU per request), over TLS when the URL is
https (the CA and client certificate from the kubeconfig, runtime/client/kubeconfig.py).
Failures surface as httpx exceptions.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any, AsyncIterator, Mapping

import httpx
import orjson

from runtime.client import kubeconfig
from runtime.client.resources import GVR
from runtime.client.transport import HTTP11Transport

Obj = dict[str, Any]

class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, status: Obj | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message, self.status = code, reason, message, status or {}

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409

    @property
    def already_exists(self) -> bool:
        return self.code == 409 and self.reason == "AlreadyExists"

    @property
    def gone(self) -> bool:
        return self.code == 410


def _error(r: httpx.Response, body: bytes) -> ApiError:
    try:
        st = orjson.loads(body)
        return ApiError(r.status_code, st.get("reason", ""), st.get("message", ""), st)
    except orjson.JSONDecodeError:
        return ApiError(r.status_code, "", body.decode(errors="replace")[:500])


def load_kubeconfig(path: str | Path) -> tuple[str, dict[str, str]]:
    """(server URL, extra headers) of the current context of a kubeconfig."""
    target = kubeconfig.load(path)
    return target.server, target.headers


class Client:
    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None,
                 user_agent: str = "kapi-runtime", timeout: float = 30.0,
                 max_connections: int = 100, ssl_context: ssl.SSLContext | None = None) -> None:
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections)
        if base_url.startswith("https://") and ssl_context is None:
            ssl_context = ssl.create_default_context()
        transport = HTTP11Transport(max_connections=max_connections, ssl_context=ssl_context)
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={"User-Agent": user_agent, **(headers or {})},
            timeout=httpx.Timeout(timeout), limits=limits, transport=transport)
        self.base_url, self.timeout = base_url, timeout
        self.kubeconfig: Path | None = None  # the file it was made from, if any

    @classmethod
    def from_kubeconfig(cls, path: str | Path, *, token: str | None = None,
                        **kw: Any) -> Client:
        """`token`: as that bearer token's identity, not the kubeconfig's user."""
        target = kubeconfig.load(path, token=token)
        client = cls(target.server, headers=target.headers, ssl_context=target.ssl_context,
                     **kw)
        client.kubeconfig = Path(path)
        return client

    def with_bearer_token(self, token: str, **kw: Any) -> Client:
        """A client of the same cluster (its kubeconfig's server and CA) as the identity
        `token` names, without this client's own credentials."""
        if self.kubeconfig is None:
            raise ValueError("a client made without a kubeconfig cannot derive another")
        return Client.from_kubeconfig(self.kubeconfig, token=token, **kw)

    def sibling(self, **kw: Any) -> Client:
        """Another client as the same identity, with its own connections (`kw`: e.g. a
        larger pool); this client itself when it was made without a kubeconfig."""
        return Client.from_kubeconfig(self.kubeconfig, **kw) if self.kubeconfig else self

    def set_bearer_token(self, token: str) -> None:
        self.http.headers["Authorization"] = f"Bearer {token}"

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> Obj:
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if content is not None else None
        r = await self.http.request(method, path, params=_params(params), content=content,
                                    headers=headers)
        data = r.content
        if r.status_code >= 400:
            raise _error(r, data)
        return orjson.loads(data) if data else {}

    # -- verbs --------------------------------------------------------------------------
    async def get(self, gvr: GVR, name: str, namespace: str | None = None,
                  subresource: str | None = None) -> Obj:
        return await self.request("GET", gvr.path(namespace, name, subresource))

    async def list(self, gvr: GVR, namespace: str | None = None, **params: Any) -> Obj:
        return await self.request("GET", gvr.path(namespace), params=_selectors(params))

    async def create(self, gvr: GVR, obj: Obj, namespace: str | None = None, **params: Any) -> Obj:
        ns = namespace or obj.get("metadata", {}).get("namespace")
        return await self.request("POST", gvr.path(ns), params=params, body=obj)

    async def update(self, gvr: GVR, obj: Obj, *, subresource: str | None = None) -> Obj:
        meta = obj["metadata"]
        return await self.request("PUT", gvr.path(meta.get("namespace"), meta["name"], subresource),
                                  body=obj)

    async def update_status(self, gvr: GVR, obj: Obj) -> Obj:
        return await self.update(gvr, obj, subresource="status")

    async def patch(self, gvr: GVR, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None) -> Obj:
        ctype = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}[patch_type]
        return await self.request("PATCH", gvr.path(namespace, name, subresource), body=patch,
                                  content_type=ctype)

    async def delete(self, gvr: GVR, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Obj | None = None) -> Obj:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            body["preconditions"] = preconditions
        return await self.request("DELETE", gvr.path(namespace, name), body=body)

    async def watch(self, gvr: GVR, namespace: str | None = None, *, resource_version: str,
                    timeout_seconds: int = 300, bookmarks: bool = True,
                    **params: Any) -> AsyncIterator[Obj]:
        """Watch events as dicts; raises ApiError (e.g. 410) before the first event."""
        q = _selectors(params) | {"watch": "true", "resourceVersion": resource_version,
                                  "timeoutSeconds": str(timeout_seconds),
                                  "allowWatchBookmarks": "true" if bookmarks else "false"}
        async with self.http.stream("GET", gvr.path(namespace), params=_params(q),
                                    timeout=httpx.Timeout(self.timeout, read=None)) as r:
            if r.status_code >= 400:
                raise _error(r, await r.aread())
            async for line in r.aiter_lines():
                if line:
                    ev = orjson.loads(line)
                    if ev.get("type") == "ERROR":
                        st = ev.get("object") or {}
                        raise ApiError(st.get("code", 500), st.get("reason", ""),
                                       st.get("message", ""), st)
                    yield ev


def _selectors(params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for py, api in (("label_selector", "labelSelector"), ("field_selector", "fieldSelector"),
                    ("resource_version", "resourceVersion")):
        if py in out:
            out[api] = out.pop(py)
    return out


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in params.items()
            if v is not None}
