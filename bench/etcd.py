"""etcd benchmark: kapi on etcd next to raw etcd through the same client, and next to
kapi on SQLite, in one run; then reads through 3 API servers sharing the etcd against 1.

    python -m bench.etcd                 # ~1-2 minutes
    python -m bench.etcd --quick         # ~20 s smoke run

Rows (each bounded by a request count AND a time limit, fixed concurrency, one request
in flight per connection or task):

  etcd put / get     etcd3aio straight to etcd: put of a ConfigMap-sized JSON value under
                     distinct keys, then get of one of them (the floor for kapi on etcd)
  kapi create / get  POST / GET configmaps over HTTP, kapi on etcd, then kapi on SQLite
  3 servers get      GET spread over 3 API servers on the same etcd (concurrency split)

Goals printed beside the figures (the issue's): kapi creates >= 70% of raw etcd puts/s;
reads through 3 API servers >= 2.5x one. On a shared 2-core machine the second cannot
show: the three servers, etcd and the load generator share the same two cores.
Nothing here asserts a timing. Loopback only; etcd and every server are stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.loadgen import Result, run_load, system_busy_seconds
from bench.procs import ROOT, stop_server

HOST = "127.0.0.1"
VALUE = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v" * 200}})


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)


def wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start_etcd(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("etcd")
    if binary is None:
        sys.exit("bench.etcd: no etcd binary (apt-get install etcd-server, or make etcd-env)")
    client, peer = free_port(), free_port()
    url, purl = f"http://{HOST}:{client}", f"http://{HOST}:{peer}"
    p = start([binary, "--name", "b", "--data-dir", str(work / "etcd"),
               "--listen-client-urls", url, "--advertise-client-urls", url,
               "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
               "--initial-cluster", f"b={purl}", "--log-level", "warn", "--logger", "zap"],
              work / "etcd.log")
    wait_port(client)
    time.sleep(0.5)
    return p, url


async def raw_phase(kv: Any, put: bool, concurrency: int, count: int,
                    seconds: float) -> Result:
    res = Result(name="etcd put" if put else "etcd get", concurrency=concurrency)
    seq = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal seq
        while seq < count and time.perf_counter() < deadline:
            i = seq
            seq += 1
            t = time.perf_counter()
            if put:
                await kv.put(f"/bench/raw/{i}", VALUE)
            else:
                await kv.get(f"/bench/raw/{i % 1000}")
            res.latencies.append(time.perf_counter() - t)

    t0, cpu0, busy0 = time.perf_counter(), time.process_time(), system_busy_seconds()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    res.seconds, res.requests = time.perf_counter() - t0, len(res.latencies)
    # this process is the gRPC client: its CPU is the client library's cost per call
    res.client_cpu = (time.process_time() - cpu0) / res.seconds
    busy1 = system_busy_seconds()
    if busy0 is not None and busy1 is not None:
        res.other_cpu = max(0.0, (busy1 - busy0) / res.seconds - res.client_cpu)
    return res


async def raw_etcd(url: str, concurrency: int, count: int, seconds: float) -> list[Result]:
    """Puts then gets straight through etcd3aio, the client kapi's backend uses."""
    from etcd3aio import Etcd3Client

    client = Etcd3Client([url.split("://", 1)[1]])
    await client.connect()
    try:
        return [await raw_phase(client.kv, put, concurrency, count, seconds)
                for put in (True, False)]
    finally:
        await client.close()


def cm(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                         "data": {"k": "v" * 200}})


async def kapi_rows(label: str, ports: list[int], concurrency: int, count: int,
                    seconds: float, pid: int | None = None) -> list[Result]:
    path = "/api/v1/namespaces/default/configmaps"
    tag = label.replace("/", "-")
    create = await run_load(HOST, ports[0], f"{label} create",
                            lambda w, i: ("POST", path, cm(f"{tag}-{i}")),
                            concurrency=concurrency, count=count, duration=seconds,
                            server_pid=pid)
    made = max(1, min(create.requests, 1000))
    get = await run_load(HOST, ports[0], f"{label} get",
                         lambda w, i: ("GET", f"{path}/{tag}-{i % made}", b""),
                         concurrency=concurrency, count=count, duration=seconds,
                         server_pid=pid)
    return [create, get]


async def spread_get(label: str, ports: list[int], concurrency: int, count: int,
                     seconds: float, made: int, tag: str, pids: list[int]) -> Result:
    """GETs from `concurrency` connections split evenly over `ports`, summed."""
    path = "/api/v1/namespaces/default/configmaps"
    each = max(1, concurrency // len(ports))
    parts = await asyncio.gather(*(run_load(
        HOST, p, label, lambda w, i: ("GET", f"{path}/{tag}-{i % made}", b""),
        concurrency=each, count=count // len(ports), duration=seconds, server_pid=pid)
        for p, pid in zip(ports, pids, strict=True)))
    total = Result(name=label, concurrency=each * len(ports))
    total.requests = sum(r.requests for r in parts)
    total.seconds = max(r.seconds for r in parts)
    total.latencies = sorted(x for r in parts for x in r.latencies)
    total.errors = sum(r.errors for r in parts)
    cpus = [r.server_cpu for r in parts if r.server_cpu is not None]
    total.server_cpu = sum(cpus) if cpus else None
    return total


def apiserver(work: Path, storage: list[str], name: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    p = start([sys.executable, "-m", "kapi.cli", "apiserver", "--insecure-http", "--port", str(port),
               "--data-dir", str(work / name), *storage], work / f"{name}.log")
    wait_port(port)
    return p, port


def cpu_ms(r: Result) -> str:
    """CPU ms per request of the side that does the work: the API server(s) for kapi
    rows, the gRPC client (this process) for raw etcd rows."""
    cores = r.server_cpu if r.server_cpu is not None else r.client_cpu
    return f"{cores * 1000 / r.rate:.2f}" if cores is not None and r.rate else "-"


def render(rows: list[Result]) -> str:
    lines = [f"{'row':<24}{'conc':>5}{'requests':>9}{'errors':>7}{'req/s':>8}"
             f"{'p50 ms':>8}{'p99 ms':>8}{'cpu ms/req':>11}{'others':>8}"]
    for r in rows:
        others = "-" if r.other_cpu is None else f"{r.other_cpu:.2f}"
        lines.append(f"{r.name:<24}{r.concurrency:>5}{r.requests:>9}{r.errors:>7}"
                     f"{r.rate:>8.0f}{r.pct_ms(50):>8.2f}{r.pct_ms(99):>8.2f}"
                     f"{cpu_ms(r):>11}{others:>8}")
    lines.append("cpu ms/req: the API server's CPU per request (kapi rows; summed over the "
                 "servers for 3 servers), the etcd client's for raw rows; others: cores busy "
                 "with anything else on the machine meanwhile (etcd, the load generator, "
                 "other users)")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    count, seconds, conc = (2000, 5.0, 16) if args.quick else (20000, 20.0, args.concurrency)
    work = Path(tempfile.mkdtemp(prefix="kapi-bench-etcd-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        etcd, url = start_etcd(work)
        procs.append(etcd)
        rows = await raw_etcd(url, conc, count, seconds)
        on_etcd = ["--storage", "etcd", "--etcd-servers", url]
        servers = [apiserver(work, on_etcd, f"etcd{i}") for i in range(3)]
        procs += [p for p, _ in servers]
        ports = [port for _, port in servers]
        rows += await kapi_rows("kapi/etcd", ports, conc, count, seconds, servers[0][0].pid)
        made = max(1, min(rows[2].requests, 1000))
        rows.append(await spread_get("kapi/etcd 3 servers get", ports, conc, count, seconds,
                                     made, "kapi-etcd", [p.pid for p, _ in servers]))
        sq, sq_port = apiserver(work, ["--storage", "sqlite"], "sqlite")
        procs.append(sq)
        rows += await kapi_rows("kapi/sqlite", [sq_port], conc, count, seconds, sq.pid)
        print(render(rows))
        by = {r.name: r.rate for r in rows}
        put, create = by["etcd put"], by["kapi/etcd create"]
        print(f"kapi/etcd creates = {create / put:.0%} of raw etcd puts (goal >= 70%)")
        print(f"3 servers / 1 server gets = "
              f"{by['kapi/etcd 3 servers get'] / by['kapi/etcd get']:.2f}x (goal >= 2.5x)")
    finally:
        for p in reversed(procs):
            stop_server(p)
        shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.etcd", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small counts, short phases")
    p.add_argument("--concurrency", type=int, default=32)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

