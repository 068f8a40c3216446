"""Named API behaviours, checked against ANY cluster through its kubeconfig.

`python -m conformance.run --kubeconfig FILE [--report report.json]` runs every
scenario with the official Python client in a namespace of its own, prints one line
per scenario and writes a JSON report. The same run against a real cluster and
against kapi tells where kapi differs. Scenarios only create objects in their own
namespace (and delete it at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

Scenario = Callable[["Ctx"], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def add(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn
    return add


@dataclass
class Ctx:
    api: client.ApiClient
    ns: str

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)


def _cm(name: str, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels),
                              data={"k": "v"})


def _expect_status(fn: Callable[[], Any], code: int) -> ApiException:
    try:
        fn()
    except ApiException as e:
        assert e.status == code, f"expected {code}, got {e.status}: {e.body}"
        assert json.loads(e.body)["kind"] == "Status"
        return e
    raise AssertionError(f"expected HTTP {code}, the call succeeded")


@scenario("resourceVersion increases with every write")
def rv_monotonic(c: Ctx) -> None:
    a = c.core.create_namespaced_config_map(c.ns, _cm("rv-a"))
    b = c.core.create_namespaced_config_map(c.ns, _cm("rv-b"))
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version)


@scenario("stale update is 409 Conflict")
def stale_update(c: Ctx) -> None:
    a = c.core.create_namespaced_config_map(c.ns, _cm("stale"))
    c.core.patch_namespaced_config_map("stale", c.ns, {"data": {"k": "2"}})
    _expect_status(lambda: c.core.replace_namespaced_config_map("stale", c.ns, a), 409)


@scenario("create of an existing name is 409 AlreadyExists")
def already_exists(c: Ctx) -> None:
    c.core.create_namespaced_config_map(c.ns, _cm("dup"))
    e = _expect_status(lambda: c.core.create_namespaced_config_map(c.ns, _cm("dup")), 409)
    assert json.loads(e.body)["reason"] == "AlreadyExists"


@scenario("get of a missing object is 404 NotFound")
def not_found(c: Ctx) -> None:
    e = _expect_status(lambda: c.core.read_namespaced_config_map("missing", c.ns), 404)
    assert json.loads(e.body)["reason"] == "NotFound"


@scenario("label selectors: =, !=, in, notin, exists, !exists")
def label_selectors(c: Ctx) -> None:
    c.core.create_namespaced_config_map(c.ns, _cm("l1", {"t": "a"}))
    c.core.create_namespaced_config_map(c.ns, _cm("l2", {"t": "b"}))
    c.core.create_namespaced_config_map(c.ns, _cm("l3"))
    def names(sel: str) -> list[str]:
        items = c.core.list_namespaced_config_map(c.ns, label_selector=sel).items
        return sorted(i.metadata.name for i in items if i.metadata.name.startswith("l"))
    assert names("t=a") == ["l1"]
    assert names("t!=a") == ["l2", "l3"]
    assert names("t in (a,b)") == ["l1", "l2"]
    assert names("t notin (a)") == ["l2", "l3"]
    assert names("t") == ["l1", "l2"]
    assert names("!t") == ["l3"]


@scenario("pagination: continue token pins the list revision")
def pagination(c: Ctx) -> None:
    for i in range(7):
        c.core.create_namespaced_config_map(c.ns, _cm(f"pg-{i}", {"pg": "1"}))
    first = c.core.list_namespaced_config_map(c.ns, limit=3, label_selector="pg=1")
    c.core.create_namespaced_config_map(c.ns, _cm("pg-9", {"pg": "1"}))
    seen = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = c.core.list_namespaced_config_map(c.ns, limit=3, _continue=token,
                                                 label_selector="pg=1")
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert seen == [f"pg-{i}" for i in range(7)], seen


@scenario("watch from a resourceVersion delivers later events in order")
def watch_order(c: Ctx) -> None:
    rv = c.core.list_namespaced_config_map(c.ns).metadata.resource_version
    def writer() -> None:
        c.core.create_namespaced_config_map(c.ns, _cm("w"))
        c.core.patch_namespaced_config_map("w", c.ns, {"data": {"k": "2"}})
        c.core.delete_namespaced_config_map("w", c.ns)
    threading.Timer(0.2, writer).start()
    types = []
    w = watch.Watch()
    for ev in w.stream(c.core.list_namespaced_config_map, c.ns, resource_version=rv,
                       timeout_seconds=10):
        if ev["object"].metadata.name == "w":
            types.append(ev["type"])
        if len(types) == 3:
            w.stop()
    assert types == ["ADDED", "MODIFIED", "DELETED"], types


@scenario("generation moves on spec changes only")
def generation(c: Ctx) -> None:
    apps = client.AppsV1Api(c.api)
    d = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="gen"),
        spec=client.V1DeploymentSpec(
            replicas=0, selector=client.V1LabelSelector(match_labels={"a": "gen"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"a": "gen"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))))
    assert apps.create_namespaced_deployment(c.ns, d).metadata.generation == 1
    assert apps.patch_namespaced_deployment("gen", c.ns, {"metadata": {"labels": {"x": "y"}}}) \
        .metadata.generation == 1
    assert apps.patch_namespaced_deployment("gen", c.ns, {"spec": {"replicas": 0,
                                                                   "minReadySeconds": 3}}) \
        .metadata.generation == 2


@scenario("dry run changes nothing")
def dry_run(c: Ctx) -> None:
    c.core.create_namespaced_config_map(c.ns, _cm("dry"), dry_run="All")
    _expect_status(lambda: c.core.read_namespaced_config_map("dry", c.ns), 404)


@scenario("finalizers hold deletion until removed")
def finalizers(c: Ctx) -> None:
    cm = _cm("fin")
    cm.metadata.finalizers = ["example.com/hold"]
    c.core.create_namespaced_config_map(c.ns, cm)
    c.core.delete_namespaced_config_map("fin", c.ns)
    assert c.core.read_namespaced_config_map("fin", c.ns).metadata.deletion_timestamp
    c.core.patch_namespaced_config_map("fin", c.ns, {"metadata": {"finalizers": None}})
    _expect_status(lambda: c.core.read_namespaced_config_map("fin", c.ns), 404)


def run(kubeconfig: str | None, only: list[str] | None = None) -> list[dict[str, Any]]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    results = []
    with client.ApiClient(cfg) as api:
        core = client.CoreV1Api(api)
        ns = f"conformance-{uuid.uuid4().hex[:8]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        try:
            for name, fn in SCENARIOS.items():
                if only and name not in only:
                    continue
                t0 = time.monotonic()
                try:
                    fn(Ctx(api, ns))
                    results.append({"scenario": name, "passed": True})
                except Exception as e:
                    results.append({"scenario": name, "passed": False, "error": repr(e),
                                    "trace": traceback.format_exc(limit=3)})
                results[-1]["seconds"] = round(time.monotonic() - t0, 3)
        finally:
            try:
                core.delete_namespace(ns)
            except ApiException:
                pass
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="conformance.run")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--report", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    results = run(args.kubeconfig)
    for r in results:
        print(f"{'PASS' if r['passed'] else 'FAIL'}  {r['scenario']}"
              + ("" if r["passed"] else f"  -- {r['error']}"))
    passed = sum(r["passed"] for r in results)
    print(f"{passed}/{len(results)} behaviours hold")
    if args.report:
        with open(args.report, "w") as f:
            json.dump({"results": results, "passed": passed, "total": len(results)}, f, indent=2)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
