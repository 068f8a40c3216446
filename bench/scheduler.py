"""Scheduler and simulated-node benchmark: prints figures, asserts nothing.

    python -m bench.scheduler                 # both phases, ~2-4 minutes
    python -m bench.scheduler --quick         # 1/10 of the counts
    python -m bench.scheduler --mode inprocess --storage memory

Phase 1, throughput: a cluster of `--nodes` simulated nodes (`kapi up --no-controllers
--simulated-nodes N`), `--pods` pending pods (10m cpu, 16Mi each), then the scheduler:
  separate  (default) the pods are created first, then `kapi scheduler` starts as its own
            process (like kube-scheduler). Two rates: end to end = pods / (scheduler
            start -> last bind), which includes its start-up and informer sync; steady =
            pods / (first bind -> last bind), the scheduling loop alone.
  inprocess the scheduler runs inside `kapi up` (one process, one core, shared with the
            API server and the simulated nodes) while the pods are created.
Phase 2, readiness: `--ready-pods` bare pods created on `--ready-nodes` simulated nodes
(stand-ins for a 1,000-replica Deployment, whose controller is another component):
the time from the first create to every pod Running and Ready.

Every server or scheduler process is ours, started here and stopped by PID with SIGTERM;
every phase is bounded by `--timeout` seconds. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.api import HOST, ServerProc, free_port, log
from bench.loadgen import proc_cpu_seconds, system_busy_seconds
from runtime.client.resources import DEPLOYMENTS, NAMESPACES, NODES, PODS
from runtime.client.rest import ApiError, Client

Obj = dict[str, Any]


@dataclass
class Tally:
    """What the bench's own pod watch saw, with the times it saw it."""
    total: int
    bound: set[str] = field(default_factory=set)
    ready: set[str] = field(default_factory=set)
    first_bound: float = 0.0
    last_bound: float = 0.0
    last_ready: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    want_ready: bool = False

    def see(self, pod: Obj) -> None:
        name, now = pod["metadata"]["name"], time.monotonic()
        if (pod.get("spec") or {}).get("nodeName") and name not in self.bound:
            self.bound.add(name)
            self.first_bound = self.first_bound or now
            self.last_bound = now
        conds = (pod.get("status") or {}).get("conditions") or []
        if name not in self.ready and any(c.get("type") == "Ready" and c.get("status") == "True"
                                          for c in conds):
            self.ready.add(name)
            self.last_ready = now
        if len(self.ready if self.want_ready else self.bound) >= self.total:
            self.done.set()


class CpuMeter:
    """CPU seconds used by the server, the scheduler process, this bench and everything
    else on the machine between start() and report()."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.sched_pid: int | None = None
        self.start()

    def _sample(self) -> tuple[float, float, float, float, float]:
        return (time.monotonic(), proc_cpu_seconds(self.server_pid) or 0.0,
                proc_cpu_seconds(self.sched_pid) or 0.0, time.process_time(),
                system_busy_seconds() or 0.0)

    def start(self) -> None:
        self.t0 = self._sample()

    def report(self, pods: int) -> str:
        t1 = self._sample()
        wall, srv, sch, me, busy = (b - a for a, b in zip(self.t0, t1, strict=True))
        other = max(busy - srv - sch - me, 0.0) / max(wall, 1e-9)
        sched = f", scheduler {sch / pods * 1000:.2f} ms" if self.sched_pid else ""
        return (f"cpu per pod: server {srv / pods * 1000:.2f} ms{sched}; "
                f"other processes {other:.2f} cores busy")


def pod_body(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "registry.invalid/pause:1",
                                     "resources": {"requests": {"cpu": "10m",
                                                                "memory": "16Mi"}}}]}}


async def watch_pods(client: Client, ns: str, tally: Tally) -> None:
    """Feed the tally from a list, then a watch; relist if the watch breaks."""
    while not tally.done.is_set():
        listed = await client.list(PODS, ns)
        for p in listed.get("items") or []:
            tally.see(p)
        rv = listed["metadata"]["resourceVersion"]
        try:
            async for ev in client.watch(PODS, ns, resource_version=rv, timeout_seconds=600):
                if ev["type"] in ("ADDED", "MODIFIED"):
                    tally.see(ev["object"])
                if tally.done.is_set():
                    return
        except (ApiError, httpx.HTTPError) as e:
            log(f"watch broke ({e!r}); relisting")


async def create_pods(client: Client, ns: str, count: int, concurrency: int = 32) -> float:
    """Create the pods; returns the seconds it took."""
    names = iter(range(count))
    t0 = time.monotonic()

    async def worker() -> None:
        for i in names:
            await client.create(PODS, pod_body(f"p-{i:05d}"), ns)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - t0


async def wait_nodes(client: Client, count: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        nodes = (await client.list(NODES)).get("items") or []
        ready = sum(1 for n in nodes for c in (n.get("status") or {}).get("conditions") or []
                    if c.get("type") == "Ready" and c.get("status") == "True")
        if ready >= count:
            return time.monotonic() - t0
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{count} nodes not Ready after {timeout:.0f} s")


def up(workdir: Path, port: int, nodes: int, storage: str, scheduler: bool,
       controllers: bool = False) -> ServerProc:
    argv = [sys.executable, "-m", "kapi.cli", "up", "--insecure-http", "--data-dir", str(workdir), "--port",
            str(port), "--storage", storage, "--nodes", "0", "--simulated-nodes", str(nodes)]
    if not controllers:  # then nothing makes default service accounts either
        argv += ["--no-controllers", "--disable-admission-plugins", "ServiceAccount"]
    if not scheduler:
        argv.append("--no-scheduler")
    return ServerProc("kapi up", argv, port, workdir / "server.log")


async def with_cluster(workdir: Path, nodes: int, storage: str, scheduler: bool,
                       timeout: float, controllers: bool = False
                       ) -> tuple[ServerProc, Client, float]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    server = up(workdir, port, nodes, storage, scheduler, controllers)
    client = Client(f"http://{HOST}:{port}", max_connections=64)
    try:
        await server.start()
        took = await wait_nodes(client, nodes, timeout)
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": "bench"}})
    except BaseException:
        await client.close()
        server.stop()  # our own child, by PID (SIGTERM)
        raise
    return server, client, took


def start_scheduler(clusterdir: Path) -> subprocess.Popen[bytes]:
    """`kapi scheduler` as its own process (like kube-scheduler), logging to a file."""
    argv = [sys.executable, "-m", "kapi.cli", "scheduler", "--kubeconfig",
            str(clusterdir / "kubeconfig"), "--leader-elect", "false"]
    with open(clusterdir / "scheduler.log", "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


async def throughput(args: argparse.Namespace, workdir: Path, mode: str) -> None:
    inproc = mode == "inprocess"
    server, client, took = await with_cluster(workdir / f"tp-{mode}", args.nodes, args.storage,
                                              inproc, args.timeout)
    log(f"{args.nodes} simulated nodes Ready in {took:.1f} s")
    sched: subprocess.Popen[bytes] | None = None
    tally = Tally(args.pods)
    try:
        if inproc:
            watcher = asyncio.create_task(watch_pods(client, "bench", tally))
            t0 = time.monotonic()
            meter = CpuMeter(server.pid)
            created = await create_pods(client, "bench", args.pods)
        else:
            created = await create_pods(client, "bench", args.pods)
            watcher = asyncio.create_task(watch_pods(client, "bench", tally))
            t0 = time.monotonic()
            sched = start_scheduler(workdir / f"tp-{mode}")
            meter = CpuMeter(server.pid)
            meter.sched_pid = sched.pid
        await asyncio.wait_for(tally.done.wait(), args.timeout)
        watcher.cancel()
        print(f"[{mode}] {args.pods} pods on {args.nodes} simulated nodes ({args.storage}): "
              f"created in {created:.1f} s ({args.pods / created:.0f}/s); "
              + bind_rates(tally, t0, "the first create" if inproc else "scheduler start")
              + "\n    " + meter.report(args.pods), flush=True)
    except TimeoutError:
        print(f"[{mode}] timed out after {args.timeout:.0f} s: {len(tally.bound)}/{args.pods} "
              "bound", flush=True)
    finally:
        if sched is not None and sched.poll() is None:
            sched.terminate()  # SIGTERM to our own child, by its Popen object
            sched.wait(timeout=15)
        await client.close()
        server.stop()


def bind_rates(tally: Tally, t0: float, since: str) -> str:
    """Bind rates end to end (from t0, start-up and sync included) and steady (first to
    last bind)."""
    bound = len(tally.bound)
    total = max(tally.last_bound - t0, 1e-9)
    span = max(tally.last_bound - tally.first_bound, 1e-9)
    return (f"bound {bound}: end to end {bound / total:.0f} pods/s ({since} to last bind "
            f"{total:.1f} s, first bind after {tally.first_bound - t0:.1f} s); steady "
            f"{bound / span:.0f} pods/s (first to last bind {span:.1f} s)")


async def readiness(args: argparse.Namespace, workdir: Path) -> None:
    server, client, _ = await with_cluster(workdir / "ready", args.ready_nodes, args.storage,
                                           True, args.timeout)
    tally = Tally(args.ready_pods, want_ready=True)
    try:
        watcher = asyncio.create_task(watch_pods(client, "bench", tally))
        t0 = time.monotonic()
        meter = CpuMeter(server.pid)
        await create_pods(client, "bench", args.ready_pods)
        await asyncio.wait_for(tally.done.wait(), args.timeout)
        watcher.cancel()
        print(f"[ready] {args.ready_pods} bare pods created -> all Running+Ready on "
              f"{args.ready_nodes} simulated nodes in {tally.last_ready - t0:.1f} s "
              f"(all bound after {tally.last_bound - t0:.1f} s; bare pods stand in for a "
              f"{args.ready_pods}-replica Deployment)\n    " + meter.report(args.ready_pods),
              flush=True)
    except TimeoutError:
        print(f"[ready] timed out after {args.timeout:.0f} s: {len(tally.ready)}/"
              f"{args.ready_pods} Ready", flush=True)
    finally:
        await client.close()
        server.stop()


def deployment_body(replicas: int) -> Obj:
    labels = {"app": "bench"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "c", "image": "busybox:latest"}]}}}}


async def deployment(args: argparse.Namespace, workdir: Path) -> None:
    """A Deployment of N replicas through the whole cluster: controllers, scheduler, nodes."""
    server, client, _ = await with_cluster(workdir / "deploy", args.ready_nodes, args.storage,
                                           True, args.timeout, controllers=True)
    try:
        t0 = time.monotonic()
        await client.create(DEPLOYMENTS, deployment_body(args.ready_pods), "bench")
        deadline = t0 + args.timeout
        ready = 0
        while time.monotonic() < deadline:
            d = await client.get(DEPLOYMENTS, "bench", "bench")
            ready = (d.get("status") or {}).get("readyReplicas", 0)
            if ready == args.ready_pods:
                break
            await asyncio.sleep(0.1)
        took = time.monotonic() - t0
        if ready == args.ready_pods:
            print(f"[deployment] {args.ready_pods}-replica Deployment created -> readyReplicas "
                  f"{ready}/{args.ready_pods} on {args.ready_nodes} simulated nodes after "
                  f"{took:.1f} s", flush=True)
        else:
            print(f"[deployment] timed out after {args.timeout:g} s: readyReplicas "
                  f"{ready}/{args.ready_pods} on {args.ready_nodes} simulated nodes", flush=True)
    finally:
        await client.close()
        server.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scheduler", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10_000)
    p.add_argument("--ready-nodes", type=int, default=100)
    p.add_argument("--ready-pods", type=int, default=1000)
    p.add_argument("--mode", choices=("separate", "inprocess", "both"), default="separate")
    p.add_argument("--storage", choices=("sqlite", "memory"), default="sqlite")
    p.add_argument("--phases", default="throughput,ready,deployment")
    p.add_argument("--timeout", type=float, default=300.0, help="bound of every phase")
    p.add_argument("--quick", action="store_true", help="1/10 of the counts")
    args = p.parse_args(argv)
    if args.quick:
        args.nodes, args.pods = args.nodes // 10, args.pods // 10
        args.ready_nodes, args.ready_pods = args.ready_nodes // 10, args.ready_pods // 10
    return args


async def amain(args: argparse.Namespace) -> None:
    phases = args.phases.split(",")
    with tempfile.TemporaryDirectory(prefix="kapi-bench-sched-") as tmp:
        if "throughput" in phases:
            for mode in (("separate", "inprocess") if args.mode == "both" else (args.mode,)):
                await throughput(args, Path(tmp), mode)
        if "ready" in phases:
            await readiness(args, Path(tmp))
        if "deployment" in phases:
            await deployment(args, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    asyncio.run(amain(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
