"""Services on a Docker-backed node: prints figures, asserts nothing.

    python -m bench.services                 # as root, with a Docker engine
    python -m bench.services --requests 3000 --concurrency 16

A cluster of our own (`kapi up --nodes 1`, a /24 service CIDR of its own, data in a
temporary folder) runs a 3-replica busybox httpd Deployment behind a Service. Printed:
  - requests/s and p99 of HTTP/1.0 GETs from the host through the ClusterIP, and to the
    same pods' IPs directly (round robin), in the same run, same concurrency;
  - DNS queries/s and p99 against kube-dns's ClusterIP (through the proxy's rules), and
    the host resolver library path (getaddrinfo of "localhost", from /etc/hosts);
  - propagation: for a Service with 1,000 hand-written endpoints, from replacing one
    address to the new one being in the rules; then, with those 1,000 still in the
    rules, from a new pod seen Ready (polled) to its address in the proxy's rules.
Traffic goes only to loopback, the cluster's containers and its own ClusterIPs; every
loop is bounded in count and time. The server is stopped by its PID, the cluster's
containers removed by its label.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx

HOST = "127.0.0.1"
HTTPD = ("mkdir -p /w && hostname > /w/index.html && echo ok > /w/ready && "
         "exec httpd -f -p 8080 -h /w")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def row(label: str, count: int, seconds: float, lat: list[float]) -> str:
    return (f"{label:<44} n={count:<6} {count / seconds:8.0f} /s   p50="
            f"{statistics.median(lat) * 1000:6.2f} ms  p99={pct(lat, 0.99) * 1000:6.2f} ms")


async def http_get(ip: str, port: int) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 2)
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    await asyncio.wait_for(reader.read(), 2)
    writer.close()


async def load(targets: list[tuple[str, int]], total: int, concurrency: int,
               limit: float) -> tuple[int, float, list[float]]:
    """`total` requests (at most `limit` seconds), round robin over targets."""
    lat: list[float] = []
    counter = iter(range(total))
    deadline = time.monotonic() + limit

    async def worker() -> None:
        for i in counter:
            if time.monotonic() > deadline:
                return
            t = time.monotonic()
            try:
                await http_get(*targets[i % len(targets)])
            except (TimeoutError, OSError):
                continue
            lat.append(time.monotonic() - t)
    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(lat), time.monotonic() - start, lat


async def timed(fn: Callable[[], Awaitable[Any]], count: int, limit: float
                ) -> tuple[int, float, list[float]]:
    lat: list[float] = []
    start = time.monotonic()
    for _ in range(count):
        if time.monotonic() - start > limit:
            break
        t = time.monotonic()
        await fn()
        lat.append(time.monotonic() - t)
    return len(lat), time.monotonic() - start, lat


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, timeout=120, check=True).stdout


def wait(fn: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise SystemExit(f"bench: timed out waiting for {what}")


def nat_rules() -> str:
    return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                          timeout=30).stdout


def until_in_rules(needle: str, limit: float = 10) -> float:
    start = time.monotonic()
    while f"--to-destination {needle}" not in nat_rules():
        if time.monotonic() - start > limit:
            return float("nan")
    return time.monotonic() - start


def manifests(cidr_tag: str) -> str:
    import json
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                           "terminationGracePeriodSeconds": 1, "containers": [{
                               "name": "web", "image": "busybox", "command": ["sh", "-c", HTTPD],
                               "ports": [{"name": "web", "containerPort": 8080}],
                               "readinessProbe": {"httpGet": {"path": "/ready", "port": "web"},
                                                  "periodSeconds": 1}}]}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80,
                                                           "targetPort": "web"}]}}
    big = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big"},
           "spec": {"ports": [{"name": "http", "port": 80}]}}
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [deploy, svc, big]})


def big_endpoints(replaced: int) -> dict[str, Any]:
    # 198.18.0.0/15 (RFC 2544, benchmarking): only DNAT targets, nothing is sent there
    ips = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(1000)]
    if replaced:
        ips[0] = f"198.19.0.{replaced}"
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "big"},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips],
                         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}


def ready_pods(c: httpx.Client) -> dict[str, str]:
    pods = c.get("/api/v1/namespaces/default/pods", params={"labelSelector": "app=web"}).json()
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods["items"]
            if any(x["type"] == "Ready" and x["status"] == "True"
                   for x in p["status"].get("conditions") or [])}


def propagation_pods(c: httpx.Client, kubeconfig: Path, rounds: int) -> list[float]:
    out = []
    for i in range(rounds):
        before = set(ready_pods(c))
        kubectl(kubeconfig, "scale", "deployment", "web", f"--replicas={4 + i}")
        new = wait(lambda b=before: set(ready_pods(c)) - b, "a new ready pod")
        ip = ready_pods(c)[next(iter(new))]
        out.append(until_in_rules(f"{ip}:8080"))
    return out


def propagation_big(c: httpx.Client, rounds: int) -> list[float]:
    c.put("/api/v1/namespaces/default/endpoints/big", json=big_endpoints(0))
    wait(lambda: "198.18.3.250:8080" in nat_rules(), "1,000 endpoints in the rules", 60)
    out = []
    for i in range(1, rounds + 1):
        c.put("/api/v1/namespaces/default/endpoints/big", json=big_endpoints(i))
        out.append(until_in_rules(f"198.19.0.{i}:8080"))
    return out


async def measure(args: argparse.Namespace, cluster_ip: str, pods: list[str],
                  dns_ip: str, dns_direct: tuple[str, int]) -> None:
    import dns.asyncquery
    import dns.message
    n, c = args.requests, args.concurrency
    print(row("HTTP via ClusterIP (3 pods)", *await load([(cluster_ip, 80)], n, c, 30)))
    print(row("HTTP direct to the 3 pod IPs", *await load([(ip, 8080) for ip in pods], n, c,
                                                          30)))
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    print(row("DNS A web.default.svc via kube-dns ClusterIP", *await timed(
        lambda: dns.asyncquery.udp(query, dns_ip, timeout=2), args.queries, 20)))
    print(row("DNS, same query, to the server's own address", *await timed(
        lambda: dns.asyncquery.udp(query, dns_direct[0], port=dns_direct[1], timeout=2),
        args.queries, 20)))
    loop = asyncio.get_running_loop()
    print(row("host resolver library: getaddrinfo localhost", *await timed(
        lambda: loop.getaddrinfo("localhost", 80, family=socket.AF_INET), args.queries, 20)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    if os.geteuid() != 0:
        print("bench.services: needs root (iptables)", file=sys.stderr)
        return 2
    cidr = f"10.{240 + os.getpid() % 10}.{os.getpid() % 250}.0/24"
    with tempfile.TemporaryDirectory(prefix="kapi-bench-svc-") as tmp:
        return run(Path(tmp), cidr, args)


def run(workdir: Path, cidr: str, args: argparse.Namespace) -> int:
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-m", "kapi.cli", "up", "--insecure-http", "--data-dir", str(workdir),
                             "--port", str(port), "--nodes", "1", "--service-cidr", cidr],
                            stdout=(workdir / "server.log").open("ab"), stderr=subprocess.STDOUT)
    kubeconfig, uid = workdir / "kubeconfig", ""
    try:
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10) as c:
            wait(lambda: _ok(c), "the API server")
            uid = c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"]
            kubectl(kubeconfig, "apply", "-f", "-", stdin=manifests(cidr))
            wait(lambda: len(ready_pods(c)) == 3, "3 ready pods")
            svc = c.get("/api/v1/namespaces/default/services/web").json()
            wait(lambda: f"{svc['spec']['clusterIP']}/32" in nat_rules(), "the rules")
            dns_ip = cidr.replace(".0/24", ".10")
            wait(lambda: f"{dns_ip}/32" in nat_rules(), "kube-dns's rules")
            print(f"kapi {cidr}: 3 busybox httpd pods, {args.concurrency} concurrent clients")
            ep = c.get("/api/v1/namespaces/kube-system/endpoints/kube-dns").json()["subsets"][0]
            direct = (ep["addresses"][0]["ip"], ep["ports"][0]["port"])
            asyncio.run(measure(args, svc["spec"]["clusterIP"], list(ready_pods(c).values()),
                                dns_ip, direct))
            big = propagation_big(c, 20)
            print(f"{'1,000-endpoint Service: write -> in rules':<44} n={len(big):<6} "
                  f"p50={statistics.median(big) * 1000:6.0f} ms  p99={pct(big, .99) * 1000:6.0f} ms")
            pods = propagation_pods(c, kubeconfig, args.rounds)
            # the big Service's 1,000 endpoints are still in the rules: the proxy rewrites
            # the changed chains of a table that size
            print(f"{'pod seen Ready -> in rules (+1,000 endpoints)':<44} n={len(pods):<6} "
                  f"p50={statistics.median(pods) * 1000:6.0f} ms  p99={pct(pods, .99) * 1000:6.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if uid:
            import docker
            engine = docker.from_env()
            for ctr in engine.containers.list(all=True, filters={
                    "label": f"dev.kapi.cluster={uid}"}):
                ctr.remove(force=True)
        subprocess.run(["ip", "route", "del", "unreachable", cidr], capture_output=True)
    return 0


def _ok(c: httpx.Client) -> bool:
    try:
        return c.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
