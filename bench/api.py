"""API benchmark: kapi through its real HTTP stack, against a floor.

    python -m bench.api                    # ~2-3 minutes: floor + kapi (sqlite)
    python -m bench.api --storage both     # sqlite and memory backends
    python -m bench.api --quick            # ~30 s smoke run (10% of the counts, short phases)
    python -m bench.api --kapi-url http://127.0.0.1:6443   # bench a running server
    python -m bench.api --json out.json    # also write the figures as JSON

Phases (each stops after N requests or T seconds, whichever comes first; a fixed number
of keep-alive connections, one request in flight on each):

  floor        GET on a trivial Starlette endpoint served by Hypercorn exactly as kapi is
               (bench/floor.py), with the same raw client; also through httpx, to show the
               cap a general-purpose client would impose, and a POST with a ConfigMap-sized
               body.
  create       POST configmaps (distinct names).
  get          GET one of those configmaps.
  update       PUT a configmap with the resourceVersion of the previous response for that
               object (a conditional update; each connection owns its own objects, so no
               conflicts are expected).
  list cm      GET the list of a namespace holding 1k configmaps.
  create pod   POST 10k small pods into their own namespace (the set-up for the next row).
  list pods    GET the list of those 10k pods, one request at a time.
  watch        100 watchers on one namespace; ~200 writes (POST then PUTs) 10 ms apart,
               each carrying its send time (time.time()) in .data.sent; latency is the
               watcher's receive time minus that, over every (watcher, event) pair.

Goals printed beside the figures: every CRUD row >= 40% of the floor's GET rate; list of
10k pods < 1 s (p99); watch delivery p99 < 50 ms with every event delivered. Nothing here
asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.loadgen import Conn, Result, WatchConn, call, percentile, run_load, run_load_httpx
from bench.procs import ROOT, stop_server

HOST = "127.0.0.1"

CRUD_GOAL = 0.40  # of the floor's GET rate
LIST_PODS_GOAL_MS = 1000.0
WATCH_GOAL_MS = 50.0
OTHER_CPU_WARN = 0.25  # other processes' CPU (cores) above which a phase is flagged


@dataclass
class Plan:
    """Counts and time bounds of every phase (after --quick / --scale)."""

    concurrency: int = 32
    floor_n: int = 60_000
    floor_t: float = 6.0
    httpx_t: float = 4.0
    floor_post_t: float = 3.0
    warmup_n: int = 500
    crud_n: int = 50_000
    crud_t: float = 10.0
    list_cm_objects: int = 1000
    list_cm_conc: int = 4
    list_cm_n: int = 5_000
    list_t: float = 6.0
    pods: int = 10_000
    pods_t: float = 90.0
    list_pods_n: int = 300
    list_pods_t: float = 8.0
    watchers: int = 100
    writes: int = 200
    write_interval: float = 0.010
    watch_objects: int = 10

    @classmethod
    def build(cls, quick: bool, scale: float | None, concurrency: int, watchers: int,
              writes: int | None) -> Plan:
        p = cls(concurrency=concurrency, watchers=watchers)
        if scale is None:
            scale = 0.1 if quick else 1.0
        tf = 0.25 if quick else 1.0

        def n(v: int, lo: int = 1) -> int:
            return max(lo, int(round(v * scale)))

        p.floor_n, p.warmup_n, p.crud_n = n(p.floor_n, 100), n(p.warmup_n, 50), n(p.crud_n, 100)
        p.list_cm_objects, p.list_cm_n = n(p.list_cm_objects, 10), n(p.list_cm_n, 5)
        p.pods, p.list_pods_n = n(p.pods, 10), n(p.list_pods_n, 3)
        p.writes = writes if writes is not None else n(p.writes, 3)
        p.crud_n = max(p.crud_n, concurrency)  # every connection owns >= 1 object on update
        for name in ("floor_t", "httpx_t", "floor_post_t", "crud_t", "list_t", "pods_t",
                     "list_pods_t"):
            setattr(p, name, max(1.0, getattr(p, name) * tf))
        return p


# -- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class ServerProc:
    """A server subprocess we started; stopped with SIGTERM through its Popen object."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name, self.argv, self.port, self.log_path = name, argv, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, timeout: float = 90.0) -> None:
        """Starts the server and waits until it is ready. On any failure (it exited, it
        was not ready in time, the run was interrupted) it stops what it started before
        raising: callers' cleanup only covers a server that started."""
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            await self._wait_ready(self.proc, timeout)
        except BaseException:
            self.stop()
            raise

    async def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {proc.returncode}:\n"
                                   + self.tail())
            try:
                status, _ = await call(HOST, self.port, "GET", "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n" + self.tail())

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)  # our own child, by its Popen object
            self.log_file.close()


# -- rows -----------------------------------------------------------------------------------
@dataclass
class Row:
    group: str
    label: str
    result: Result | None = None
    objects: int | None = None  # items in each list response
    ratio: float | None = None  # rate / floor GET rate
    goal: str = ""
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"group": self.group, "label": self.label}
        if self.result is not None:
            d.update(self.result.summary())
        d.update(objects=self.objects, ratio_to_floor=None if self.ratio is None else
                 round(self.ratio, 3), goal=self.goal, goal_met=self.met)
        d.update(self.extra)
        return d


def ok_json(check_items: int | None = None):
    """A response check that also remembers the item count of list responses."""
    seen: dict[str, int] = {}

    def check(w: int, i: int, status: int, body: bytes) -> bool:
        if not 200 <= status < 300:
            return False
        if check_items is not None and "items" not in seen:
            seen["items"] = len(orjson.loads(body).get("items") or [])
        return True

    return check, seen


# -- floor ------------------------------------------------------------------------------------
CM_DATA = {"key": "value", "config.yaml": "a: 1\nb: two\nc: [3, 4, 5]\n" * 3}


def cm_body(name: str, ns: str, *, rv: str | None = None, seq: int = 0,
            data: dict[str, str] | None = None) -> bytes:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": {"app": "bench"}}
    if rv is not None:
        meta["resourceVersion"] = rv
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                         "data": data or dict(CM_DATA, seq=str(seq))})


def pod_body(name: str, ns: str) -> bytes:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]},
    })


async def bench_floor(plan: Plan, workdir: Path, httpx_too: bool) -> tuple[list[Row], float]:
    port = free_port()
    srv = ServerProc("floor", [sys.executable, "-m", "bench.floor", "--port", str(port)], port,
                     workdir / "floor.log")
    log(f"floor: starting on :{port}")
    await srv.start()
    rows: list[Row] = []
    try:
        get = ("GET", "/api/v1/namespaces/default/configmaps/x", b"")
        # warm up, then measure
        await run_load(HOST, port, "warmup", lambda w, i: get, concurrency=plan.concurrency,
                       count=1000, duration=2)
        log("floor: GET (raw client)")
        r = await run_load(HOST, port, "floor GET", lambda w, i: get,
                           concurrency=plan.concurrency, count=plan.floor_n,
                           duration=plan.floor_t, server_pid=srv.pid)
        rows.append(Row("floor", "floor GET", r, ratio=1.0))
        floor_rate = r.rate
        body = cm_body("x", "default")
        log("floor: POST (raw client)")
        r = await run_load(HOST, port, "floor POST",
                           lambda w, i: ("POST", "/api/v1/namespaces/default/configmaps", body),
                           concurrency=plan.concurrency, count=plan.floor_n,
                           duration=plan.floor_post_t, server_pid=srv.pid)
        rows.append(Row("floor", "floor POST (cm body)", r, ratio=r.rate / floor_rate))
        if httpx_too:
            log("floor: GET (httpx client)")
            r = await run_load_httpx(f"http://{HOST}:{port}", "floor GET httpx", get[1],
                                     concurrency=plan.concurrency, count=plan.floor_n,
                                     duration=plan.httpx_t, server_pid=srv.pid)
            rows.append(Row("floor", "floor GET via httpx", r, ratio=r.rate / floor_rate))
    finally:
        srv.stop()
    return rows, floor_rate


# -- kapi -------------------------------------------------------------------------------------
async def ensure_namespace(port: int, name: str) -> None:
    status, body = await call(HOST, port, "POST", "/api/v1/namespaces",
                              {"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": name}})
    if status not in (201, 409):
        raise RuntimeError(f"creating namespace {name}: {status} {body}")


def rv_of(body: bytes) -> str:
    return orjson.loads(body)["metadata"]["resourceVersion"]


async def bench_kapi(plan: Plan, label: str, port: int, pid: int | None,
                     floor_rate: float) -> tuple[list[Row], dict[str, Any]]:
    run = uuid.uuid4().hex[:6]
    ns_crud, ns_list, ns_pods, ns_watch = (f"bench-{k}-{run}" for k in
                                           ("crud", "list", "pods", "watch"))
    for ns in (ns_crud, ns_list, ns_pods, ns_watch):
        await ensure_namespace(port, ns)
    C = plan.concurrency
    rows: list[Row] = []
    g = f"kapi[{label}]"

    def crud_row(name: str, r: Result) -> Row:
        ratio = r.rate / floor_rate if floor_rate else None
        met = None if ratio is None else ratio >= CRUD_GOAL
        return Row(g, name, r, ratio=ratio, goal=f">= {CRUD_GOAL:.0%} of floor", met=met)

    # warm-up (not reported): a few creates and gets
    log(f"{g}: warm-up")
    cms = f"/api/v1/namespaces/{ns_crud}/configmaps"
    await run_load(HOST, port, "warmup", lambda w, i: ("POST", cms, cm_body(f"warm-{i}", ns_crud)),
                   concurrency=C, count=plan.warmup_n, duration=5)
    await run_load(HOST, port, "warmup", lambda w, i: ("GET", f"{cms}/warm-{i % plan.warmup_n}", b""),
                   concurrency=C, count=plan.warmup_n, duration=5)

    # create
    log(f"{g}: create configmaps")
    rvs: dict[int, str] = {}

    def create_check(w: int, i: int, status: int, body: bytes) -> bool:
        if status != 201:
            return False
        rvs[i] = rv_of(body)
        return True

    r = await run_load(HOST, port, "create", lambda w, i: ("POST", cms, cm_body(f"cm-{i}", ns_crud, seq=i)),
                       concurrency=C, count=plan.crud_n, duration=plan.crud_t,
                       check=create_check, server_pid=pid)
    rows.append(crud_row("create configmap (POST)", r))
    created = sorted(rvs)
    n_created = len(created)
    if not n_created:
        raise RuntimeError(f"{g}: no configmap was created; first error: {r.first_error}")

    # get
    log(f"{g}: get configmaps")
    r = await run_load(HOST, port, "get",
                       lambda w, i: ("GET", f"{cms}/cm-{created[(i * 7919) % n_created]}", b""),
                       concurrency=C, count=plan.crud_n, duration=plan.crud_t, server_pid=pid)
    rows.append(crud_row("get configmap", r))

    # update: connection w owns created[w::C]; it PUTs each with the resourceVersion of the
    # previous response for that object, so the update is conditional and never conflicts.
    log(f"{g}: update configmaps")
    uc = min(C, n_created)
    owned = [created[w::uc] for w in range(uc)]
    turn = [0] * uc
    current: dict[int, int] = {}  # worker -> object index of its in-flight request

    def update_make(w: int, i: int) -> tuple[str, str, bytes]:
        idx = owned[w][turn[w] % len(owned[w])]
        turn[w] += 1
        current[w] = idx
        return ("PUT", f"{cms}/cm-{idx}", cm_body(f"cm-{idx}", ns_crud, rv=rvs[idx], seq=i))

    def update_check(w: int, i: int, status: int, body: bytes) -> bool:
        if status != 200:
            return False
        rvs[current[w]] = rv_of(body)
        return True

    r = await run_load(HOST, port, "update", update_make, concurrency=uc, count=plan.crud_n,
                       duration=plan.crud_t, check=update_check, server_pid=pid)
    row = crud_row("update configmap (PUT, with rv)", r)
    row.extra["conflicts"] = r.statuses.get(409, 0)
    rows.append(row)

    # list of 1k configmaps
    log(f"{g}: list {plan.list_cm_objects} configmaps (set-up)")
    lcms = f"/api/v1/namespaces/{ns_list}/configmaps"
    setup = await run_load(HOST, port, "setup",
                           lambda w, i: ("POST", lcms, cm_body(f"l-{i}", ns_list, seq=i)),
                           concurrency=C, count=plan.list_cm_objects, duration=120)
    log(f"{g}: list {plan.list_cm_objects} configmaps")
    check, seen = ok_json(check_items=1)
    r = await run_load(HOST, port, "list cm", lambda w, i: ("GET", lcms, b""),
                       concurrency=plan.list_cm_conc, count=plan.list_cm_n, duration=plan.list_t,
                       check=check, server_pid=pid)
    rows.append(Row(g, f"list {_k(setup.requests - setup.errors)} configmaps", r,
                    objects=seen.get("items"), ratio=r.rate / floor_rate if floor_rate else None))

    # 10k pods: create them (a row of its own), then list them one request at a time
    log(f"{g}: create {plan.pods} pods")
    pods = f"/api/v1/namespaces/{ns_pods}/pods"
    r = await run_load(HOST, port, "create pod", lambda w, i: ("POST", pods, pod_body(f"p-{i}", ns_pods)),
                       concurrency=C, count=plan.pods, duration=plan.pods_t, server_pid=pid)
    rows.append(crud_row("create pod (POST)", r))
    n_pods = r.requests - r.errors
    log(f"{g}: list {n_pods} pods")
    check, seen = ok_json(check_items=1)
    r = await run_load(HOST, port, "list pods", lambda w, i: ("GET", pods, b""),
                       concurrency=1, count=plan.list_pods_n, duration=plan.list_pods_t,
                       check=check, server_pid=pid)
    p99 = r.pct_ms(99)
    rows.append(Row(g, f"list {_k(n_pods)} pods", r, objects=seen.get("items"),
                    ratio=r.rate / floor_rate if floor_rate else None,
                    goal=f"p99 < {LIST_PODS_GOAL_MS / 1000:.0f} s", met=p99 < LIST_PODS_GOAL_MS,
                    extra={"response_bytes": r.bytes_in // max(1, r.requests)}))

    # watch
    log(f"{g}: watch ({plan.watchers} watchers x {plan.writes} writes)")
    watch = await bench_watch(plan, port, ns_watch)
    lat = watch["latencies_ms"]
    wr = Result(name="watch", concurrency=plan.watchers, requests=len(lat),
                seconds=watch["seconds"], latencies=[x / 1000 for x in lat])
    complete = watch["received"] == watch["expected"]
    rows.append(Row(g, f"watch delivery ({plan.watchers}x{watch['writes_ok']})", wr,
                    goal=f"p99 < {WATCH_GOAL_MS:.0f} ms, all events",
                    met=(wr.pct_ms(99) < WATCH_GOAL_MS) and complete,
                    extra={k: v for k, v in watch.items() if k not in ("latencies_ms", "writer")}))
    ww: Result = watch["writer"]
    rows.append(Row(g, "  writes during watch", ww))
    return rows, {"namespaces": [ns_crud, ns_list, ns_pods, ns_watch]}


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


async def bench_watch(plan: Plan, port: int, ns: str) -> dict[str, Any]:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    status, lst = await call(HOST, port, "GET", cms)
    if status != 200:
        raise RuntimeError(f"list {cms}: {status} {lst}")
    rv0 = lst["metadata"]["resourceVersion"]
    path = f"{cms}?watch=true&resourceVersion={rv0}"
    watchers = list(await asyncio.gather(*(WatchConn.open(HOST, port, path)
                                           for _ in range(plan.watchers))))
    writer = await Conn.open(HOST, port)
    try:
        # a warm-up write every watcher must see: then all of them are registered
        status, body = await writer.request("POST", cms, cm_body("warmup", ns, data={"w": "1"}))
        if status != 201:
            raise RuntimeError(f"watch warm-up write: {status} {body[:300]!r}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for w in watchers:
                w.drain()
            if all(w.events for w in watchers):
                break
            await asyncio.sleep(0.01)
        established = sum(1 for w in watchers if w.events)
        base = [len(w.events) for w in watchers]

        rvs: dict[str, str] = {}
        wres = Result(name="watch writes", concurrency=1)
        perf = time.perf_counter
        start = perf() + 0.02
        for i in range(plan.writes):
            delay = start + i * plan.write_interval - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            name = f"w-{i % plan.watch_objects}"
            data = {"seq": str(i), "sent": repr(time.time())}
            if name in rvs:
                req = ("PUT", f"{cms}/{name}", cm_body(name, ns, rv=rvs[name], data=data))
            else:
                req = ("POST", cms, cm_body(name, ns, data=data))
            if not writer.reusable:
                writer.close()
                writer = await Conn.open(HOST, port)
            t = perf()
            status, body = await writer.request(*req)
            wres.latencies.append(perf() - t)
            wres.statuses[status] += 1
            if 200 <= status < 300:
                rvs[name] = rv_of(body)
            else:
                wres.errors += 1
                wres.first_error = wres.first_error or f"{req[0]} {req[1]} -> {status}: {body[:200]!r}"
        wres.seconds = perf() - start
        wres.requests = len(wres.latencies)
        writes_ok = wres.requests - wres.errors
        expected = writes_ok * plan.watchers

        def received() -> int:
            n = 0
            for w, b in zip(watchers, base, strict=True):
                w.drain()
                n += sum(1 for _, ev in w.events[b:] if "seq" in (ev["object"].get("data") or {}))
            return n

        # Stay idle a moment before parsing anything: parsing blocks this loop, and a
        # late data_received would then get a late timestamp (charged to kapi).
        await asyncio.sleep(max(0.3, 20 * plan.write_interval))
        deadline = time.monotonic() + 10
        while received() < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        lat: list[float] = []
        types: dict[str, int] = {}
        per_watcher: list[int] = []
        for w, b in zip(watchers, base, strict=True):
            got = 0
            for t, ev in w.events[b:]:
                types[ev.get("type", "?")] = types.get(ev.get("type", "?"), 0) + 1
                data = ev["object"].get("data") or {}
                if "seq" in data:
                    lat.append((t - float(data["sent"])) * 1000)
                    got += 1
            per_watcher.append(got)
        return {"latencies_ms": lat, "received": len(lat), "expected": expected,
                "watchers": plan.watchers, "established": established,
                "writes": plan.writes, "writes_ok": writes_ok,
                "min_per_watcher": min(per_watcher) if per_watcher else 0,
                "event_types": types, "seconds": wres.seconds, "writer": wres,
                "watchers_closed_early": sum(1 for w in watchers if w.closed)}
    finally:
        writer.close()
        for w in watchers:
            w.close()


async def cleanup_external(port: int, namespaces: list[str]) -> None:
    """Best effort on a server we did not start: delete what we made."""
    for ns in namespaces:
        for path in (f"/api/v1/namespaces/{ns}/configmaps", f"/api/v1/namespaces/{ns}/pods",
                     f"/api/v1/namespaces/{ns}"):
            try:
                await call(HOST, port, "DELETE", path)
            except OSError:
                pass


# -- output -----------------------------------------------------------------------------------
def fmt(v: float | None, spec: str) -> str:
    if v is None or v != v:
        return "-"
    return format(v, spec)


def render(rows: list[Row], header: dict[str, Any]) -> str:
    cols = ["phase", "conc", "items", "reqs", "err", "req/s", "p50 ms", "p99 ms", "max ms",
            "vs floor", "srv cpu", "cli cpu", "other cpu", "goal", "result"]
    table: list[list[str]] = []
    last_group = None
    for row in rows:
        if row.group != last_group:
            table.append([f"{row.group}"] + [""] * (len(cols) - 1))
            last_group = row.group
        r = row.result
        is_watch = row.label.startswith("watch")
        lat = sorted(r.latencies) if r else []
        table.append([
            "  " + row.label,
            str(r.concurrency) if r else "-",
            "-" if row.objects is None else str(row.objects),
            str(r.requests) if r else "-",
            str(r.errors) if r else "-",
            "-" if (r is None or is_watch) else fmt(r.rate, ",.0f"),
            fmt(percentile(lat, 50) * 1000 if lat else None, ".2f"),
            fmt(percentile(lat, 99) * 1000 if lat else None, ".2f"),
            fmt(lat[-1] * 1000 if lat else None, ".2f"),
            "-" if row.ratio is None or is_watch else f"{row.ratio:.0%}",
            "-" if r is None or r.server_cpu is None else f"{r.server_cpu:.0%}",
            "-" if r is None or r.client_cpu is None else f"{r.client_cpu:.0%}",
            "-" if r is None or r.other_cpu is None else f"{r.other_cpu:.0%}",
            row.goal,
            "" if row.met is None else ("MET" if row.met else "MISSED"),
        ])
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
    right = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    out = [line(cols), line(["-" * w for w in widths])]
    for t in table:
        if all(not c for c in t[1:]):
            out.append(t[0])
        else:
            out.append(line(t))
    notes = []
    for row in rows:
        if row.label.startswith("watch"):
            x = row.extra
            notes.append(f"{row.group} watch: events received {x['received']} of expected "
                         f"{x['expected']} ({x['watchers']} watchers x {x['writes_ok']} writes; "
                         f"{x['established']} watchers established, min per watcher "
                         f"{x['min_per_watcher']}); latency = receive time - send time in "
                         f".data.sent")
        r = row.result
        if r is not None and r.errors:
            notes.append(f"{row.group} {row.label.strip()}: {r.errors} errors, first: "
                         f"{r.first_error}")
    busy = [f"{row.label.strip()} ({row.result.other_cpu:.0%})" for row in rows
            if row.result is not None and (row.result.other_cpu or 0) > OTHER_CPU_WARN]
    if busy:
        notes.append("WARNING: other processes were busy during: " + ", ".join(busy) +
                     f" - on this {os.cpu_count()}-cpu machine those figures are depressed; "
                     "rerun on a quiet machine")
    reconnects = sum(r.result.reconnects for r in rows if r.result is not None)
    if reconnects:
        notes.append(f"{reconnects} reconnects in all after a 'connection: close' response "
                     f"(Hypercorn closes a keep-alive connection after 1000 requests by "
                     f"default, kapi and floor alike); not errors, not in the latencies")
    head = [f"kapi API benchmark - {header['when']} - {header['machine']}",
            "load: raw asyncio HTTP/1.1 client, keep-alive, one request in flight per "
            "connection; phases stop after N requests or T s; srv/cli/other cpu = share of "
            "one core used by the server / this client / every other process; 'vs floor' = "
            "req/s / floor GET req/s",
            f"load average at start: {header['loadavg']}",
            ""]
    return "\n".join(head + out + [""] + notes)


# -- main -------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.api",
                                description="kapi API benchmark (prints a table)")
    p.add_argument("--storage", default="sqlite", choices=("sqlite", "memory", "both"),
                   help="backend(s) of the kapi server(s) this run starts (default sqlite)")
    p.add_argument("--kapi-url", default=None,
                   help="bench an already running server instead of starting one")
    p.add_argument("--quick", action="store_true",
                   help="a ~30 s smoke run: 10%% of the counts, phases of ~1-3 s")
    p.add_argument("--scale", type=float, default=None,
                   help="multiply every request/object count (default 1, or 0.1 with --quick)")
    p.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--writes", type=int, default=None, help="watched writes (default 200)")
    p.add_argument("--no-httpx", action="store_true", help="skip the httpx floor row")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--keep", action="store_true",
                   help="keep the data directories (and, with --kapi-url, the objects)")
    return p.parse_args(argv)


def external_port(url: str) -> int:
    u = urlsplit(url)
    if u.scheme != "http":
        raise SystemExit("--kapi-url: only plain http:// is supported")
    if u.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("--kapi-url: loopback (127.0.0.1) only")
    return u.port or 80


async def amain(args: argparse.Namespace) -> int:
    plan = Plan.build(args.quick, args.scale, args.concurrency, args.watchers, args.writes)
    workdir = Path(tempfile.mkdtemp(prefix="kapi-bench-"))
    header = {"when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
                         f"Python {platform.python_version()}",
              "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    t0 = time.monotonic()
    rows: list[Row] = []
    try:
        floor_rows, floor_rate = await bench_floor(plan, workdir, not args.no_httpx)
        rows += floor_rows
        if args.kapi_url:
            port = external_port(args.kapi_url)
            status, _ = await call(HOST, port, "GET", "/readyz")
            if status != 200:
                raise SystemExit(f"{args.kapi_url}/readyz answered {status}")
            krows, info = await bench_kapi(plan, "external", port, None, floor_rate)
            rows += krows
            if not args.keep:
                await cleanup_external(port, info["namespaces"])
        else:
            backends = ["sqlite", "memory"] if args.storage == "both" else [args.storage]
            for backend in backends:
                port = free_port()
                data = workdir / f"kapi-{backend}"
                srv = ServerProc(f"kapi[{backend}]",
                                 [sys.executable, "-m", "kapi.cli", "apiserver", "--insecure-http",
                                  "--data-dir", str(data), "--port", str(port), "--storage", backend,
                                  # no controller manager makes default service accounts
                                  "--disable-admission-plugins", "ServiceAccount"],
                                 port, workdir / f"kapi-{backend}.log")
                log(f"kapi[{backend}]: starting on :{port}")
                await srv.start()
                try:
                    krows, _ = await bench_kapi(plan, backend, port, srv.pid, floor_rate)
                    rows += krows
                finally:
                    srv.stop()
                    tail = srv.tail(5)
                    if "Traceback" in tail or "ERROR" in tail:
                        log(f"kapi[{backend}] log tail:\n{tail}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    header["seconds"] = round(time.monotonic() - t0, 1)
    print(render(rows, header))
    print(f"\nwhole run: {header['seconds']} s")
    if args.json:
        doc = {"header": header, "plan": plan.__dict__, "floor_rate": floor_rate,
               "goals": {"crud_ratio": CRUD_GOAL, "list_pods_ms": LIST_PODS_GOAL_MS,
                         "watch_p99_ms": WATCH_GOAL_MS},
               "rows": [r.to_json() for r in rows]}
        args.json.write_text(json.dumps(doc, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.kapi_url:
        external_port(args.kapi_url)  # fail before starting anything
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    return run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
