"""`kubectl top node` benchmark: how long metrics.k8s.io takes to list the NodeMetrics of
`--nodes` simulated nodes, and `kubectl top node` end to end when a kubectl is on PATH.
Prints figures, asserts nothing.

    python -m bench.top                      # 1,000 simulated nodes
    python -m bench.top --nodes 200 --reads 10

A cluster (`kapi up --simulated-nodes N`, no pods) runs as a subprocess; the bench waits
until every node is Ready and its figures are served (the first scrape that reaches
them), then times `--reads` lists of NodeMetrics and of Nodes (what `kubectl top node`
reads) and three runs of `kubectl top node`. The server is ours, started here and
stopped by PID; every wait is bounded by `--timeout`. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.api import HOST, ServerProc, free_port, log
from bench.scheduler import wait_nodes
from runtime.client.resources import NODES
from runtime.client.rest import Client

NODE_METRICS = "/apis/metrics.k8s.io/v1beta1/nodes"


async def timed_reads(client: Client, reads: int) -> tuple[list[float], list[float]]:
    metrics, nodes = [], []
    for _ in range(reads):
        t0 = time.perf_counter()
        await client.request("GET", NODE_METRICS)
        metrics.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await client.list(NODES)
        nodes.append(time.perf_counter() - t0)
    return metrics, nodes


def kubectl_top(server: str, runs: int = 3) -> list[float] | None:
    binary = shutil.which("kubectl")
    if binary is None:
        return None
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([binary, "--server", server, "top", "node", "--no-headers"],
                       capture_output=True, check=True, timeout=120)
        times.append(time.perf_counter() - t0)
    return times


def show(what: str, times: list[float]) -> None:
    times = sorted(times)
    print(f"{what}: {len(times)} runs, p50 {statistics.median(times) * 1000:.0f} ms, "
          f"max {times[-1] * 1000:.0f} ms", flush=True)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "kapi.cli", "up", "--insecure-http", "--data-dir",
            str(workdir), "--port", str(port), "--storage", "memory", "--nodes", "0",
            "--simulated-nodes", str(args.nodes), "--metric-resolution",
            str(args.metric_resolution)]
    server = ServerProc("kapi up", argv, port, workdir / "server.log")
    client = Client(f"http://{HOST}:{port}")
    try:
        await server.start()
        took = await wait_nodes(client, args.nodes, args.timeout)
        log(f"{args.nodes} simulated nodes Ready after {took:.1f} s")
        t0 = time.monotonic()
        while len((await client.request("GET", NODE_METRICS))["items"]) < args.nodes:
            if time.monotonic() - t0 > args.timeout:
                raise TimeoutError("not every node's figures were served in time")
            await asyncio.sleep(0.5)
        log(f"every node's figures served {time.monotonic() - t0:.1f} s later")
        metrics, nodes = await timed_reads(client, args.reads)
        show(f"list NodeMetrics of {args.nodes} nodes", metrics)
        show(f"list Nodes of {args.nodes} nodes", nodes)
        top = await asyncio.to_thread(kubectl_top, f"http://{HOST}:{port}")
        if top is None:
            print("kubectl top node: no kubectl on PATH", flush=True)
        else:
            show(f"kubectl top node over {args.nodes} nodes", top)
    finally:
        await client.close()
        server.stop()  # our own child, by PID (SIGTERM)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.top", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, kind, default in (("--nodes", int, 1000), ("--reads", int, 5),
                                ("--metric-resolution", float, 15.0),
                                ("--timeout", float, 300.0)):
        p.add_argument(flag, type=kind, default=default)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kapi-bench-top-") as d:
        asyncio.run(run(args, Path(d)))


if __name__ == "__main__":
    main()
