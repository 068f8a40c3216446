"""The kubelet's /stats/summary: rates from Docker stats samples, working-set memory,
and the usage simulated pods declare in their annotation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette

from runtime.kubelet import stats
from runtime.kubelet.cri import ContainerInfo

Obj = dict[str, Any]


def docker_doc(cpu_ns: int, usage: int, inactive: int, v2: bool = True) -> Obj:
    key = "inactive_file" if v2 else "total_inactive_file"
    return {"cpu_stats": {"cpu_usage": {"total_usage": cpu_ns}},
            "memory_stats": {"usage": usage, "stats": {key: inactive}}}


def test_working_set_is_usage_minus_inactive_file() -> None:
    assert stats.sample_from_docker(docker_doc(5, 100, 30), 1.0).working_set == 70
    assert stats.sample_from_docker(docker_doc(5, 100, 30, v2=False), 1.0).working_set == 70
    assert stats.sample_from_docker({}, 1.0) == stats.Sample(1.0, 0, 0, 0)


def test_cpu_is_a_rate_between_two_samples() -> None:
    c = ContainerInfo(id="c1", name="app", pod_uid="u1", pod_namespace="ns", pod_name="p",
                      attempt=0, state="running", started_at="2026-01-01T00:00:00Z")
    sandbox = ContainerInfo(id="s1", name="POD", pod_uid="u1", pod_namespace="ns",
                            pod_name="p", attempt=0, state="running")
    docs = iter([docker_doc(1_000_000_000, 10 << 20, 0),
                 docker_doc(1_500_000_000, 12 << 20, 1 << 20)])
    clock = iter([100.0, 102.0, 102.0, 102.0])

    async def one(cid: str) -> Obj:
        return next(docs)
    ds = stats.DockerStats(containers=lambda: [c, sandbox], stats=one,
                           clock=lambda: next(clock))
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "status": {}}
    asyncio.run(ds.sample())
    assert ds.container_entry(c) is None  # one sample: no rate yet
    asyncio.run(ds.sample())
    doc = ds.summary("n1", "2026-01-01T00:00:00Z", [pod], lambda uid: [c, sandbox])
    entry = doc["pods"][0]["containers"][0]
    assert entry["cpu"]["usageNanoCores"] == 250_000_000  # 0.5 s of CPU over 2 s
    assert entry["memory"]["workingSetBytes"] == 11 << 20
    assert doc["node"]["cpu"]["usageNanoCores"] == 250_000_000
    assert doc["node"]["nodeName"] == "n1"


def sim_pod(usage: str | None, *names: str) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u",
                         "annotations": {stats.USAGE_ANNOTATION: usage} if usage else {}},
            "spec": {"containers": [{"name": n} for n in names]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": n, "state": {"running": {}}} for n in names]}}


def test_simulated_usage_from_the_annotation() -> None:
    one = sim_pod('{"cpu": "250m", "memory": "64Mi"}', "a", "b")
    assert stats.declared_usage(one) == {"a": (250_000_000, 64 << 20),
                                         "b": (250_000_000, 64 << 20)}
    each = sim_pod('{"a": {"cpu": "1"}, "b": {"memory": "1Ki"}}', "a", "b")
    assert stats.declared_usage(each) == {"a": (10**9, 0), "b": (0, 1024)}
    assert stats.declared_usage(sim_pod("not json", "a")) == {}
    doc = stats.simulated_summary("n", "t", [one, sim_pod(None, "c")], 0.0)
    assert doc["node"]["cpu"]["usageNanoCores"] == 500_000_000
    assert [c["name"] for c in doc["pods"][0]["containers"]] == ["a", "b"]
    assert doc["pods"][1]["cpu"]["usageNanoCores"] == 0


def test_the_route_answers_json_or_404() -> None:
    app = Starlette(routes=[stats.route(lambda r: {"node": {}, "pods": []}
                                        if r.query_params.get("ok") else None)])

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://k") as c:
            return await c.get(path)
    assert asyncio.run(get("/stats/summary?ok=1")).json() == {"node": {}, "pods": []}
    assert asyncio.run(get("/stats/summary")).status_code == 404
