"""Pod start latency on a Docker-backed node: prints figures, asserts nothing.

    python -m bench.pods                  # batches of 1 and 20 pods
    python -m bench.pods --counts 1,20,100
    python -m bench.pods --counts 100 --idle 30   # then 30 s of idle CPU with them running

A cluster of our own (`kapi up --nodes 1`, its data in a temporary folder) runs batches
of busybox `sleep` pods created at once; a watch records when each pod is Running and
when it is Ready (create -> Running, create -> Ready, p50/p99). Next to it, in the same
run, the same sandbox+container pair started with the Docker SDK alone (pause with
shareable IPC, then busybox joining its network and IPC): one pair at a time, and the
whole batch at once on 8 threads (the kubelet's engine pool). Every container made here
carries the cluster's label or is removed by its id; the server is stopped by its PID.
Needs a reachable Docker engine (`make docker-env`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.procs import start_server, stop_server
from runtime.kubelet import cri, images

HOST = "127.0.0.1"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def line(label: str, values: list[float]) -> str:
    return (f"{label:<34} n={len(values):<4} p50={statistics.median(values) * 1000:7.0f} ms"
            f"  p99={pct(values, 0.99) * 1000:7.0f} ms")


def _pair(engine: Any, made: list[Any]) -> None:
    box = engine.containers.run(images.PAUSE_IMAGE, detach=True, ipc_mode="shareable")
    made.append(box)
    made.append(engine.containers.run(images.BUSYBOX_IMAGE, ["sleep", "600"], detach=True,
                                      network_mode=f"container:{box.id}",
                                      ipc_mode=f"container:{box.id}"))


def bare_pairs(engine: Any, count: int, workers: int) -> list[float]:
    """Sandbox + container pairs with the SDK alone on `workers` threads; each pair's
    time from the batch start, or (one worker) from its own start."""
    from concurrent.futures import ThreadPoolExecutor

    made: list[Any] = []
    t0 = time.monotonic()

    def one(_: int) -> float:
        start = t0 if workers > 1 else time.monotonic()
        _pair(engine, made)
        return time.monotonic() - start
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, range(count)))
    finally:
        for c in made:
            c.remove(force=True)


def start_cluster(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "kapi.cli", "up", "--insecure-http", "--data-dir",
            str(workdir), "--port", str(port), "--nodes", "1"]

    def node_registered() -> bool:
        nodes = httpx.get(f"http://{HOST}:{port}/api/v1/nodes", timeout=5).json()
        return any(n["metadata"]["name"] == "kapi-node-1" for n in nodes.get("items", []))
    return start_server(argv, workdir / "server.log", node_registered,
                        "the cluster's Docker node to register", every=0.2)


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                {"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}}


def watch_batch(url: str, ns: str, names: set[str], created: dict[str, float],
                timeout: float) -> tuple[dict[str, float], dict[str, float]]:
    """Create the pods while a watch records when each is Running and Ready."""
    running: dict[str, float] = {}
    ready: dict[str, float] = {}
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=timeout)) as c:
        rv = c.get(f"/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"]

        def creator() -> None:
            with httpx.Client(base_url=url, timeout=30) as w:
                for n in sorted(names):
                    created[n] = time.monotonic()
                    w.post(f"/api/v1/namespaces/{ns}/pods", json=pod(n)).raise_for_status()
        t = threading.Thread(target=creator)
        deadline = time.monotonic() + timeout
        with c.stream("GET", f"/api/v1/namespaces/{ns}/pods", params={
                "watch": "true", "resourceVersion": rv,
                "timeoutSeconds": str(int(timeout))}) as r:
            t.start()
            for raw in r.iter_lines():
                _record(raw, running, ready)
                if len(ready) == len(names) or time.monotonic() > deadline:
                    break
        t.join()
    return running, ready


def _record(raw: str, running: dict[str, float], ready: dict[str, float]) -> None:
    import json
    if not raw:
        return
    obj = json.loads(raw)["object"]
    name, st = obj["metadata"]["name"], obj.get("status") or {}
    now = time.monotonic()
    if st.get("phase") == "Running":
        running.setdefault(name, now)
    if any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or []):
        ready.setdefault(name, now)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads), from /proc."""
    import os
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid: int, seconds: float) -> float:
    """The share of one core process `pid` used over `seconds` of wall time."""
    before, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - t0)


def main() -> int:
    import docker

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counts", default="1,20")
    p.add_argument("--port", type=int, default=16999)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--idle", type=float, default=0.0,
                   help="after the batches, measure the cluster's CPU for this many seconds "
                        "with every pod still running (0: skip)")
    args = p.parse_args()
    engine = docker.from_env(timeout=120)
    images.ensure_images(engine)
    url = f"http://{HOST}:{args.port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_cluster(Path(tmp), args.port)
        cluster = ""
        try:
            with httpx.Client(base_url=url, timeout=10) as c:
                cluster = c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"]
            for count in (int(x) for x in args.counts.split(",")):
                ns = f"bench-{count}-{int(time.time())}"
                with httpx.Client(base_url=url, timeout=10) as c:
                    c.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
                names = {f"p{i}" for i in range(count)}
                created: dict[str, float] = {}
                t0 = time.monotonic()
                running, ready = watch_batch(url, ns, names, created, args.timeout)
                print(f"-- {count} pods: all Ready after {time.monotonic() - t0:.1f} s "
                      f"({len(ready)}/{count} Ready)")
                print(line("kapi create -> Running", [running[n] - created[n] for n in running]))
                print(line("kapi create -> Ready", [ready[n] - created[n] for n in ready]))
                print(line("bare docker pairs, one at a time", bare_pairs(engine, min(count, 10),
                                                                          1)))
                print(line(f"bare docker pairs, {count} at once", bare_pairs(engine, count, 8)))
            if args.idle > 0:
                time.sleep(5)  # let the last status writes and probes settle
                share = idle_cpu(proc.pid, args.idle)
                # kapi up is one process: the kubelet's share is at most this figure
                print(f"-- idle: the whole kapi up process (API server, controllers, scheduler "
                      f"and kubelet) used {share * 100:.1f}% of a core over {args.idle:.0f} s "
                      f"with the {sum(int(x) for x in args.counts.split(','))} pods above running")
        finally:
            stop_server(proc, timeout=30)
            if cluster:  # its containers, by the cluster's label
                for c in engine.containers.list(all=True, filters={
                        "label": f"{cri.CLUSTER}={cluster}"}):
                    c.remove(force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
