"""The metrics scraper (kapi/endpoints/scraper.py) and metrics.k8s.io reads served from
its rounds, against fake kubelets behind an httpx MockTransport: bounded concurrency,
kubelets that fail or publish no endpoint, a round replacing the previous one, and
reads that never show a pod with another pod's figures or ask a kubelet themselves."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from kapi import errors
from kapi.endpoints.metrics import MetricsAPI
from kapi.endpoints.scraper import Scraper
from kapi.registry.kinds import SCHEME

Obj = dict[str, Any]
T = "2026-01-01T00:00:00Z"


def node(i: int, *, endpoint: bool = True) -> Obj:
    status: Obj = {"addresses": [{"type": "InternalIP", "address": f"127.0.1.{i}"}]}
    if endpoint:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 10250}}
    return {"metadata": {"name": f"n{i}", "labels": {"i": str(i)}}, "status": status}


def figures(milli: int) -> tuple[Obj, Obj]:
    return ({"time": T, "usageNanoCores": milli * 1_000_000},
            {"time": T, "workingSetBytes": 1 << 20})


def summary(i: int, pods: list[tuple[str, str]]) -> Obj:
    cpu, mem = figures(i)
    return {"node": {"nodeName": f"n{i}", "cpu": cpu, "memory": mem},
            "pods": [{"podRef": {"namespace": "ns", "name": name, "uid": uid}, "cpu": cpu,
                      "memory": mem, "containers": [{"name": "c", "cpu": cpu, "memory": mem}]}
                     for name, uid in pods]}


class Kubelets:
    """Fake kubelets: node index -> summary, or an HTTP status to answer with."""

    def __init__(self, answers: dict[int, Obj | int]) -> None:
        self.answers, self.asked, self.inflight, self.most = answers, 0, 0, 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        self.inflight += 1
        self.most = max(self.most, self.inflight)
        try:
            await asyncio.sleep(0.01)
            answer = self.answers.get(int(str(request.url.host).rsplit(".", 1)[1]), 404)
            if isinstance(answer, int):
                return httpx.Response(answer, text="no")
            return httpx.Response(200, content=json.dumps(answer).encode())
        finally:
            self.inflight -= 1


def scraper(nodes: list[Obj], kubelets: Kubelets, concurrency: int = 32) -> Scraper:
    async def list_nodes() -> list[Obj]:
        return nodes
    return Scraper(list_nodes=list_nodes, resolution=60, concurrency=concurrency,
                   transport=httpx.MockTransport(kubelets.handle))


def test_a_round_asks_every_kubelet_at_most_concurrency_at_once() -> None:
    kubelets = Kubelets({i: summary(i, [(f"p{i}", f"u{i}")]) for i in range(1, 41)})
    s = scraper([node(i) for i in range(1, 41)], kubelets, concurrency=8)

    async def go() -> None:
        r = await s.scrape()
        await s.close()
        assert len(r.nodes) == 40 and len(r.pods) == 40
        assert r.pods[("ns", "p7", "u7")]["podRef"]["name"] == "p7"
    asyncio.run(go())
    assert kubelets.asked == 40 and 1 < kubelets.most <= 8


def test_failing_kubelets_are_left_out_and_a_round_replaces_the_last() -> None:
    kubelets = Kubelets({1: summary(1, [("a", "ua")]), 2: 500, 3: summary(3, [("b", "ub")])})
    s = scraper([node(1), node(2), node(3), node(4, endpoint=False)], kubelets)

    async def go() -> None:
        first = await s.scrape()
        assert set(first.nodes) == {"n1", "n3"} and set(first.pods) == {
            ("ns", "a", "ua"), ("ns", "b", "ub")}
        kubelets.answers[3] = 503  # n3 stops answering: it and its pod are gone
        second = await s.scrape()
        assert set(second.nodes) == {"n1"} and set(second.pods) == {("ns", "a", "ua")}
        await s.close()
    asyncio.run(go())
    assert kubelets.asked == 6  # n4 publishes no kubelet endpoint: never asked


def pod(name: str, uid: str, labels: Obj | None = None) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid,
                         "labels": labels or {}}, "spec": {"nodeName": "n1"}}


def api(objects: dict[str, list[Obj]], kubelets: Kubelets) -> MetricsAPI:
    async def store_list(r: Any, namespace: str | None, opts: Any) -> Obj:
        return {"items": objects[r.resource]}

    async def store_get(r: Any, namespace: str | None, name: str) -> Obj:
        for o in objects[r.resource]:
            if o["metadata"]["name"] == name:
                return o
        raise errors.NotFound(f"{name} not found")
    rows = {r: SCHEME.get("", "v1", r) for r in ("pods", "nodes")}
    m = MetricsAPI(store_get=store_get, store_list=store_list, rows=rows,  # type: ignore[arg-type]
                   now=lambda: T, resolution=60)
    m.scraper.transport = httpx.MockTransport(kubelets.handle)
    return m


def test_reads_are_served_from_the_round_and_check_the_pod_uid() -> None:
    """`again` was recreated since the round (a new uid): it has no figures yet."""
    kubelets = Kubelets({1: summary(1, [("web", "u1"), ("again", "old")])})
    objects = {"nodes": [node(1), node(2)],
               "pods": [pod("web", "u1"), pod("again", "new")]}
    m = api(objects, kubelets)

    async def go() -> None:
        m.start()
        pods = await m.serve("list", "pods", "ns", "", {})
        assert [p["metadata"]["name"] for p in pods["items"]] == ["web"]
        assert pods["items"][0]["containers"] == [
            {"name": "c", "usage": {"cpu": "1000000n", "memory": "1Mi"}}]
        assert pods["items"][0]["timestamp"] == T and pods["items"][0]["window"]
        with pytest.raises(errors.NotFound, match='podmetrics.metrics.k8s.io "ns/again"'):
            await m.serve("get", "pods", "ns", "again", {})
        nodes = await m.serve("list", "nodes", "", "", {})
        assert [n["metadata"]["name"] for n in nodes["items"]] == ["n1"]
        with pytest.raises(errors.NotFound, match='nodemetrics.metrics.k8s.io "n2"'):
            await m.serve("get", "nodes", "", "n2", {})
        for _ in range(5):
            await m.serve("list", "pods", "ns", "", {})
        await m.close()
    asyncio.run(go())
    assert kubelets.asked == 2  # one round (n2 answers 404): reads asked no kubelet
