"""Server-side printing: golden Table cells per kind, as kube-apiserver 1.33 prints them
(pkg/printers/internalversion/printers.go; pod cases ported from its printers_test.go)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kapi.endpoints.tables import (
    TableOptionsError,
    TableWatchEncoder,
    column_definitions,
    human_duration,
    to_table,
    watch_table_event,
)
from kapi.meta.resources import Resource
from kapi.registry.kinds import SCHEME

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def res(group: str, version: str, resource: str) -> Resource:
    r = SCHEME.get(group, version, resource)
    assert r is not None
    return r


def meta(name: str, created: float = 300, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "uid": "u-" + name, "resourceVersion": "7",
            "creationTimestamp": ago(created), **extra}


def cells(group: str, version: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    table = to_table(res(group, version, resource), [obj], now=NOW)
    assert len(table["rows"]) == 1
    row = table["rows"][0]
    assert len(row["cells"]) == len(table["columnDefinitions"])
    return row["cells"]


def header(group: str, version: str, resource: str) -> list[tuple[str, str, int]]:
    return [(c["name"], c["type"], c["priority"])
            for c in column_definitions(res(group, version, resource))]


# ---------------------------------------------------------------------------------------
# HumanDuration (k8s.io/apimachinery/pkg/util/duration tests)
# ---------------------------------------------------------------------------------------

H, M, D, Y = 3600, 60, 86400, 365 * 86400
MS = 0.001


@pytest.mark.parametrize("seconds,want", [
    (1, "1s"), (70, "70s"), (190, "3m10s"), (70 * M, "70m"), (47 * H, "47h"), (49 * H, "2d1h"),
    ((8 * 24 + 2) * H, "8d"), (367 * D, "367d"), ((365 * 2 * 24 + 25) * H, "2y1d"),
    ((365 * 8 * 24 + 2) * H, "8y"),
    (-2, "<invalid>"), (-2 + 1e-9, "0s"), (0, "0s"), (1 - MS, "0s"), (2 * M - MS, "119s"),
    (2 * M, "2m"), (2 * M + 1, "2m1s"), (10 * M - MS, "9m59s"), (10 * M, "10m"),
    (10 * M + 1, "10m"), (3 * H - MS, "179m"), (3 * H, "3h"), (3 * H + M, "3h1m"),
    (8 * H - MS, "7h59m"), (8 * H, "8h"), (8 * H + 59 * M, "8h"), (2 * D - MS, "47h"),
    (2 * D, "2d"), (2 * D + H, "2d1h"), (8 * D - MS, "7d23h"), (8 * D, "8d"),
    (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"), (2 * Y, "2y"), (2 * Y + 23 * H, "2y"),
    (2 * Y + 23 * H + 59 * M, "2y"), (2 * Y + D - MS, "2y"), (2 * Y + D, "2y1d"),
    (3 * Y, "3y"), (4 * Y, "4y"), (5 * Y, "5y"), (6 * Y, "6y"), (7 * Y, "7y"),
    (8 * Y - MS, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"), (9 * Y, "9y"),
])
def test_human_duration(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


# ---------------------------------------------------------------------------------------
# pods
# ---------------------------------------------------------------------------------------

def pod(status: dict[str, Any], *, containers: int = 1, inits: list[dict[str, Any]] | None = None,
        deleted: bool = False, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    m = meta("web", 600)
    if deleted:
        m["deletionTimestamp"] = ago(10)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m,
            "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
                     **({"initContainers": inits} if inits else {}), **(spec or {})},
            "status": status}


def running(ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": "c0", "ready": ready, "restartCount": restarts,
            "state": {"running": {"startedAt": ago(100)}}, **extra}


def waiting(reason: str, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": "c0", "ready": False, "restartCount": restarts,
            "state": {"waiting": {"reason": reason}}, **extra}


def terminated(reason: str | None = None, exit_code: int = 0, **extra: Any) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": exit_code, "finishedAt": ago(30)}
    if reason:
        term["reason"] = reason
    return {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": term},
            **extra}


def last_exit(seconds_ago: float) -> dict[str, Any]:
    return {"lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds_ago)}}}


INIT = [{"name": "init", "image": "busybox"}]
SIDECAR = [{"name": "init", "image": "busybox"},
           {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]


def pod_cells(p: dict[str, Any]) -> list[Any]:
    return cells("", "v1", "pods", p)[1:4]


def test_pod_columns() -> None:
    assert header("", "v1", "pods") == [
        ("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
        ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1),
        ("Node", "string", 1), ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)]
    assert column_definitions(res("", "v1", "pods"))[0]["format"] == "name"


@pytest.mark.parametrize("p,expected", [
    (pod({"phase": "Pending"}), ["0/1", "Pending", "0"]),
    (pod({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
     ["0/1", "SchedulingGated", "0"]),
    (pod({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}),
     ["0/1", "ContainerCreating", "0"]),
    (pod({"phase": "Pending", "containerStatuses": [waiting("ErrImagePull")]}),
     ["0/1", "ErrImagePull", "0"]),
    (pod({"phase": "Running", "containerStatuses": [running()]}), ["1/1", "Running", "0"]),
    (pod({"phase": "Running", "containerStatuses": [
        running(), waiting("CrashLoopBackOff", 5, **last_exit(200))]}, containers=2),
     ["1/2", "CrashLoopBackOff", "5 (3m20s ago)"]),
    (pod({"phase": "Running", "containerStatuses": [running(restarts=3, **last_exit(5 * D))]}),
     ["1/1", "Running", "3 (5d ago)"]),
    (pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]}),
     ["0/1", "Completed", "0"]),
    (pod({"phase": "Failed", "containerStatuses": [terminated("Error", 1)]}),
     ["0/1", "Error", "0"]),
    (pod({"phase": "Failed", "containerStatuses": [terminated(None, 137)]}),
     ["0/1", "ExitCode:137", "0"]),
    (pod({"phase": "Failed", "containerStatuses": [
        {"name": "c0", "state": {"terminated": {"signal": 9}}}]}), ["0/1", "Signal:9", "0"]),
    (pod({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
     ["0/1", "Evicted", "0"]),
    (pod({"phase": "Running", "containerStatuses": [running()]}, deleted=True),
     ["1/1", "Terminating", "0"]),
    (pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]}, deleted=True),
     ["0/1", "Completed", "0"]),
    (pod({"phase": "Running", "reason": "NodeLost", "containerStatuses": [running()]},
         deleted=True), ["1/1", "Unknown", "0"]),
    # init containers
    (pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "state": {"running": {}}, "restartCount": 0}],
        "containerStatuses": [waiting("PodInitializing")]}, inits=INIT),
     ["0/1", "Init:0/1", "0"]),
    (pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         **last_exit(40)}], "containerStatuses": [waiting("PodInitializing")]}, inits=INIT),
     ["0/1", "Init:CrashLoopBackOff", "4 (40s ago)"]),
    (pod({"phase": "Pending", "initContainerStatuses": [terminated("Error", 1, name="init")]},
         inits=INIT), ["0/1", "Init:Error", "0"]),
    (pod({"phase": "Pending", "initContainerStatuses": [terminated(None, 2, name="init")]},
         inits=INIT), ["0/1", "Init:ExitCode:2", "0"]),
    # restartable (sidecar) init containers count towards READY
    (pod({"phase": "Running", "initContainerStatuses": [
        terminated("Completed", name="init"),
        {"name": "proxy", "ready": True, "started": True, "restartCount": 1,
         "state": {"running": {}}, **last_exit(90)}],
        "containerStatuses": [running()],
        "conditions": [{"type": "Initialized", "status": "True"}]}, inits=SIDECAR),
     ["2/2", "Running", "1 (90s ago)"]),
    (pod({"phase": "Pending", "initContainerStatuses": [
        terminated("Completed", name="init"),
        {"name": "proxy", "ready": False, "started": False, "state": {"running": {}}}]},
        inits=SIDECAR), ["0/2", "Init:1/2", "0"]),
])
def test_pod_ready_status_restarts(p: dict[str, Any], expected: list[str]) -> None:
    assert pod_cells(p) == expected


def _statuses(*states: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": f"c{i}", "restartCount": 3, **s} for i, s in enumerate(states)]


@pytest.mark.parametrize("status,expected", [  # upstream TestPrintPod, test1-test6
    ({"phase": "podPhase", "containerStatuses": _statuses(
        {"ready": True, "state": {"running": {}}}, {})}, ["1/2", "podPhase", "6"]),
    ({"phase": "podPhase", "containerStatuses": _statuses(
        {"ready": True, "state": {"running": {}}},
        {"state": {"waiting": {"reason": "ContainerWaitingReason"}}})},
     ["1/2", "ContainerWaitingReason", "6"]),
    ({"phase": "podPhase", "containerStatuses": _statuses(
        {"state": {"waiting": {"reason": "ContainerWaitingReason"}}},
        {"state": {"terminated": {"reason": "ContainerTerminatedReason"}}})},
     ["0/2", "ContainerWaitingReason", "6"]),
    ({"phase": "podPhase", "containerStatuses": _statuses(
        {"ready": True, "state": {"running": {}}}, {"ready": True})}, ["1/2", "podPhase", "6"]),
    ({"phase": "podPhase", "reason": "podReason", "containerStatuses": _statuses(
        {"ready": True, "state": {"running": {}}}, {"ready": True})}, ["1/2", "podReason", "6"]),
    ({"phase": "Running", "containerStatuses": _statuses(
        {"ready": True, "state": {"terminated": {"reason": "Completed"}}},
        {"ready": True, "state": {"running": {}}})}, ["1/2", "NotReady", "6"]),
    ({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
      "containerStatuses": _statuses(
          {"ready": True, "state": {"terminated": {"reason": "Completed"}}},
          {"ready": True, "state": {"running": {}}})}, ["1/2", "Running", "6"]),
])
def test_pod_upstream_cases(status: dict[str, Any], expected: list[str]) -> None:
    assert pod_cells(pod(status, containers=2)) == expected


def test_pod_with_statuses_for_unknown_containers() -> None:  # upstream test4 (sidecars)
    p = pod({"phase": "Running",
             "initContainerStatuses": [{"name": "initinvalid"}, {"name": "init"},
                                       {"name": "proxy"}],
             "containerStatuses": [{"name": "containerinvalid"}, {"name": "c0"}]},
            inits=SIDECAR)
    assert pod_cells(p) == ["0/2", "Init:0/2", "0"]


def test_pod_wide_cells_and_row_conditions() -> None:
    p = pod({"phase": "Running", "podIP": "10.1.2.3", "podIPs": [{"ip": "10.1.2.3"}],
             "nominatedNodeName": "node-b",
             "conditions": [{"type": "example.com/gate-a", "status": "True"},
                            {"type": "example.com/gate-b", "status": "False"}],
             "containerStatuses": [running()]},
            spec={"nodeName": "node-a", "readinessGates": [
                {"conditionType": "example.com/gate-a"}, {"conditionType": "example.com/gate-b"}]})
    assert cells("", "v1", "pods", p) == ["web", "1/1", "Running", "0", "10m", "10.1.2.3",
                                          "node-a", "node-b", "1/2"]
    row = to_table(res("", "v1", "pods"), [p], now=NOW)["rows"][0]
    assert "conditions" not in row
    bare = pod({"phase": "Pending"})
    assert cells("", "v1", "pods", bare)[5:] == ["<none>", "<none>", "<none>", "<none>"]


@pytest.mark.parametrize("phase,reason,message", [
    ("Succeeded", "Succeeded", "The pod has completed successfully."),
    ("Failed", "Failed", "The pod failed."),
])
def test_pod_row_conditions(phase: str, reason: str, message: str) -> None:
    row = to_table(res("", "v1", "pods"), [pod({"phase": phase})], now=NOW)["rows"][0]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": reason,
                                  "message": message}]


# ---------------------------------------------------------------------------------------
# apps
# ---------------------------------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"},
                                    {"name": "log", "image": "fluentd"}]}}


def test_deployment() -> None:
    assert header("apps", "v1", "deployments") == [
        ("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "string", 0),
        ("Available", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
        ("Images", "string", 1), ("Selector", "string", 1)]
    d = {"metadata": meta("web", 3 * D + 2 * H),
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
         "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                    "availableReplicas": 2}}
    assert cells("apps", "v1", "deployments", d) == [
        "web", "2/3", 3, 2, "3d2h", "web,log", "nginx:1.25,fluentd", "app=web"]
    d["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}
    assert cells("apps", "v1", "deployments", d)[-1] == "<invalid>"
    del d["spec"]["selector"]
    assert cells("apps", "v1", "deployments", d)[-1] == ""


def test_replicaset() -> None:
    assert [c[0] for c in header("apps", "v1", "replicasets")] == [
        "Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]
    rs = {"metadata": meta("web-5d8f", 90),
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash":
                                                               "5d8f"}},
                   "template": TEMPLATE},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert cells("apps", "v1", "replicasets", rs) == [
        "web-5d8f", 2, 2, 1, "90s", "web,log", "nginx:1.25,fluentd",
        "app=web,pod-template-hash=5d8f"]
    rs["spec"]["selector"] = {}
    assert cells("apps", "v1", "replicasets", rs)[-1] == "<none>"


def test_statefulset() -> None:
    sts = {"metadata": meta("db", 45 * M), "spec": {"replicas": 3, "template": TEMPLATE},
           "status": {"readyReplicas": 3}}
    assert header("apps", "v1", "statefulsets") == [
        ("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0),
        ("Containers", "string", 1), ("Images", "string", 1)]
    assert cells("apps", "v1", "statefulsets", sts) == ["db", "3/3", "45m", "web,log",
                                                        "nginx:1.25,fluentd"]


def test_daemonset() -> None:
    assert [c[0] for c in header("apps", "v1", "daemonsets")] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
        "Containers", "Images", "Selector"]
    ds = {"metadata": meta("fluentd", 12 * D),
          "spec": {"selector": {"matchLabels": {"name": "fluentd"}},
                   "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                         "containers": [{"name": "f", "image": "fluentd:v1"}]}}},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert cells("apps", "v1", "daemonsets", ds) == [
        "fluentd", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "12d", "f", "fluentd:v1",
        "name=fluentd"]
    del ds["spec"]["template"]["spec"]["nodeSelector"]
    assert cells("apps", "v1", "daemonsets", ds)[6] == "<none>"


def test_controllerrevision() -> None:
    cr: dict[str, Any] = {"metadata": meta("fluentd-7c9", 60, ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "controller": True}]),
        "revision": 2}
    assert [c[0] for c in header("apps", "v1", "controllerrevisions")] == [
        "Name", "Controller", "Revision", "Age"]
    assert cells("apps", "v1", "controllerrevisions", cr) == [
        "fluentd-7c9", "daemonset.apps/fluentd", 2, "60s"]
    cr["metadata"]["ownerReferences"][0]["apiVersion"] = "v1"
    cr["metadata"]["ownerReferences"][0]["kind"] = "Pod"
    assert cells("apps", "v1", "controllerrevisions", cr)[1] == "pod/fluentd"
    del cr["metadata"]["ownerReferences"]
    assert cells("apps", "v1", "controllerrevisions", cr)[1] == "<none>"


# ---------------------------------------------------------------------------------------
# batch
# ---------------------------------------------------------------------------------------

def job(status: dict[str, Any], spec: dict[str, Any] | None = None,
        deleted: bool = False) -> dict[str, Any]:
    m = meta("pi", 2 * M)
    if deleted:
        m["deletionTimestamp"] = ago(1)
    return {"metadata": m,
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
                     **(spec if spec is not None else {"completions": 1, "parallelism": 1})},
            "status": status}


def cond(ctype: str, status: str = "True") -> dict[str, Any]:
    return {"type": ctype, "status": status}


def test_job_columns() -> None:
    assert header("batch", "v1", "jobs") == [
        ("Name", "string", 0), ("Status", "string", 0), ("Completions", "string", 0),
        ("Duration", "string", 0), ("Age", "string", 0), ("Containers", "string", 1),
        ("Images", "string", 1), ("Selector", "string", 1)]


@pytest.mark.parametrize("j,expected", [
    (job({"succeeded": 1, "startTime": ago(100), "completionTime": ago(75),
          "conditions": [cond("SuccessCriteriaMet"), cond("Complete")]}),
     ["pi", "Complete", "1/1", "25s", "2m"]),
    (job({"active": 1, "startTime": ago(100)}), ["pi", "Running", "0/1", "100s", "2m"]),
    (job({}, {"parallelism": 3}), ["pi", "Running", "0/1 of 3", "", "2m"]),
    (job({"succeeded": 2, "startTime": ago(100)}, {"completions": 5, "parallelism": 2}),
     ["pi", "Running", "2/5", "100s", "2m"]),
    (job({}, {}), ["pi", "Running", "0/1", "", "2m"]),
    (job({"failed": 7, "startTime": ago(110), "conditions": [cond("FailureTarget"),
                                                              cond("Failed")]}),
     ["pi", "Failed", "0/1", "110s", "2m"]),
    (job({"startTime": ago(110), "conditions": [cond("FailureTarget")]}),
     ["pi", "FailureTarget", "0/1", "110s", "2m"]),
    (job({"conditions": [cond("Suspended")]}, {"completions": 1, "suspend": True}),
     ["pi", "Suspended", "0/1", "", "2m"]),
    (job({"conditions": [cond("Suspended", "False")]}), ["pi", "Running", "0/1", "", "2m"]),
    (job({"conditions": [cond("Suspended")]}, deleted=True),
     ["pi", "Terminating", "0/1", "", "2m"]),
])
def test_job(j: dict[str, Any], expected: list[Any]) -> None:
    row = cells("batch", "v1", "jobs", j)
    assert row[:5] == expected
    assert row[5:] == ["pi", "perl", "batch.kubernetes.io/controller-uid=abc"]


def test_cronjob() -> None:
    assert header("batch", "v1", "cronjobs") == [
        ("Name", "string", 0), ("Schedule", "string", 0), ("Timezone", "string", 0),
        ("Suspend", "boolean", 0), ("Active", "integer", 0), ("Last Schedule", "string", 0),
        ("Age", "string", 0), ("Containers", "string", 1), ("Images", "string", 1),
        ("Selector", "string", 1)]
    cj = {"metadata": meta("hello", 2 * H),
          "spec": {"schedule": "*/5 * * * *", "suspend": False,
                   "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                       {"name": "hello", "image": "busybox"}]}}}}},
          "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(4 * M)}}
    assert cells("batch", "v1", "cronjobs", cj) == [
        "hello", "*/5 * * * *", "<none>", "False", 1, "4m", "120m", "hello", "busybox", "<none>"]
    cj["spec"].update(timeZone="Europe/Paris", suspend=True)
    cj["status"] = {}
    assert cells("batch", "v1", "cronjobs", cj)[2:6] == ["Europe/Paris", "True", 0, "<none>"]
    del cj["spec"]["suspend"]
    assert cells("batch", "v1", "cronjobs", cj)[3] == "<unset>"


# ---------------------------------------------------------------------------------------
# core: services, endpoints, nodes, namespaces, configmaps, secrets, serviceaccounts
# ---------------------------------------------------------------------------------------

def svc(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": meta("web", 5 * D), "spec": spec, "status": status or {}}


def test_service_columns() -> None:
    assert header("", "v1", "services") == [
        ("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
        ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
        ("Selector", "string", 1)]


@pytest.mark.parametrize("s,expected", [
    (svc({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
          "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
          "selector": {"k8s-app": "kube-dns"}}),
     ["web", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "5d", "k8s-app=kube-dns"]),
    (svc({"type": "NodePort", "clusterIPs": ["10.96.1.1"],
          "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
          "selector": {"app": "web", "tier": "fe"}}),
     ["web", "NodePort", "10.96.1.1", "<none>", "80:30080/TCP", "5d", "app=web,tier=fe"]),
    (svc({"type": "ClusterIP", "clusterIP": "None", "ports": [], "selector": {}}),
     ["web", "ClusterIP", "None", "<none>", "<none>", "5d", "<none>"]),
    (svc({"type": "ClusterIP", "clusterIPs": ["10.0.0.1"], "externalIPs": ["1.2.3.4", "5.6.7.8"],
          "ports": [{"port": 443, "protocol": "TCP"}]}),
     ["web", "ClusterIP", "10.0.0.1", "1.2.3.4,5.6.7.8", "443/TCP", "5d", "<none>"]),
    (svc({"type": "LoadBalancer", "clusterIPs": ["1.3.4.5"],
          "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000},
                    {"port": 7777, "protocol": "SCTP", "nodePort": 31001}]}),
     ["web", "LoadBalancer", "1.3.4.5", "<pending>", "80:31000/TCP,7777:31001/SCTP", "5d",
      "<none>"]),
    (svc({"type": "LoadBalancer", "clusterIPs": ["1.5.6.7"], "ports": []},
         {"loadBalancer": {"ingress": [{"ip": "3.4.5.6"}, {"ip": "2.3.4.5"},
                                       {"hostname": "lb.example.com"}]}}),
     ["web", "LoadBalancer", "1.5.6.7", "2.3.4.5,3.4.5.6,lb.example.com", "<none>", "5d",
      "<none>"]),
    (svc({"type": "LoadBalancer", "clusterIPs": ["1.5.6.7"], "externalIPs": ["9.9.9.9"]},
         {"loadBalancer": {"ingress": [{"ip": "2.3.4.5"}]}}),
     ["web", "LoadBalancer", "1.5.6.7", "2.3.4.5,9.9.9.9", "<none>", "5d", "<none>"]),
    (svc({"type": "ExternalName", "externalName": "db.example.com"}),
     ["web", "ExternalName", "<none>", "db.example.com", "<none>", "5d", "<none>"]),
])
def test_service(s: dict[str, Any], expected: list[Any]) -> None:
    assert cells("", "v1", "services", s) == expected


@pytest.mark.parametrize("subsets,expected", [
    (None, "<none>"),
    ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}]}],
     "10.0.0.1:8080,10.0.0.2:8080"),
    ([{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)],
       "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}],
     "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 5 more..."),
    ([{"addresses": [{"ip": "10.0.0.1"}]}, {"addresses": [{"ip": "fd00::1"}],
                                             "ports": [{"port": 53}]}],
     "10.0.0.1,[fd00::1]:53"),
    ([{"notReadyAddresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 80}]}], ""),
])
def test_endpoints(subsets: list[dict[str, Any]] | None, expected: str) -> None:
    ep = {"metadata": meta("web", 30), **({"subsets": subsets} if subsets is not None else {})}
    assert cells("", "v1", "endpoints", ep) == ["web", expected, "30s"]


def node(conditions: list[dict[str, Any]], labels: dict[str, str] | None = None,
         unschedulable: bool = False, addresses: list[dict[str, str]] | None = None,
         info: dict[str, str] | None = None) -> dict[str, Any]:
    m = meta("node-1", 40 * D)
    m.pop("namespace")
    m["labels"] = labels or {}
    return {"metadata": m, "spec": {"unschedulable": True} if unschedulable else {},
            "status": {"conditions": conditions, "addresses": addresses or [],
                       "nodeInfo": info or {}}}


def test_node_columns() -> None:
    assert header("", "v1", "nodes") == [
        ("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0),
        ("Age", "string", 0), ("Version", "string", 0), ("Internal-IP", "string", 1),
        ("External-IP", "string", 1), ("OS-Image", "string", 1), ("Kernel-Version", "string", 1),
        ("Container-Runtime", "string", 1)]


def test_nodes() -> None:
    n = node([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
             labels={"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "x",
                     "kubernetes.io/role": "master", "kubernetes.io/hostname": "node-1"},
             addresses=[{"type": "Hostname", "address": "node-1"},
                        {"type": "InternalIP", "address": "192.168.1.10"}],
             info={"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                   "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.13"})
    assert cells("", "v1", "nodes", n) == [
        "node-1", "Ready", "control-plane,master", "40d", "v1.33.0", "192.168.1.10", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.1.0", "containerd://1.7.13"]
    n = node([{"type": "Ready", "status": "Unknown"}], unschedulable=True)
    assert cells("", "v1", "nodes", n) == [
        "node-1", "NotReady,SchedulingDisabled", "<none>", "40d", "", "<none>", "<none>",
        "<unknown>", "<unknown>", "<unknown>"]
    assert cells("", "v1", "nodes", node([]))[1] == "Unknown"


def test_namespaces_configmaps_secrets_serviceaccounts() -> None:
    ns = {"metadata": meta("kube-system", 400 * D), "status": {"phase": "Active"}}
    assert header("", "v1", "namespaces") == [("Name", "string", 0), ("Status", "string", 0),
                                              ("Age", "string", 0)]
    assert cells("", "v1", "namespaces", ns) == ["kube-system", "Active", "400d"]
    ns["metadata"]["deletionTimestamp"] = ago(1)
    ns["status"]["phase"] = "Terminating"
    assert cells("", "v1", "namespaces", ns)[1] == "Terminating"

    cm = {"metadata": meta("cfg", 2 * Y + D), "data": {"a": "1", "b": "2"},
          "binaryData": {"c": "AA=="}}
    assert [c[0] for c in header("", "v1", "configmaps")] == ["Name", "Data", "Age"]
    assert cells("", "v1", "configmaps", cm) == ["cfg", 3, "2y1d"]
    assert cells("", "v1", "configmaps", {"metadata": meta("empty")}) == ["empty", 0, "5m"]

    secret = {"metadata": meta("tls", 61), "type": "kubernetes.io/tls",
              "data": {"tls.crt": "", "tls.key": ""}}
    assert [c[0] for c in header("", "v1", "secrets")] == ["Name", "Type", "Data", "Age"]
    assert cells("", "v1", "secrets", secret) == ["tls", "kubernetes.io/tls", 2, "61s"]

    sa = {"metadata": meta("default", 7 * M), "secrets": [{"name": "default-token"}]}
    assert [c[0] for c in header("", "v1", "serviceaccounts")] == ["Name", "Secrets", "Age"]
    assert cells("", "v1", "serviceaccounts", sa) == ["default", 1, "7m"]
    assert cells("", "v1", "serviceaccounts", {"metadata": meta("x")})[1] == 0


# ---------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------

def test_event_columns() -> None:
    expected = [("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
                ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
                ("Name", "string", 1)]
    assert header("", "v1", "events") == expected
    assert header("events.k8s.io", "v1", "events") == expected


def test_core_event() -> None:
    ev = {"metadata": meta("web.17a", 10 * M), "type": "Warning", "reason": "BackOff",
          "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                             "fieldPath": "spec.containers{web}"},
          "message": "Back-off restarting failed container\n",
          "source": {"component": "kubelet", "host": "node-1"},
          "firstTimestamp": ago(10 * M), "lastTimestamp": ago(30), "count": 12}
    assert cells("", "v1", "events", ev) == [
        "30s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1",
        "Back-off restarting failed container", "10m", 12, "web.17a"]


def test_core_event_new_api_fields() -> None:
    ev = {"metadata": meta("ns.1", 60), "type": "Normal", "reason": "Scheduled",
          "involvedObject": {"kind": "Node"}, "message": "ok",
          "eventTime": "2024-05-01T11:59:00.123456Z",  # a MicroTime: 59.9s ago
          "reportingComponent": "default-scheduler", "reportingInstance": "sched-1"}
    assert cells("", "v1", "events", ev) == [
        "59s", "Normal", "Scheduled", "node", "", "default-scheduler, sched-1", "ok", "59s", 1,
        "ns.1"]
    ev["series"] = {"count": 4, "lastObservedTime": "2024-05-01T11:59:55.000000Z"}
    assert cells("", "v1", "events", ev)[0] == "5s"
    assert cells("", "v1", "events", ev)[8] == 4
    assert cells("", "v1", "events", {"metadata": meta("bare")})[0] == "<unknown>"


def test_events_k8s_io_event() -> None:
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web.17b", 90),
          "eventTime": None, "reportingController": "kubelet", "reportingInstance": "node-1",
          "action": "Pulling", "reason": "Pulling", "type": "Normal", "note": "Pulling image",
          "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
          "deprecatedSource": {"component": "kubelet", "host": "node-1"},
          "deprecatedFirstTimestamp": ago(90), "deprecatedLastTimestamp": ago(20),
          "deprecatedCount": 2}
    assert cells("events.k8s.io", "v1", "events", ev) == [
        "20s", "Normal", "Pulling", "pod/web", "spec.containers{web}", "kubelet, node-1",
        "Pulling image", "90s", 2, "web.17b"]


# ---------------------------------------------------------------------------------------
# pvcs, quotas, default convertor kinds
# ---------------------------------------------------------------------------------------

def test_pvcs() -> None:
    assert header("", "v1", "persistentvolumeclaims") == [
        ("Name", "string", 0), ("Status", "string", 0), ("Volume", "string", 0),
        ("Capacity", "string", 0), ("Access Modes", "string", 0), ("StorageClass", "string", 0),
        ("VolumeAttributesClass", "string", 0), ("Age", "string", 0),
        ("VolumeMode", "string", 1)]
    bound = {"metadata": meta("data", 3 * H),
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                      "volumeName": "pvc-123", "volumeMode": "Filesystem",
                      "resources": {"requests": {"storage": "1Gi"}}},
             "status": {"phase": "Bound", "accessModes": ["ReadWriteOncePod", "ReadWriteOnce",
                                                          "ReadOnlyMany"],
                        "capacity": {"storage": "2Gi"}}}
    assert cells("", "v1", "persistentvolumeclaims", bound) == [
        "data", "Bound", "pvc-123", "2Gi", "RWO,ROX,RWOP", "standard", "<unset>", "3h",
        "Filesystem"]
    pending = {"metadata": meta("scratch", 20, annotations={
        "volume.beta.kubernetes.io/storage-class": "fast"}),
        "spec": {"storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Pending"}}
    assert cells("", "v1", "persistentvolumeclaims", pending) == [
        "scratch", "Pending", "", "", "", "fast", "<unset>", "20s", "<unset>"]
    pending["metadata"]["deletionTimestamp"] = ago(1)
    assert cells("", "v1", "persistentvolumeclaims", pending)[1] == "Terminating"


def test_resourcequota() -> None:
    rq = {"metadata": meta("compute", D),
          "status": {"hard": {"requests.cpu": "2", "pods": "10", "limits.memory": "4Gi",
                              "limits.cpu": "4", "requests.memory": "2Gi"},
                     "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}}}
    assert [c[0] for c in header("", "v1", "resourcequotas")] == ["Name", "Request", "Limit",
                                                                  "Age"]
    assert cells("", "v1", "resourcequotas", rq) == [
        "compute", "pods: 3/10, requests.cpu: 500m/2, requests.memory: 0/2Gi",
        "limits.cpu: 1/4, limits.memory: 0/4Gi", "24h"]


@pytest.mark.parametrize("group,resource", [
    ("", "limitranges"), ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "clusterroles"),
])
def test_default_convertor(group: str, resource: str) -> None:
    obj = {"metadata": meta("thing", 100)}
    table = to_table(res(group, "v1", resource), [obj], now=NOW)
    assert table["columnDefinitions"] == [
        {"name": "Name", "type": "string", "format": "name",
         "description": table["columnDefinitions"][0]["description"], "priority": 0},
        {"name": "Created At", "type": "date", "format": "",
         "description": table["columnDefinitions"][1]["description"], "priority": 0}]
    assert table["columnDefinitions"][1]["description"].startswith("CreationTimestamp is a")
    assert table["rows"][0]["cells"] == ["thing", "2024-05-01T11:58:20Z"]
    empty = to_table(res(group, "v1", resource), [], now=NOW, list_meta={"resourceVersion": "9"})
    assert empty["rows"] is None  # upstream's default convertor leaves rows nil


# ---------------------------------------------------------------------------------------
# other groups
# ---------------------------------------------------------------------------------------

def test_lease() -> None:
    lease = {"metadata": meta("kube-scheduler", 90 * M),
             "spec": {"holderIdentity": "sched-1_abc", "leaseDurationSeconds": 15}}
    assert [c[0] for c in header("coordination.k8s.io", "v1", "leases")] == ["Name", "Holder",
                                                                             "Age"]
    assert cells("coordination.k8s.io", "v1", "leases", lease) == ["kube-scheduler",
                                                                   "sched-1_abc", "90m"]
    assert cells("coordination.k8s.io", "v1", "leases", {"metadata": meta("x")})[1] == ""


def test_endpointslice() -> None:
    assert [c[0] for c in header("discovery.k8s.io", "v1", "endpointslices")] == [
        "Name", "AddressType", "Ports", "Endpoints", "Age"]
    s = {"metadata": meta("web-abc", 30), "addressType": "IPv4",
         "ports": [{"name": "http", "port": 80}, {"name": "metrics"}, {}, {"port": 9090}],
         "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]},
                       {"addresses": ["10.0.0.4"]}]}
    assert cells("discovery.k8s.io", "v1", "endpointslices", s) == [
        "web-abc", "IPv4", "80,metrics,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
        "30s"]
    bare = {"metadata": meta("empty", 30), "addressType": "IPv6"}
    assert cells("discovery.k8s.io", "v1", "endpointslices", bare) == [
        "empty", "IPv6", "<unset>", "<unset>", "30s"]


def hpa_v2(metrics: list[dict[str, Any]], current: list[dict[str, Any]],
           min_replicas: int | None = 1) -> dict[str, Any]:
    spec: dict[str, Any] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "name": "web"},
                            "maxReplicas": 10, "metrics": metrics}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return {"metadata": meta("web", 8 * D), "spec": spec,
            "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": current}}


CPU_80 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                     "averageUtilization": 80}}}
MEM_AVG = {"type": "Resource", "resource": {"name": "memory", "target": {
    "type": "AverageValue", "averageValue": "500Mi"}}}
PODS_QPS = {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                     "target": {"type": "AverageValue", "averageValue": "1k"}}}


def test_hpa() -> None:
    assert [c[0] for c in header("autoscaling", "v2", "horizontalpodautoscalers")] == [
        "Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
    h = hpa_v2([CPU_80], [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 23, "averageValue": "115m"}}}])
    assert cells("autoscaling", "v2", "horizontalpodautoscalers", h) == [
        "web", "Deployment/web", "cpu: 23%/80%", "1", 10, 3, "8d"]
    h = hpa_v2([CPU_80, MEM_AVG, PODS_QPS], [], min_replicas=None)
    assert cells("autoscaling", "v2", "horizontalpodautoscalers", h)[2:4] == [
        "cpu: <unknown>/80%, memory: <unknown>/500Mi + 1 more...", "<unset>"]
    h = hpa_v2([PODS_QPS, MEM_AVG], [{"type": "Pods", "pods": {"current": {"averageValue": "2"}}},
                                     {"type": "Resource", "resource": {
                                         "name": "memory", "current": {"averageValue": "100Mi"}}}])
    assert cells("autoscaling", "v2", "horizontalpodautoscalers", h)[2] == \
        "2/1k, memory: 100Mi/500Mi"
    external = {"type": "External", "external": {"metric": {"name": "queue"}, "target": {
        "type": "AverageValue", "averageValue": "30"}}}
    obj_metric = {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {
        "type": "Value", "value": "10k"}}}
    h = hpa_v2([external, obj_metric], [{"type": "External", "external": {
        "current": {"averageValue": "12"}}}])
    assert cells("autoscaling", "v2", "horizontalpodautoscalers", h)[2] == \
        "12/30 (avg), <unknown>/10k"
    assert cells("autoscaling", "v2", "horizontalpodautoscalers", hpa_v2([], []))[2] == "<none>"


def test_hpa_autoscaling_v1_object() -> None:
    h = {"metadata": meta("web", 60),
         "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2,
                  "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
         "status": {"currentReplicas": 2, "currentCPUUtilizationPercentage": 10}}
    assert cells("autoscaling", "v1", "horizontalpodautoscalers", h) == [
        "web", "Deployment/web", "cpu: 10%/50%", "2", 5, 2, "60s"]
    del h["status"]["currentCPUUtilizationPercentage"]
    assert cells("autoscaling", "v1", "horizontalpodautoscalers", h)[2] == "cpu: <unknown>/50%"


def test_pdb() -> None:
    assert header("policy", "v1", "poddisruptionbudgets") == [
        ("Name", "string", 0), ("Min Available", "string", 0), ("Max Unavailable", "string", 0),
        ("Allowed Disruptions", "integer", 0), ("Age", "string", 0)]
    pdb = {"metadata": meta("web", 60), "spec": {"minAvailable": "50%"},
           "status": {"disruptionsAllowed": 1}}
    assert cells("policy", "v1", "poddisruptionbudgets", pdb) == ["web", "50%", "N/A", 1, "60s"]
    pdb = {"metadata": meta("db", 60), "spec": {"maxUnavailable": 1}, "status": {}}
    assert cells("policy", "v1", "poddisruptionbudgets", pdb) == ["db", "N/A", "1", 0, "60s"]


def test_role_bindings() -> None:
    expected_header = [("Name", "string", 0), ("Role", "string", 0), ("Age", "string", 0),
                       ("Users", "string", 1), ("Groups", "string", 1),
                       ("ServiceAccounts", "string", 1)]
    assert header("rbac.authorization.k8s.io", "v1", "rolebindings") == expected_header
    assert header("rbac.authorization.k8s.io", "v1", "clusterrolebindings") == expected_header
    rb = {"metadata": meta("read-pods", 60),
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
          "subjects": [{"kind": "User", "name": "jane"}, {"kind": "User", "name": "bob"},
                       {"kind": "Group", "name": "devs"},
                       {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]}
    assert cells("rbac.authorization.k8s.io", "v1", "rolebindings", rb) == [
        "read-pods", "Role/reader", "60s", "jane, bob", "devs", "build/ci"]
    crb = {"metadata": meta("admins", 60),
           "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}
    assert cells("rbac.authorization.k8s.io", "v1", "clusterrolebindings", crb) == [
        "admins", "ClusterRole/cluster-admin", "60s", "", "", ""]


# ---------------------------------------------------------------------------------------
# the Table envelope
# ---------------------------------------------------------------------------------------

CM: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cfg", 60),
      "data": {"a": "1"}}


def test_table_envelope_for_a_list() -> None:
    table = to_table(res("", "v1", "configmaps"), [CM, CM], now=NOW,
                     list_meta={"resourceVersion": "42", "continue": "tok",
                                "remainingItemCount": 3})
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "tok",
                                 "remainingItemCount": 3}
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["rows"][0] == {
        "cells": ["cfg", 1, "60s"],
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": CM["metadata"]}}
    assert table["columnDefinitions"][1] == {
        "name": "Data", "type": "string", "format": "",
        "description": "Data contains the configuration data.", "priority": 0}


def test_table_envelope_for_one_object_and_empty_lists() -> None:
    single = to_table(res("", "v1", "configmaps"), [CM], now=NOW)
    assert single["metadata"] == {"resourceVersion": "7"}
    empty = to_table(res("", "v1", "configmaps"), [], now=NOW, list_meta={"resourceVersion": "9"})
    assert empty["rows"] == [] and empty["metadata"] == {"resourceVersion": "9"}


@pytest.mark.parametrize("policy,expected", [
    ("None", None), ("Object", CM),
    ("Metadata", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                  "metadata": CM["metadata"]}),
    ("", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
          "metadata": CM["metadata"]}),
])
def test_include_object(policy: str, expected: dict[str, Any] | None) -> None:
    row = to_table(res("", "v1", "configmaps"), [CM], now=NOW, include_object=policy)["rows"][0]
    assert "object" in row and row["object"] == expected


def test_include_object_is_validated() -> None:
    with pytest.raises(TableOptionsError) as e:
        to_table(res("", "v1", "configmaps"), [CM], now=NOW, include_object="Everything")
    assert e.value.message == ('Unable to convert to Table as requested: includeObject: '
                               'Unsupported value: "Everything": supported values: "", '
                               '"Metadata", "None", "Object"')


def test_v1beta1_table_and_no_headers() -> None:
    table = to_table(res("", "v1", "configmaps"), [CM], now=NOW, with_headers=False,
                     api_version="meta.k8s.io/v1beta1")
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["columnDefinitions"] is None
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_objects_are_not_shared_with_the_table() -> None:
    table = to_table(res("", "v1", "configmaps"), [CM], now=NOW, include_object="Object")
    table["rows"][0]["object"]["metadata"]["name"] = "changed"
    assert CM["metadata"]["name"] == "cfg"


# ---------------------------------------------------------------------------------------
# watch
# ---------------------------------------------------------------------------------------

def test_watch_sends_column_definitions_on_the_first_event_only() -> None:
    enc = TableWatchEncoder(res("", "v1", "configmaps"))
    first = enc.encode("ADDED", CM, now=NOW)
    second = enc.encode("MODIFIED", CM, now=NOW)
    assert first["type"] == "ADDED" and second["type"] == "MODIFIED"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert second["object"]["columnDefinitions"] is None
    for ev in (first, second):
        assert ev["object"]["kind"] == "Table"
        assert ev["object"]["metadata"] == {"resourceVersion": "7"}
        assert [r["cells"] for r in ev["object"]["rows"]] == [["cfg", 1, "60s"]]


def test_watch_error_event_passes_status_through_and_still_consumes_headers() -> None:
    enc = TableWatchEncoder(res("", "v1", "configmaps"), include_object="None")
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
              "reason": "Expired", "message": "too old resource version"}
    assert enc.encode("ERROR", status, now=NOW) == {"type": "ERROR", "object": status}
    nxt = enc.encode("ADDED", CM, now=NOW)
    assert nxt["object"]["columnDefinitions"] is None
    assert nxt["object"]["rows"][0]["object"] is None


def test_watch_table_event_function() -> None:
    ev = watch_table_event(res("", "v1", "pods"), "DELETED", pod({"phase": "Running"}), now=NOW,
                           with_headers=True)
    assert ev["type"] == "DELETED"
    assert len(ev["object"]["columnDefinitions"]) == 9
    assert ev["object"]["rows"][0]["cells"][:3] == ["web", "0/1", "Running"]
    with pytest.raises(TableOptionsError):
        TableWatchEncoder(res("", "v1", "pods"), include_object="bogus")
