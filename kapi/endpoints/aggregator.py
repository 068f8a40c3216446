"""API aggregation (upstream's kube-aggregator): an APIService with a service routes
/apis/GROUP/VERSION/... to that Service over HTTPS, with the caller's identity passed on
as X-Remote-User / X-Remote-Group / X-Remote-Extra-* headers (and its Authorization
dropped); responses, watch streams included, are relayed as they come.

Also: the local APIServices every built-in group/version gets at start (`v1.`,
`v1.apps`, ..., and metrics.k8s.io, which kapi serves itself); the Available condition
of each APIService, kept by a periodic check; the aggregated groups' entries in /apis
discovery, plain and aggregated (each backend's resource list, fetched at check time),
and their OpenAPI documents (kapi.endpoints.aggregated_specs, fetched after a check).

Reads APIServices, Services and EndpointSlices from the watch cache; connects only to
the endpoints the Service resolves to.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import StreamingResponse

from kapi import errors
from kapi.admission.webhooks.client import Clients, ServiceResolver, Target, Unreachable
from kapi.auth import User
from kapi.endpoints.aggregated_specs import AggregatedSpecs
from kapi.meta import objects
from kapi.meta.resources import Scheme
from kapi.storage.cacher import WatchCache

log = logging.getLogger("kapi.aggregator")
Obj = dict[str, Any]
GROUP = "apiregistration.k8s.io"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade", "host",
                        "authorization", "content-length", "impersonate-user",
                        "impersonate-group"})
LOCAL = {"type": "Available", "status": "True", "reason": "Local",
         "message": "Local APIServices are always available"}


def identity_headers(user: User) -> list[tuple[str, str]]:
    """The caller as the aggregated server learns it (requestheader authentication)."""
    out = [("X-Remote-User", user.name)]
    out += [("X-Remote-Group", g) for g in user.groups]
    for k, vs in user.extra.items():
        out += [(f"X-Remote-Extra-{k}", v) for v in vs]
    return out


class Aggregator:
    def __init__(self, cache: WatchCache, scheme: Scheme, clients: Clients) -> None:
        self.cache, self.scheme, self.clients = cache, scheme, clients
        self.resolver = ServiceResolver(cache, scheme)
        self.apiservices = scheme.get(GROUP, "v1", "apiservices")
        self.resource_lists: dict[str, Obj] = {}  # group/version -> its APIResourceList
        self.specs = AggregatedSpecs()

    def remote(self, group: str, version: str) -> Obj | None:
        """The APIService with a service that serves group/version, if any."""
        assert self.apiservices is not None
        svc = self.cache.get(self.apiservices.key_prefix,
                             self.apiservices.key(None, f"{version}.{group}"))
        if svc is None or not (svc.get("spec") or {}).get("service"):
            return None
        return svc

    def _remote_all(self) -> list[Obj]:
        assert self.apiservices is not None
        return [s for s in self.cache.list(self.apiservices.key_prefix,
                                           self.apiservices.key_prefix)
                if (s.get("spec") or {}).get("service")]

    def _target(self, apiservice: Obj) -> Target:
        ref = apiservice["spec"]["service"]
        return self.resolver.resolve(ref.get("namespace", ""), ref.get("name", ""),
                                     int(ref.get("port") or 443))

    def _client(self, apiservice: Obj) -> httpx.AsyncClient:
        spec = apiservice["spec"]
        return self.clients.get(spec.get("caBundle"),
                                insecure=bool(spec.get("insecureSkipTLSVerify")))

    # -- proxying ---------------------------------------------------------------------
    async def proxy(self, request: Request, apiservice: Obj, user: User) -> StreamingResponse:
        try:
            target = self._target(apiservice)
        except Unreachable as e:
            raise errors.ServiceUnavailable(str(e)) from None
        url = target.base + request.scope["path"]
        if request.scope["query_string"]:
            url += "?" + request.scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        headers += identity_headers(user)
        http = self._client(apiservice)
        req = http.build_request(request.method, url, headers=headers,
                                 content=await request.body() or None,
                                 extensions={"sni_hostname": target.server_name,
                                             "timeout": {"connect": 10.0, "read": None,
                                                         "write": 30.0, "pool": 10.0}})
        try:
            resp = await http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise errors.ServiceUnavailable(f"error trying to reach service: {e}") from None
        out = StreamingResponse(_relay(resp), status_code=resp.status_code)
        out.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                           for k, v in resp.headers.multi_items()
                           if k.lower() not in HOP_BY_HOP]
        return out

    # -- discovery --------------------------------------------------------------------
    def groups(self) -> list[Obj]:
        """APIGroup entries of the aggregated groups, for /apis."""
        by_group: dict[str, list[Obj]] = {}
        for s in sorted(self._remote_all(), key=lambda s: -int(
                s["spec"].get("versionPriority") or 0)):
            by_group.setdefault(s["spec"].get("group", ""), []).append(s)
        out = []
        for group, services in by_group.items():
            versions = [{"groupVersion": f"{group}/{s['spec']['version']}",
                         "version": s["spec"]["version"]} for s in services]
            out.append({"name": group, "versions": versions, "preferredVersion": versions[0]})
        return out

    def group(self, name: str) -> Obj | None:
        found = [g for g in self.groups() if g["name"] == name]
        return {"kind": "APIGroup", "apiVersion": "v1"} | found[0] if found else None

    def aggregated_items(self) -> list[Obj]:
        """apidiscovery entries of the aggregated groups (from the last checks)."""
        items = []
        for g in self.groups():
            versions = []
            for v in g["versions"]:
                rl = self.resource_lists.get(v["groupVersion"])
                versions.append({"version": v["version"], "freshness":
                                 "Current" if rl else "Stale",
                                 "resources": [_agg(g["name"], v["version"], r)
                                               for r in (rl or {}).get("resources") or []
                                               if "/" not in r.get("name", "")]})
            items.append({"metadata": {"name": g["name"], "creationTimestamp": None},
                          "versions": versions})
        return items

    # -- availability -----------------------------------------------------------------
    async def check(self, apiservice: Obj) -> Obj:
        """The Available condition of one APIService, now (upstream's messages)."""
        spec = apiservice.get("spec") or {}
        if not spec.get("service"):
            return dict(LOCAL)
        ref, gv = spec["service"], f"{spec.get('group', '')}/{spec.get('version', '')}"
        try:
            target = self._target(apiservice)
        except Unreachable:
            return {"type": "Available", "status": "False", "reason": "ServiceNotFound",
                    "message": f'service/{ref.get("name", "")} in "{ref.get("namespace", "")}"'
                               " is not present"}
        url = f"{target.base}/apis/{gv}"
        try:
            resp = await self._client(apiservice).get(
                url, timeout=5, extensions={"sni_hostname": target.server_name})
            if resp.status_code == 200:
                self.resource_lists[gv] = orjson.loads(resp.content)
                if self.specs.wanted(apiservice):
                    await self.specs.fetch(apiservice, self._client(apiservice), target)
                return {"type": "Available", "status": "True", "reason": "Passed",
                        "message": "all checks passed"}
            problem = f"bad status from {url}: {resp.status_code}"
        except (httpx.HTTPError, orjson.JSONDecodeError) as e:
            problem = f"failing or missing response from {url}: {e}"
        self.resource_lists.pop(gv, None)
        return {"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck",
                "message": problem}


async def _relay(resp: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in resp.aiter_raw():
            yield chunk
    finally:
        await resp.aclose()


def _agg(group: str, version: str, r: Obj) -> Obj:
    e: Obj = {"resource": r.get("name", ""),
              "responseKind": {"group": group, "version": version, "kind": r.get("kind", "")},
              "scope": "Namespaced" if r.get("namespaced") else "Cluster",
              "singularResource": r.get("singularName", ""), "verbs": r.get("verbs") or []}
    for k in ("shortNames", "categories"):
        if r.get(k):
            e[k] = r[k]
    return e


def local_apiservices(scheme: Scheme, extra: tuple[tuple[str, str], ...]) -> list[Obj]:
    """The APIService of every group/version kapi serves itself (`v1.` for core)."""
    gvs = [(g, v) for g in ["", *scheme.groups()] for v in scheme.versions(g)] + list(extra)
    out = []
    for i, (g, v) in enumerate(gvs):
        out.append({"apiVersion": f"{GROUP}/v1", "kind": "APIService",
                    "metadata": {"name": f"{v}.{g}", "labels": {
                        "kube-aggregator.kubernetes.io/automanaged": "onstart"}},
                    "spec": {"group": g, "version": v, "groupPriorityMinimum":
                             18000 if not g else max(17000 - 100 * i, 1000),
                             "versionPriority": 15}})
    return out


async def ensure_local(store: Any, aggregator: Aggregator,
                       extra: tuple[tuple[str, str], ...]) -> None:
    """Create the local APIServices that are missing (upstream's autoregistration)."""
    r = aggregator.apiservices
    assert r is not None
    for obj in local_apiservices(aggregator.scheme, extra):
        if aggregator.cache.get(r.key_prefix, r.key(None, obj["metadata"]["name"])) is None:
            try:
                await store.create(r, None, obj)
            except errors.AlreadyExists:
                pass


async def keep_status(store: Any, aggregator: Aggregator, *, interval: float,
                      clock: objects.Clock) -> None:
    """Keep every APIService's Available condition current, checking every `interval`."""
    r = aggregator.apiservices
    assert r is not None
    while True:
        aggregator.specs.retain(s["metadata"]["name"] for s in aggregator._remote_all())
        for svc in aggregator.cache.list(r.key_prefix, r.key_prefix):
            try:
                await _update_condition(store, r, svc, await aggregator.check(svc), clock)
            except errors.APIError as e:  # deleted or changed meanwhile: next round
                log.debug("apiservice %s: %s", svc["metadata"]["name"], e)
            except Exception:  # a bug must not stop the checks of every other one
                log.exception("checking apiservice %s", svc["metadata"]["name"])
        await asyncio.sleep(interval)


async def _update_condition(store: Any, r: Any, svc: Obj, cond: Obj,
                            clock: objects.Clock) -> None:
    old = next((c for c in (svc.get("status") or {}).get("conditions") or []
                if c.get("type") == "Available"), None)
    if old is not None and all(old.get(k) == cond[k] for k in ("status", "reason", "message")):
        return
    same = old is not None and old.get("status") == cond["status"]
    cond["lastTransitionTime"] = old.get("lastTransitionTime") if same and old else \
        objects.rfc3339(clock())

    async def apply(current: Obj | None) -> Obj:
        if current is None:
            raise errors.NotFound.of(r, svc["metadata"]["name"])
        current["status"] = {"conditions": [cond]}
        return current
    await store.guaranteed_update(r, None, svc["metadata"]["name"], apply,
                                  subresource="status")
