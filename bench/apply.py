"""Write-path benchmark: create, update, patch (strategic and merge) and server-side
apply of Deployments, on three servers started side by side in the same run:

  full        validation (field, schema, semantic), defaulting and managedFields
  no-valid    managedFields only (`--unsafe-no-validation`: no field validation, no
              defaulting, no validation): the unvalidated write baseline
  bare        neither (`--unsafe-no-validation --unsafe-no-managed-fields`)

    python -m bench.apply                 # ~1 minute
    python -m bench.apply --quick         # ~15 s smoke run
    python -m bench.apply --storage sqlite --concurrency 16 --json out.json

Prints requests/s, p50 and p99 per phase and server, and the cost of validation and
defaulting over the unvalidated baseline (goal: at most +30% time per write, i.e. the
full rate at least 1/1.3 of the baseline's). Benchmarks print figures; nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import orjson

from bench.api import HOST, ServerProc, free_port, log
from bench.loadgen import Conn, Result, call, proc_cpu_seconds

GOAL = 1.30  # validation+defaulting may cost at most 30% more time per write
SERVERS = {"full": [], "no-valid": ["--unsafe-no-validation"],
           "bare": ["--unsafe-no-validation", "--unsafe-no-managed-fields"]}
Make = Callable[[int, int], tuple[str, str, bytes, str]]  # method, path, body, content type


class TypedConn(Conn):
    """A loadgen connection that sends the content type a patch needs."""

    def typed_request(self, method: str, path: str, body: bytes,
                      content_type: str) -> asyncio.Future[tuple[int, bytes]]:
        if self.lost is not None or self.transport is None or self.close_after:
            raise ConnectionResetError("connection is closed")
        self.waiter = asyncio.get_running_loop().create_future()
        head = (b"%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                b"User-Agent: bench-apply/1\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (method.encode(), path.encode(), self.host_header, content_type.encode(),
                   len(body)))
        self.transport.write(head + body)
        return self.waiter


def deployment(name: str, replicas: int, image: str = "nginx:1.25") -> dict[str, Any]:
    labels = {"app": name, "tier": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": "web", "image": image,
                         "ports": [{"containerPort": 8080, "name": "http"}],
                         "env": [{"name": "MODE", "value": "prod"}],
                         "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                         "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                       "limits": {"cpu": "500m", "memory": "128Mi"}}}]}}}}


async def run(port: int, name: str, make: Make, concurrency: int, count: int,
              duration: float, pid: int | None = None) -> Result:
    """Like loadgen.run_load, with a content type per request; server_cpu is the server's
    CPU seconds per request."""
    res = Result(name=name, concurrency=concurrency)
    conns = [await TypedConn.open(HOST, port) for _ in range(concurrency)]
    seq = 0
    perf = time.perf_counter
    deadline = perf() + duration

    async def worker(w: int) -> None:
        nonlocal seq
        while seq < count and perf() < deadline:
            i, seq = seq, seq + 1
            method, path, body, ctype = make(w, i)
            t = perf()
            status, data = await conns[w].typed_request(method, path, body, ctype)  # type: ignore[attr-defined]
            res.latencies.append(perf() - t)
            res.statuses[status] += 1
            if not 200 <= status < 300:
                res.errors += 1
                res.first_error = res.first_error or f"{method} {path} -> {status}: {data[:200]!r}"
            if not conns[w].reusable:
                conns[w].close()
                conns[w] = await TypedConn.open(HOST, port)

    start, cpu = perf(), proc_cpu_seconds(pid)
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    res.seconds = perf() - start
    res.requests = len(res.latencies)
    after = proc_cpu_seconds(pid)
    if cpu is not None and after is not None and res.requests:
        res.server_cpu = (after - cpu) / res.requests
    for c in conns:
        c.close()
    return res


def phases(ns: str, concurrency: int, per: int) -> list[tuple[str, Make]]:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    json_t, smp_t = "application/json", "application/strategic-merge-patch+json"
    merge_t, apply_t = "application/merge-patch+json", "application/apply-patch+yaml"

    def own(w: int, i: int) -> str:  # each connection writes its own objects
        return f"d-{w}-{i % per}"

    fresh = itertools.count()  # every create (warm-up runs too) gets a new name

    def create(w: int, i: int) -> tuple[str, str, bytes, str]:
        return "POST", base, orjson.dumps(deployment(f"c-{next(fresh)}", 2)), json_t

    def update(w: int, i: int) -> tuple[str, str, bytes, str]:
        name = own(w, i)
        return "PUT", f"{base}/{name}", orjson.dumps(deployment(name, 1 + i % 3)), json_t

    def smp(w: int, i: int) -> tuple[str, str, bytes, str]:
        body = {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": f"nginx:1.{i % 7}"}]}}}}
        return "PATCH", f"{base}/{own(w, i)}", orjson.dumps(body), smp_t

    def merge(w: int, i: int) -> tuple[str, str, bytes, str]:
        body = {"metadata": {"labels": {"rev": str(i % 5)}}, "spec": {"replicas": 1 + i % 4}}
        return "PATCH", f"{base}/{own(w, i)}", orjson.dumps(body), merge_t

    def apply(w: int, i: int) -> tuple[str, str, bytes, str]:
        name = own(w, i)
        body = orjson.dumps(deployment(name, 1 + i % 5))
        return "PATCH", f"{base}/{name}?fieldManager=bench-{w}&force=true", body, apply_t

    return [("create", create), ("update (PUT)", update), ("strategic merge patch", smp),
            ("merge patch", merge), ("server-side apply", apply)]


async def seed(port: int, ns: str, concurrency: int, per: int) -> None:
    status, _ = await call(HOST, port, "POST", "/api/v1/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    assert status == 201, status
    for w in range(concurrency):
        for k in range(per):
            status, body = await call(HOST, port, "POST",
                                      f"/apis/apps/v1/namespaces/{ns}/deployments",
                                      deployment(f"d-{w}-{k}", 1))
            assert status == 201, body


async def bench_server(label: str, flags: list[str], args: argparse.Namespace,
                       workdir: Path) -> dict[str, Result]:
    port = free_port()
    argv = [sys.executable, "-m", "kapi.cli", "apiserver", "--insecure-http", "--data-dir",
            str(workdir / label), "--port", str(port), "--storage", args.storage, *flags]
    proc = ServerProc(label, argv, port, workdir / f"{label}.log")
    await proc.start()
    out: dict[str, Result] = {}
    try:
        ns, per = "bench", 4
        await seed(port, ns, args.concurrency, per)
        for name, make in phases(ns, args.concurrency, per):
            await run(port, name, make, args.concurrency, min(200, args.count),
                      min(2.0, args.seconds))  # warm up
            out[name] = await run(port, name, make, args.concurrency, args.count,
                                  args.seconds, proc.pid)
            log(f"{label:9} {name:22} {out[name].rate:8.0f}/s  errors {out[name].errors}"
                + (f"  first: {out[name].first_error}" if out[name].errors else ""))
    finally:
        proc.stop()
    return out


def _cost(slow: Result, fast: Result) -> tuple[float, float]:
    """Extra time per write of `slow` over `fast`: by throughput, and by server CPU."""
    by_rate = fast.rate / slow.rate - 1 if slow.rate else float("nan")
    cpu = (slow.server_cpu / fast.server_cpu - 1
           if slow.server_cpu and fast.server_cpu else float("nan"))
    return by_rate, cpu


def render(results: dict[str, dict[str, Result]]) -> str:
    names = list(next(iter(results.values())))
    head = f"{'phase':22}" + "".join(f"{s + ' req/s':>15}{'p50':>7}{'p99':>7}{'cpu us':>8}"
                                     for s in results)
    lines = [head + f"{'valid+default cost':>26}{'managedFields cost':>22}",
             f"{'':22}" + "".join(f"{'':>15}{'ms':>7}{'ms':>7}{'/req':>8}" for _ in results)
             + f"{'rate':>9}{'cpu':>8}{'':>9}{'rate':>11}{'cpu':>8}"]
    for name in names:
        row = f"{name:22}"
        for label in results:
            r = results[label][name]
            row += (f"{r.rate:15.0f}{r.pct_ms(50):7.2f}{r.pct_ms(99):7.2f}"
                    f"{(r.server_cpu or 0) * 1e6:8.0f}")
        full, base, bare = (results[k][name] for k in ("full", "no-valid", "bare"))
        rate, cpu = _cost(full, base)
        mf_rate, mf_cpu = _cost(base, bare)
        verdict = "ok" if cpu <= GOAL - 1 else "OVER"
        row += f"{rate:+9.1%}{cpu:+8.1%} {verdict:>8}{mf_rate:+11.1%}{mf_cpu:+8.1%}"
        lines.append(row)
    lines.append(f"cost = extra time per write over the server to the right, by throughput "
                 f"and by server CPU per request (the verdict; goal for validation+defaulting: "
                 f"<= +{GOAL - 1:.0%})")
    return "\n".join(lines)


def phase_parser(module: str, doc: str | None, *, concurrency: int, count: int,
                 seconds: float) -> argparse.ArgumentParser:
    """The options every write-phase bench takes (bench.apply, bench.crd), with its
    defaults; `--quick` is the caller's, as what it shortens differs."""
    p = argparse.ArgumentParser(prog=f"python -m {module}",
                                description=(doc or "").split("\n")[0])
    p.add_argument("--storage", default="sqlite", choices=("sqlite", "memory"))
    p.add_argument("--concurrency", type=int, default=concurrency)
    p.add_argument("--count", type=int, default=count, help="requests per phase at most")
    p.add_argument("--seconds", type=float, default=seconds, help="seconds per phase at most")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = phase_parser("bench.apply", __doc__, concurrency=16, count=20_000, seconds=5.0)
    p.add_argument("--quick", action="store_true", help="1 s phases")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.count = 1.0, 3000
    return args


async def amain(args: argparse.Namespace) -> int:
    results: dict[str, dict[str, Result]] = {}
    with tempfile.TemporaryDirectory(prefix="kapi-bench-apply-") as tmp:
        for label, flags in SERVERS.items():
            results[label] = await bench_server(label, flags, args, Path(tmp))
    print(f"kapi write path, {args.storage} storage, {args.concurrency} connections, "
          f"<= {args.seconds:g} s or {args.count} requests per phase")
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps({k: {n: r.summary() for n, r in v.items()}
                                         for k, v in results.items()}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
