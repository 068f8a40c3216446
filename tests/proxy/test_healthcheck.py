"""The health-check ports of externalTrafficPolicy: Local, served on loopback: which
Services get one, 200 with upstream's JSON while this node has endpoints, 503 without,
and the port closed when the Service no longer wants it."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx

from runtime.proxy import rules
from runtime.proxy.healthcheck import HealthServers
from tests.proxy.test_rules import CFG, eps, svc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_which_services_have_a_health_check():
    lb = svc("web", type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=31999)
    plain = svc("db", clusterIP="10.96.0.30", type="LoadBalancer", externalTrafficPolicy="Cluster")
    slices = [eps("web", ("172.17.0.3", True, "n1"), ("172.17.0.4", True, "n2"),
                  ("172.17.0.5", False, "n1")), eps("db", ("172.17.0.6", True, "n1"))]
    assert rules.health_checks(CFG, [lb, plain], slices) == {"d/web": (31999, 1)}


def test_answers_follow_the_local_endpoints():
    port = free_port()

    async def scenario() -> list[tuple[int, str]]:
        servers = HealthServers(("127.0.0.1",))
        seen = []
        async with httpx.AsyncClient(timeout=5) as http:
            for count in (2, 0):
                await servers.sync({"d/web": (port, count)})
                r = await http.get(f"http://127.0.0.1:{port}/healthz")
                seen.append((r.status_code, r.text))
            await servers.sync({})
            try:
                await http.get(f"http://127.0.0.1:{port}/")
            except httpx.ConnectError:
                seen.append((0, "refused"))
        await servers.close()
        return seen
    (ok, body), (unavailable, empty), closed = asyncio.run(scenario())
    assert ok == 200 and json.loads(body) == {
        "service": {"namespace": "d", "name": "web"}, "localEndpoints": 2,
        "serviceProxyHealthy": True}
    assert body.startswith('{\n\t"service": {\n\t\t"namespace": "d",')  # upstream's layout
    assert unavailable == 503 and json.loads(empty)["localEndpoints"] == 0
    assert closed == (0, "refused")
