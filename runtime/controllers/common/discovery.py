"""What the API server serves, learned the way any client learns it: GET /api, /api/v1,
/apis and /apis/{group}/{version}.

It owns the mapping (apiVersion, kind) -> GVR that the garbage collector and the
namespace controller need to reach objects they know only by reference. It never
imports the API server's own resource table and never caches across calls: callers
decide how long a `Discovery` stays fresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from runtime.client.resources import GVR
from runtime.client.rest import ApiError, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class APIResource:
    gvr: GVR
    verbs: frozenset[str]
    preferred: bool  # served at the group's preferred version


@dataclass
class Discovery:
    resources: list[APIResource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # groupVersion -> error

    def gvr_for(self, api_version: str, kind: str) -> GVR | None:
        """The resource serving `kind` at `api_version`, else at the group's preferred
        version (an ownerReference may name a version that is no longer served)."""
        group = api_version.rpartition("/")[0]
        fallback: GVR | None = None
        for r in self.resources:
            if r.gvr.kind != kind or r.gvr.group != group:
                continue
            if r.gvr.api_version == api_version:
                return r.gvr
            if r.preferred:
                fallback = r.gvr
        return fallback

    def preferred_with(self, verbs: set[str], *, namespaced: bool | None = None,
                       exclude: set[tuple[str, str]] | None = None) -> list[GVR]:
        """Preferred-version resources offering every verb in `verbs`; `exclude` holds
        (group, resource) pairs to leave out."""
        out = []
        for r in self.resources:
            if not r.preferred or not verbs <= r.verbs:
                continue
            if namespaced is not None and r.gvr.namespaced != namespaced:
                continue
            if exclude and (r.gvr.group, r.gvr.resource) in exclude:
                continue
            out.append(r.gvr)
        return out


def _parse_list(group: str, version: str, body: Obj, preferred: bool) -> list[APIResource]:
    out = []
    for r in body.get("resources") or []:
        name = r.get("name", "")
        if not name or "/" in name:
            continue  # subresources are reached through their parent
        gvr = GVR(group, version, name, r.get("kind", ""), bool(r.get("namespaced")))
        out.append(APIResource(gvr, frozenset(r.get("verbs") or ()), preferred))
    return out


async def _group_versions(client: Client) -> list[tuple[str, str, bool]]:
    """(group, version, preferred) for every served group version."""
    out: list[tuple[str, str, bool]] = []
    core = await client.request("GET", "/api")
    for i, v in enumerate(core.get("versions") or []):
        out.append(("", v, i == 0))
    groups = await client.request("GET", "/apis")
    for g in groups.get("groups") or []:
        pref = (g.get("preferredVersion") or {}).get("version")
        for v in g.get("versions") or []:
            out.append((g["name"], v["version"], v["version"] == pref))
    return out


async def discover(client: Client) -> Discovery:
    """Every served resource. A group version that fails to answer is recorded in
    `failed` (callers report it) instead of failing the whole discovery."""
    d = Discovery()
    for group, version, preferred in await _group_versions(client):
        gv = f"{group}/{version}" if group else version
        path = f"/apis/{gv}" if group else f"/api/{version}"
        try:
            body = await client.request("GET", path)
        except ApiError as e:
            d.failed[gv] = str(e)
            continue
        d.resources += _parse_list(group, version, body, preferred)
    return d
