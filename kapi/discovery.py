"""Discovery documents: /version, /api, /apis, /api/v1, /apis/G, /apis/G/V and the
aggregated forms (apidiscovery.k8s.io v2 and v2beta1), all derived from the scheme.

Pure builders returning dicts; the HTTP layer picks one by the Accept header.
"""

from __future__ import annotations

import platform
from typing import Any

from kapi.meta.resources import GIT_VERSION, KUBERNETES_VERSION, Resource, Scheme

Obj = dict[str, Any]

AGGREGATED_AS = "APIGroupDiscoveryList"
AGGREGATED_GROUP = "apidiscovery.k8s.io"


def version_info() -> Obj:
    major, minor = KUBERNETES_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python" + platform.python_version(),
        "compiler": "cpython",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_versions() -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def _group(scheme: Scheme, group: str) -> Obj:
    versions = [{"groupVersion": _gv(group, v), "version": v} for v in scheme.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(scheme: Scheme) -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(scheme, g) for g in scheme.groups()]}


def api_group(scheme: Scheme, group: str) -> Obj | None:
    if group not in scheme.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1"} | _group(scheme, group)


def _resource_entries(r: Resource) -> list[Obj]:
    main: Obj = {"name": r.resource, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    main["storageVersionHash"] = _hash(r)
    out = [main]
    for s in r.subresources:
        e: Obj = {"name": f"{r.resource}/{s.name}", "singularName": "",
                  "namespaced": r.namespaced, "kind": s.kind or r.kind, "verbs": list(s.verbs)}
        if s.group:
            e["group"], e["version"] = s.group, s.version
        out.append(e)
    return out


def _hash(r: Resource) -> str:
    import base64
    import hashlib
    h = hashlib.sha256(f"{r.stored_group}/{r.stored_version}/{r.kind}".encode()).digest()
    return base64.b64encode(h[:8]).decode()


def api_resource_list(scheme: Scheme, group: str, version: str) -> Obj | None:
    rs = scheme.in_group_version(group, version)
    if not rs:
        return None
    resources = [e for r in rs for e in _resource_entries(r)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": _gv(group, version),
            "resources": resources}


# -- aggregated discovery ------------------------------------------------------------------
def _agg_resource(r: Resource) -> Obj:
    e: Obj = {
        "resource": r.resource,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        e["shortNames"] = list(r.short_names)
    if r.categories:
        e["categories"] = list(r.categories)
    subs = []
    for s in r.subresources:
        subs.append({"subresource": s.name,
                     "responseKind": {"group": s.group if s.group else r.group,
                                      "version": s.version if s.version else r.version,
                                      "kind": s.kind or r.kind},
                     "verbs": list(s.verbs)})
    if subs:
        e["subresources"] = subs
    return e


def aggregated(scheme: Scheme, *, core: bool, version: str) -> Obj:
    """The APIGroupDiscoveryList for /api (core=True) or /apis, in `version` (v2 or
    v2beta1; same shape)."""
    groups = [""] if core else scheme.groups()
    items = []
    for g in groups:
        versions = []
        for v in scheme.versions(g):
            versions.append({"version": v,
                             "resources": [_agg_resource(r) for r in scheme.in_group_version(g, v)],
                             "freshness": "Current"})
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
    return {"kind": AGGREGATED_AS, "apiVersion": f"{AGGREGATED_GROUP}/{version}",
            "metadata": {}, "items": items}


def aggregated_version_wanted(accept: str) -> str | None:
    """The apidiscovery version the client accepts first, if it asks for aggregation."""
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("g") == AGGREGATED_GROUP and params.get("as") == AGGREGATED_AS:
            if params.get("v") in ("v2", "v2beta1"):
                return params["v"]
    return None
