"""AggregatedSpecs: the OpenAPI documents of the aggregated API servers, fetched and kept
for kapi's /openapi/v2 and /openapi/v3 (kapi.openapi.aggregated merges them).

For each APIService with a service, its server's /openapi/v2 and its /openapi/v3
document of the APIService's group/version are fetched after a passing availability
check: at once when the APIService is new or its spec changed, else again every
REFRESH seconds (upstream's aggregator refreshes on the same two occasions). A failed
fetch keeps what was fetched before; a deleted APIService's documents go. Each change
calls `on_change` (the documents are built again).

It only reads from the servers the Aggregator resolved; it never serves anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import httpx
import orjson

from kapi.admission.webhooks.client import Target

log = logging.getLogger("kapi.aggregator")
Doc = dict[str, Any]
REFRESH = 60.0  # seconds between fetches of an unchanged APIService's documents


@dataclass
class _Fetched:
    spec: bytes  # the APIService's spec (and uid) the documents were fetched for
    gv: str
    at: float
    v2: Doc | None = None
    v3: dict[str, Doc] = field(default_factory=dict)


def _gv(apiservice: Doc) -> str:
    spec = apiservice.get("spec") or {}
    return f"{spec.get('group', '')}/{spec.get('version', '')}"


class AggregatedSpecs:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.on_change: Callable[[], None] = lambda: None
        self._fetched: dict[str, _Fetched] = {}  # by APIService name

    # -- RemoteSpecs (kapi.openapi.aggregated) --------------------------------------------
    def v2_parts(self) -> list[tuple[str, Doc]]:
        return [(gv, f.v2) for gv, f in self._by_gv() if f.v2 is not None]

    def v3_docs(self) -> dict[str, Doc]:
        return {f"apis/{gv}": f.v3[gv] for gv, f in self._by_gv() if gv in f.v3}

    def _by_gv(self) -> list[tuple[str, _Fetched]]:
        return [(f.gv, f) for _, f in sorted(self._fetched.items())]

    # -- fetching ----------------------------------------------------------------------------
    def wanted(self, apiservice: Doc) -> bool:
        """Whether this APIService's documents are missing, stale or for another spec."""
        got = self._fetched.get(apiservice["metadata"]["name"])
        return got is None or got.spec != _key(apiservice) or \
            self.clock() - got.at >= REFRESH

    async def fetch(self, apiservice: Doc, http: httpx.AsyncClient, target: Target) -> None:
        """Fetch both documents from the APIService's server (it passed its check)."""
        name, gv = apiservice["metadata"]["name"], _gv(apiservice)
        old = self._fetched.get(name)
        new = _Fetched(_key(apiservice), gv, self.clock())
        if old is not None and old.spec == new.spec:  # a failed fetch keeps these
            new.v2, new.v3 = old.v2, dict(old.v3)
        ext = {"sni_hostname": target.server_name}
        v2 = await _get_json(http, target.base + "/openapi/v2", ext)
        if v2 is not None:
            new.v2 = v2
        root = await _get_json(http, target.base + "/openapi/v3", ext)
        url = ((root or {}).get("paths") or {}).get(f"apis/{gv}", {}).get("serverRelativeURL")
        v3 = await _get_json(http, target.base + url, ext) if url else None
        if v3 is not None:
            new.v3 = {gv: v3}
        self._fetched[name] = new
        if old is None or (old.v2, old.v3) != (new.v2, new.v3):
            self.on_change()

    def retain(self, names: Iterable[str]) -> None:
        """Forget the documents of APIServices no longer there (or no longer remote)."""
        gone = set(self._fetched) - set(names)
        for name in gone:
            del self._fetched[name]
        if gone:
            self.on_change()


def _key(apiservice: Doc) -> bytes:
    return orjson.dumps({"uid": apiservice["metadata"].get("uid"),
                         "spec": apiservice.get("spec")}, option=orjson.OPT_SORT_KEYS)


async def _get_json(http: httpx.AsyncClient, url: str, ext: Doc) -> Doc | None:
    try:
        resp = await http.get(url, timeout=10, extensions=ext,
                              headers={"accept": "application/json"})
        if resp.status_code == 200:
            doc = orjson.loads(resp.content)
            return doc if isinstance(doc, dict) else None
        log.info("fetching %s: status %s", url, resp.status_code)
    except (httpx.HTTPError, orjson.JSONDecodeError) as e:
        log.info("fetching %s: %s", url, e)
    return None
