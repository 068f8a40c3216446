"""`python -m conformance.run --kubeconfig FILE`: the upstream conformance suite, ported,
against any cluster.

Owns selecting tests (--focus/--skip/--area/--class), running them (non-serial ones N at
a time, [Serial] ones alone afterwards, as upstream does), one printed line per upstream
test, the summary, the reports (report.py) and removing every namespace the run made,
also on SIGINT/SIGTERM. It never changes the cluster beyond the tests' own namespaces.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

import conformance.ports  # noqa: F401  (importing it registers every port)
from conformance import inventory, report
from conformance.framework import PORTS, Ctx, Run, Skip


def detect_features(api: client.ApiClient) -> set[str]:
    """What the cluster offers beyond the API: "containers" when some Ready node runs
    real containers (kapi's simulated nodes report runtime kapi-sim://)."""
    feats = set()
    for n in client.CoreV1Api(api).list_node().items:
        ready = any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        runtime = (n.status.node_info.container_runtime_version if n.status.node_info else "") or ""
        if ready and not runtime.startswith("kapi-sim://"):
            feats.add("containers")
    return feats


def select(args: argparse.Namespace) -> list[dict[str, Any]]:
    focus = re.compile(args.focus) if args.focus else None
    skip = re.compile(args.skip) if args.skip else None
    out = []
    for t in inventory.load():
        text = f"{t['codename']} {t['name']}"
        if focus and not focus.search(text) or skip and skip.search(text):
            continue
        if args.area and args.area.lower() not in t["area"].lower():
            continue
        if args.cls != "all" and t["class"] != args.cls:
            continue
        if args.ported_only and t["codename"] not in PORTS:
            continue
        reg = PORTS.get(t["codename"])
        if args.needs and (reg is None or args.needs not in reg.needs):
            continue
        out.append(t)
    return out


def run_one(run: Run, t: dict[str, Any]) -> dict[str, Any]:
    reg = PORTS.get(t["codename"])
    res: dict[str, Any] = {"test": t, "seconds": 0.0}
    if reg is None:
        return {**res, "result": "not ported", "reason": "not ported yet"}
    missing = [f for f in reg.needs if f not in run.features]
    if missing:
        return {**res, "result": "skipped", "reason": "feature absent: " + ", ".join(missing)}
    ctx = Ctx(run, reg.basename)
    t0 = time.monotonic()
    try:
        reg.fn(ctx)
        res.update(result="passed")
    except Skip as e:
        res.update(result="skipped", reason=str(e))
    except Exception as e:
        res.update(result="failed", reason=reason(e),
                   trace=traceback.format_exc(limit=6))
    finally:
        res["seconds"] = round(time.monotonic() - t0, 3)
        ctx.cleanup()
    return res


def reason(e: BaseException) -> str:
    """One line: an API error as its HTTP code, Status reason and message."""
    if isinstance(e, ApiException):
        try:
            st = json.loads(e.body)
            return f"HTTP {e.status} {st.get('reason', '')}: {st.get('message', '')}"
        except (TypeError, ValueError):
            return f"HTTP {e.status} {e.reason}"
    return " ".join(f"{type(e).__name__}: {e}".split())


def line(r: dict[str, Any]) -> str:
    tag = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "not ported": "----"}[r["result"]]
    tail = f"  ({r['seconds']:.1f}s)" if r["result"] in ("passed", "failed") else ""
    why = f"  -- {r['reason']}" if r["result"] in ("failed", "skipped") else ""
    return f"{tag}  {r['test']['codename']}{tail}{why}"


class Executor:
    """Runs tests on daemon threads so an interrupt can always reach the main thread."""

    def __init__(self, run: Run, parallel: int, out: Any) -> None:
        self.run, self.parallel, self.out = run, max(1, parallel), out
        self.results: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.closed = False  # after an interrupt: workers still running must stay silent

    def _worker(self, todo: list[dict[str, Any]]) -> None:
        while True:
            with self.lock:
                if not todo:
                    return
                t = todo.pop(0)
            r = run_one(self.run, t)
            with self.lock:
                if self.closed:
                    return
                self.results[t["number"]] = r
                print(line(r), file=self.out, flush=True)

    def close(self) -> None:
        """No worker prints from now on: a daemon thread writing to stdout while the
        interpreter shuts down aborts the process."""
        with self.lock:
            self.closed = True

    def batch(self, tests: list[dict[str, Any]], n: int) -> None:
        todo = list(tests)
        threads = [threading.Thread(target=self._worker, args=(todo,), daemon=True)
                   for _ in range(min(n, len(todo)) or 1)]
        for th in threads:
            th.start()
        for th in threads:
            while th.is_alive():
                th.join(0.2)  # short joins: SIGINT/SIGTERM are handled between them

    def all(self, tests: list[dict[str, Any]]) -> None:
        quick = [t for t in tests if t["codename"] not in PORTS]
        self.batch(quick, 1)
        ported = [t for t in tests if t["codename"] in PORTS]
        self.batch([t for t in ported if not t["serial"]], self.parallel)
        self.batch([t for t in ported if t["serial"]], 1)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def make_run(args: argparse.Namespace) -> Run:
    cfg = client.Configuration()
    config.load_kube_config(config_file=args.kubeconfig, client_configuration=cfg)
    cfg.connection_pool_maxsize = 256  # watch tests hold many streams open at once
    api = client.ApiClient(cfg)
    return Run(api, run_id=uuid.uuid4().hex[:12], kubeconfig=args.kubeconfig,
               kubectl=args.kubectl, features=detect_features(api))


def sweep(run: Run) -> None:
    """Delete every namespace this run made, including ones whose create reply was lost."""
    core = client.CoreV1Api(run.api)
    try:
        labelled = core.list_namespace(label_selector=f"e2e-run={run.run_id}").items
        with run.lock:
            run.namespaces.update(n.metadata.name for n in labelled
                                  if not n.metadata.deletion_timestamp)
    except Exception:
        pass
    run.delete_namespaces()


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="conformance.run", description=__doc__.split("\n")[0])
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--focus", help="regex: run only tests whose name matches")
    p.add_argument("--skip", help="regex: leave out tests whose name matches")
    p.add_argument("--area", help="substring of an inventory area, e.g. 'API machinery'")
    p.add_argument("--class", dest="cls", choices=("core", "stretch", "all"), default="all")
    p.add_argument("--ported-only", action="store_true", help="list only ported tests")
    p.add_argument("--needs", metavar="FEATURE",
                   help="only ported tests that need FEATURE, e.g. containers (a Docker node)")
    p.add_argument("--parallel", type=int, default=1, help="non-serial tests run N at a time")
    p.add_argument("--kubectl", help="kubectl binary (default: the one on PATH)")
    p.add_argument("--junit", help="write a JUnit XML report here")
    p.add_argument("--report", help="write the JSON report here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    tests = select(args)
    run = make_run(args)
    # both explicitly: a shell's background job inherits SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    ex = Executor(run, args.parallel, sys.stdout)
    interrupted = False
    try:
        ex.all(tests)
    except KeyboardInterrupt:
        interrupted = True
        ex.close()
        print("interrupted: removing the namespaces this run made", file=sys.stderr)
    finally:
        sweep(run)
    results = [ex.results.get(t["number"]) or {"test": t, "result": "skipped", "seconds": 0.0,
                                                "reason": "not run: interrupted"} for t in tests]
    print(report.summary(results))
    if args.report:
        report.write_json(args.report, results, run)
    if args.junit:
        report.write_junit(args.junit, results)
    if interrupted:
        return 130
    return 1 if any(r["result"] == "failed" for r in results) else 0


def exit_now(code: int) -> None:
    """Exit; after an interrupt, test threads may still sit in a socket call, and letting
    the interpreter finalize under them aborts the process (SIGABRT) now and then: the
    report is written and the namespaces swept by now, so leave without finalizing."""
    if threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_now(main())
