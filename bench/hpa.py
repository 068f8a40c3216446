"""Autoscaler benchmark: how long `--hpas` HorizontalPodAutoscalers over simulated pods take
to react to a usage change, and what one reconcile costs. Prints figures, asserts nothing.

    python -m bench.hpa                       # 100 HPAs x 2 pods on 10 nodes, 15 s sync
    python -m bench.hpa --hpas 20 --sync-period 2 --metric-resolution 2

A cluster (`kapi up --simulated-nodes N`, every controller but the autoscaler) runs as a
subprocess; the autoscaler runs here, in this process, with its own client, so that its
reconcile durations can be read. Each Deployment has `--pods` pods requesting 100m of
CPU and declaring 50m of use (sim.kapi.dev/usage), each HPA targets 50%: steady. Once
every HPA has measured its pods, every pod is annotated to 150m at once; the reaction
time of an HPA is from the end of those writes to the first time the bench sees its
desiredReplicas grow, and from the first time the metrics API shows the new usage of all
its pods (the cluster scrapes the kubelets each `--metric-resolution` seconds, as
metrics-server does), which is the part the autoscaler's sync owns. Reconcile figures:
over two sync periods of the steady cluster, then over the whole run (the scale-out makes
the cluster, one process with the simulated nodes, create and schedule hundreds of pods
meanwhile), then where its time goes: the autoscaler's API calls by kind.

The server is ours, started here and stopped by PID; every wait is bounded by
`--timeout`. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.api import HOST, ServerProc, free_port, log
from bench.scheduler import wait_nodes
from runtime.client.events import EventRecorder
from runtime.client.informer import InformerFactory
from runtime.client.resources import DEPLOYMENTS, HPAS, NAMESPACES, PODS
from runtime.client.rest import Client
from runtime.controllers.context import ControllerContext, ControllerOptions
from runtime.controllers.podautoscaler.controller import HorizontalController

Obj = dict[str, Any]
NS = "bench"
USAGE = "sim.kapi.dev/usage"


def deployment(i: int, pods: int) -> Obj:
    name = f"app-{i:03d}"
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": pods, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": {
                         USAGE: json.dumps({"cpu": "50m"})}},
                         "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {
                             "requests": {"cpu": "100m"}}}]}}}}


def hpa(i: int) -> Obj:
    name = f"app-{i:03d}"
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicas": 1, "maxReplicas": 20,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}}


class TimedClient(Client):
    """A client that keeps how long each of its calls took, by method and path shape."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls: dict[str, list[float]] = {}

    async def request(self, method: str, path: str, **kw: Any) -> Obj:
        t0 = time.perf_counter()
        try:
            return await super().request(method, path, **kw)
        finally:
            shape = re.sub(r"/namespaces/[^/]+", "/namespaces/NS", path)
            shape = re.sub(r"/app-\d+", "/NAME", shape)
            self.calls.setdefault(f"{method} {shape}", []).append(time.perf_counter() - t0)


async def until(what: str, timeout: float, check: Any, every: float = 0.5) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if await check():
            return time.monotonic() - t0
        await asyncio.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


async def bounded(n: int, coros: list[Any]) -> None:
    sem = asyncio.Semaphore(n)

    async def one(c: Any) -> None:
        async with sem:
            await c
    await asyncio.gather(*(one(c) for c in coros))


async def run(args: argparse.Namespace, workdir: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "kapi.cli", "up", "--insecure-http", "--data-dir", str(workdir), "--port",
            str(port), "--storage", "memory", "--nodes", "0", "--simulated-nodes",
            str(args.nodes), "--controllers", "*,-horizontalpodautoscaling",
            "--metric-resolution", str(args.metric_resolution)]
    server = ServerProc("kapi up", argv, port, workdir / "server.log")
    client = Client(f"http://{HOST}:{port}", max_connections=64)
    hpa_client = TimedClient(f"http://{HOST}:{port}", max_connections=16)
    controller: HorizontalController | None = None
    informers = InformerFactory(hpa_client)
    try:
        await server.start()
        await wait_nodes(client, args.nodes, args.timeout)
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": NS}})
        await bounded(16, [client.create(DEPLOYMENTS, deployment(i, args.pods), NS)
                           for i in range(args.hpas)])
        total = args.hpas * args.pods

        async def all_running() -> bool:
            pods = (await client.list(PODS, NS))["items"]
            return sum((p.get("status") or {}).get("phase") == "Running" for p in pods) >= total
        took = await until(f"{total} running pods", args.timeout, all_running)
        log(f"{total} pods of {args.hpas} Deployments running on {args.nodes} simulated "
            f"nodes after {took:.1f} s")
        await bounded(16, [client.create(HPAS, hpa(i), NS) for i in range(args.hpas)])
        options = ControllerOptions(hpa_sync_period=args.sync_period,
                                    hpa_initial_readiness_delay=0.0)
        ctx = ControllerContext(client=hpa_client, informers=informers,
                                recorder=EventRecorder(hpa_client, "bench-hpa"),
                                options=options)
        controller = HorizontalController(ctx)
        informers.start()
        await informers.wait_synced()
        controller.start()

        async def all_measured() -> bool:
            items = (await client.list(HPAS, NS))["items"]
            return sum(bool((h.get("status") or {}).get("currentMetrics")) for h in items) \
                >= args.hpas
        await until("every HPA to measure its pods", args.timeout, all_measured)
        start = len(controller.durations)
        await asyncio.sleep(args.sync_period * 2)  # two rounds of a steady cluster
        steady = list(controller.durations)[start:]
        await measure(args, client)
        report("steady", steady)
        report("whole run (with the scale-out's pod churn)", list(controller.durations))
        report_calls(hpa_client.calls)
    finally:
        if controller is not None:
            await controller.stop()
        await informers.stop()
        await client.close()
        await hpa_client.close()
        server.stop()  # our own child, by PID (SIGTERM)


async def measure(args: argparse.Namespace, client: Client) -> None:
    pods = (await client.list(PODS, NS))["items"]
    patch = {"metadata": {"annotations": {USAGE: json.dumps({"cpu": "150m"})}}}
    t0 = time.monotonic()
    await bounded(16, [client.patch(PODS, p["metadata"]["name"], patch, NS) for p in pods])
    changed = time.monotonic()
    log(f"{len(pods)} pods annotated to 150m in {changed - t0:.1f} s")
    reacted: dict[str, float] = {}
    visible: dict[str, float] = {}

    async def all_reacted() -> bool:
        if len(visible) < args.hpas:
            await shown(client, changed, visible)
        for h in (await client.list(HPAS, NS))["items"]:
            name = h["metadata"]["name"]
            if name not in reacted and (h.get("status") or {}).get("desiredReplicas", 0) \
                    > args.pods:
                reacted[name] = time.monotonic() - changed
        return len(reacted) >= args.hpas
    # polls at most twice a second: this process runs the autoscaler being measured too
    await until("every HPA to react", args.timeout, all_reacted, every=0.5)
    periods = f"sync period {args.sync_period:g} s, metric resolution " \
        f"{args.metric_resolution:g} s"
    spread(f"reaction to a usage change ({args.hpas} HPAs, {periods})", reacted.values())
    spread("  of which until the metrics API showed it", visible.values())
    spread("  and then until the HPA reacted (goal: the next sync)",
           [max(t - visible.get(n, t), 0.0) for n, t in reacted.items()])


async def shown(client: Client, changed: float, visible: dict[str, float]) -> None:
    """Note when the metrics API first shows 150m for every pod of each Deployment."""
    body = await client.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods")
    high: dict[str, bool] = {}
    for item in body.get("items") or []:
        app = item["metadata"]["name"].rsplit("-", 2)[0]
        cpu = item["containers"][0]["usage"]["cpu"]
        high[app] = high.get(app, True) and cpu.endswith("n") and int(cpu[:-1]) >= 150_000_000
    for app, all_high in high.items():
        if all_high and app not in visible:
            visible[app] = time.monotonic() - changed


def spread(what: str, values: Any) -> None:
    times = sorted(values)
    if not times:
        print(f"{what}: none", flush=True)
        return
    p99 = times[min(int(len(times) * 0.99), len(times) - 1)]
    print(f"{what}: first {times[0]:.1f} s, p50 {statistics.median(times):.1f} s, "
          f"p99 {p99:.1f} s, last {times[-1]:.1f} s", flush=True)


def report(what: str, durations: list[float]) -> None:
    if not durations:
        print(f"reconcile per HPA, {what}: none", flush=True)
        return
    durations = sorted(durations)
    p50 = statistics.median(durations) * 1000
    p99 = durations[min(int(len(durations) * 0.99), len(durations) - 1)] * 1000
    print(f"reconcile per HPA, {what}: {len(durations)} reconciles, p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms, max {durations[-1] * 1000:.1f} ms", flush=True)


def report_calls(calls: dict[str, list[float]]) -> None:
    """The autoscaler's API calls by kind, most total time first (discovery left out)."""
    print("the autoscaler's API calls over the whole run:", flush=True)
    for kind, times in sorted(calls.items(), key=lambda kv: -sum(kv[1])):
        if "/NAME" not in kind and "/namespaces/" not in kind:
            continue
        times = sorted(times)
        p99 = times[min(int(len(times) * 0.99), len(times) - 1)] * 1000
        print(f"  {kind}: {len(times)} calls, p50 {statistics.median(times) * 1000:.1f} ms, "
              f"p99 {p99:.1f} ms, total {sum(times):.1f} s", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.hpa", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hpas", type=int, default=100)
    p.add_argument("--pods", type=int, default=2, help="pods per Deployment")
    p.add_argument("--nodes", type=int, default=10)
    p.add_argument("--sync-period", type=float, default=15.0)
    p.add_argument("--metric-resolution", type=float, default=15.0,
                   help="the cluster's scrape interval of the kubelets (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=180.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kapi-bench-hpa-") as d:
        asyncio.run(run(args, Path(d)))


if __name__ == "__main__":
    main()
