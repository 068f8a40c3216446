"""Custom resource write benchmark: creates/s of a custom resource whose definition has a
20-field structural schema (defaults, bounds, a pattern, an enum) and one CEL rule, next
to ConfigMap creates on the same server in the same run.

    python -m bench.crd                 # ~15 s
    python -m bench.crd --quick         # ~5 s smoke run
    python -m bench.crd --storage memory --concurrency 8 --json out.json

Prints requests/s, p50, p99 and server CPU per create for both kinds and the custom
resource's rate as a share of the ConfigMap's (goal: at least 70%). Benchmarks print
figures; nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench.api import HOST, ServerProc, free_port, log
from bench.apply import Make, phase_parser, run
from bench.loadgen import Result, call

GOAL = 0.70
GROUP = "bench.example.com"


def widget_crd() -> dict[str, Any]:
    """A definition with 20 spec fields and one CEL rule."""
    fields: dict[str, Any] = {f"label{i}": {"type": "string", "maxLength": 63}
                              for i in range(8)}
    fields |= {f"count{i}": {"type": "integer", "minimum": 0, "default": i}
               for i in range(6)}
    fields |= {
        "replicas": {"type": "integer", "minimum": 0, "maximum": 100},
        "maxReplicas": {"type": "integer", "default": 10},
        "image": {"type": "string", "pattern": "^[a-z0-9./:-]+$"},
        "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
        "enabled": {"type": "boolean", "default": True},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
    }
    spec = {"type": "object", "properties": fields, "required": ["image"],
            "x-kubernetes-validations": [{"rule": "self.replicas <= self.maxReplicas",
                                          "message": "replicas must not exceed maxReplicas"}]}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object", "properties": {"spec": spec}}}}]},
    }


def widget(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {f"label{i}": f"value-{i}" for i in range(8)}
    spec |= {"replicas": 3, "image": "registry.local/app:1.0", "tags": ["a", "b"]}
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec}


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {f"key{i}": f"value-{i}" for i in range(8)}}


_FRESH = itertools.count()  # every create of the run (warm-up and rounds) a new name


def phases(ns: str) -> list[tuple[str, Make]]:
    fresh = _FRESH
    json_t = "application/json"

    def cm(w: int, i: int) -> tuple[str, str, bytes, str]:
        return ("POST", f"/api/v1/namespaces/{ns}/configmaps",
                orjson.dumps(configmap(f"cm-{next(fresh)}")), json_t)

    def cr(w: int, i: int) -> tuple[str, str, bytes, str]:
        return ("POST", f"/apis/{GROUP}/v1/namespaces/{ns}/widgets",
                orjson.dumps(widget(f"w-{next(fresh)}")), json_t)
    return [("ConfigMap create", cm), ("custom resource create", cr)]


async def setup(port: int, ns: str) -> None:
    status, body = await call(HOST, port, "POST", "/api/v1/namespaces",
                              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    assert status == 201, body
    status, body = await call(HOST, port, "POST",
                              "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                              widget_crd())
    assert status == 201, body
    for _ in range(100):  # served within a moment of its creation
        status, _ = await call(HOST, port, "GET", f"/apis/{GROUP}/v1/widgets")
        if status == 200:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the definition was not served")


async def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Result]:
    port = free_port()
    argv = [sys.executable, "-m", "kapi.cli", "apiserver", "--insecure-http",
            "--data-dir", str(workdir / "data"),
            "--port", str(port), "--storage", args.storage]
    proc = ServerProc("crd", argv, port, workdir / "crd.log")
    out: dict[str, Result] = {}
    try:
        await proc.start()
        await setup(port, "bench")
        for _ in range(args.rounds):  # alternate, so load on the machine hits both alike
            for name, make in phases("bench"):
                await run(port, name, make, args.concurrency, min(200, args.count), 0.5)
                r = await run(port, name, make, args.concurrency, args.count, args.seconds,
                              proc.pid)
                log(f"{name:24} {r.rate:8.0f}/s  errors {r.errors}"
                    + (f"  first: {r.first_error}" if r.errors else ""))
                out[name] = _merge(out.get(name), r)
    finally:
        proc.stop()
    return out


def _merge(a: Result | None, b: Result) -> Result:
    if a is None:
        return b
    a.latencies += b.latencies
    a.requests += b.requests
    a.errors += b.errors
    cpu = (a.server_cpu or 0) * a.seconds + (b.server_cpu or 0) * b.seconds
    a.seconds += b.seconds
    a.server_cpu = cpu / a.seconds if a.seconds else None
    return a


def render(res: dict[str, Result]) -> str:
    lines = [f"{'create':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>12}"]
    for name, r in res.items():
        lines.append(f"{name:24}{r.rate:9.0f}{r.pct_ms(50):9.2f}{r.pct_ms(99):9.2f}"
                     f"{(r.server_cpu or 0) * 1e6:12.0f}")
    cm, cr = res["ConfigMap create"], res["custom resource create"]
    share = cr.rate / cm.rate if cm.rate else float("nan")
    verdict = "ok" if share >= GOAL else "UNDER"
    lines.append(f"custom resource creates/s = {share:.0%} of ConfigMap creates/s "
                 f"(goal >= {GOAL:.0%}): {verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = phase_parser("bench.crd", __doc__, concurrency=8, count=10_000, seconds=3.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="1 s phases, one round")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.count, args.rounds = 1.0, 2000, 1
    return args


async def amain(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="kapi-bench-crd-") as tmp:
        res = await bench(args, Path(tmp))
    print(f"kapi creates, {args.storage} storage, {args.concurrency} connections, "
          f"{args.rounds} x <= {args.seconds:g} s per kind")
    print(render(res))
    if args.json:
        args.json.write_text(json.dumps({n: r.summary() for n, r in res.items()}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
