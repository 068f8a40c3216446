"""Fakes for the ReplicaSet/Deployment controller tests: a clock, an in-memory API
client with the REST client's verbs (resourceVersion conflicts, generation, merge
patches), an event recorder that keeps what it is told, and a tiny "cluster" that plays
the ReplicaSet controller and kubelets for rollout simulations.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from typing import Any

from runtime.client.resources import GVR
from runtime.client.rest import ApiError

Obj = dict[str, Any]


class FakeClock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def _merge(target: Obj, patch: Obj) -> None:
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)


class FakeClient:
    """The verbs DeploymentSync and PodControl use, over a dict."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.rv = itertools.count(1)
        self.uids = itertools.count(1)
        self.writes: list[tuple[str, str, str]] = []

    def _key(self, gvr: GVR, ns: str | None, name: str) -> tuple[str, str, str]:
        return gvr.resource, ns or "", name

    def _stored(self, gvr: GVR, ns: str | None, name: str) -> Obj:
        obj = self.objects.get(self._key(gvr, ns, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{gvr.resource} "{name}" not found')
        return obj

    def put(self, gvr: GVR, obj: Obj) -> Obj:
        """Store `obj` as if created by someone else; returns the stored copy."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{next(self.uids)}")
        meta.setdefault("creationTimestamp", self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self.rv))
        obj.setdefault("apiVersion", gvr.api_version)
        obj.setdefault("kind", gvr.kind)
        self.objects[self._key(gvr, meta.get("namespace"), meta["name"])] = obj
        return copy.deepcopy(obj)

    def list_of(self, gvr: GVR, ns: str) -> list[Obj]:
        return [copy.deepcopy(o) for (r, n, _), o in sorted(self.objects.items())
                if r == gvr.resource and n == ns]

    async def get(self, gvr: GVR, name: str, namespace: str | None = None) -> Obj:
        return copy.deepcopy(self._stored(gvr, namespace, name))

    async def create(self, gvr: GVR, obj: Obj, namespace: str | None = None) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        ns = namespace or meta.get("namespace")
        meta["namespace"] = ns
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}{next(self.uids):05d}"
        if self._key(gvr, ns, meta["name"]) in self.objects:
            raise ApiError(409, "AlreadyExists", f'{gvr.resource} "{meta["name"]}" already exists')
        self.writes.append(("create", gvr.resource, meta["name"]))
        return self.put(gvr, obj)

    async def update(self, gvr: GVR, obj: Obj, *, status: bool = False) -> Obj:
        meta = obj["metadata"]
        old = self._stored(gvr, meta.get("namespace"), meta["name"])
        if meta.get("resourceVersion") != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        new = copy.deepcopy(old)
        if status:
            new["status"] = copy.deepcopy(obj.get("status") or {})
        else:
            new["metadata"] = dict(copy.deepcopy(meta), uid=old["metadata"]["uid"],
                                   creationTimestamp=old["metadata"]["creationTimestamp"],
                                   generation=old["metadata"]["generation"])
            new["spec"] = copy.deepcopy(obj.get("spec"))
            if new["spec"] != old.get("spec"):
                new["metadata"]["generation"] += 1
        self.writes.append(("update_status" if status else "update", gvr.resource, meta["name"]))
        new["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objects[self._key(gvr, meta.get("namespace"), meta["name"])] = new
        return copy.deepcopy(new)

    async def update_status(self, gvr: GVR, obj: Obj) -> Obj:
        return await self.update(gvr, obj, status=True)

    async def patch(self, gvr: GVR, name: str, patch: Obj, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None) -> Obj:
        obj = self._stored(gvr, namespace, name)
        rv = (patch.get("metadata") or {}).get("resourceVersion")
        if rv is not None and rv != obj["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the object has been modified")
        _merge(obj, {"metadata": {"annotations": (patch.get("metadata") or {}).get(
            "annotations")}} if patch_type == "merge" else {})
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        self.writes.append(("patch", gvr.resource, name))
        return copy.deepcopy(obj)

    async def delete(self, gvr: GVR, name: str, namespace: str | None = None, **_: Any) -> Obj:
        obj = self._stored(gvr, namespace, name)
        del self.objects[self._key(gvr, namespace, name)]
        self.writes.append(("delete", gvr.resource, name))
        return obj


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []  # (type, reason, object, message)

    async def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, obj["metadata"]["name"], message))

    async def normal(self, obj: Obj, reason: str, message: str) -> None:
        await self.event(obj, "Normal", reason, message)

    async def warning(self, obj: Obj, reason: str, message: str) -> None:
        await self.event(obj, "Warning", reason, message)

    def messages(self, reason: str) -> list[str]:
        return [m for _, r, _, m in self.events if r == reason]


def deployment(name: str = "web", replicas: int = 10, image: str = "img:1", *,
               surge: int | str = "25%", unavailable: int | str = "25%",
               strategy: str = "RollingUpdate", **spec: Any) -> Obj:
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "ns", "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": strat, "revisionHistoryLimit": 10,
                     "progressDeadlineSeconds": 600,
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}},
                     **spec}}


def replica_set(name: str, replicas: int, *, available: int | None = None,
                revision: int | None = None, template: Obj | None = None,
                created: str = "2024-01-01T00:00:00Z", **annotations: str) -> Obj:
    ann = dict(annotations)
    if revision is not None:
        ann["deployment.kubernetes.io/revision"] = str(revision)
    avail = replicas if available is None else available
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "creationTimestamp": created, "annotations": ann,
                         "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": template or {"metadata": {"labels": {"app": "web"}}}},
            "status": {"replicas": replicas, "availableReplicas": avail,
                       "readyReplicas": avail}}
