"""The metrics API, `kubectl top` and the HorizontalPodAutoscaler on simulated nodes.

A cluster of two simulated nodes whose pods report the usage their `sim.kapi.dev/usage`
annotation declares, scraped each second (--metric-resolution 1), with a 1 s autoscaler
sync period: real kubectl (1.27, 1.30, 1.33) runs `top` and `autoscale`, the official
Python client reads metrics.k8s.io, and the HPAs' status, conditions and events are read
back as a user would.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from tests.conftest import Kubectl, Server, kubectl_or_skip, start_server, stop_server
from tests.helpers import api_fixture, namespace_fixture, wait_for

Obj = dict[str, Any]
USAGE = "sim.kapi.dev/usage"
TOP_VERSIONS = ("1.27", "1.30", "1.33")
DOWN_WINDOW = 8  # seconds: the cluster's default scale-down stabilization


@pytest.fixture(scope="module")
def scluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("hpa"), command="up", storage="memory",
                     extra=("--nodes", "0", "--simulated-nodes", "2",
                            "--horizontal-pod-autoscaler-sync-period", "1",
                            "--metric-resolution", "1",
                            "--horizontal-pod-autoscaler-downscale-stabilization",
                            str(DOWN_WINDOW)))
    yield s
    stop_server(s.proc)


sapi = api_fixture("scluster")
sns = namespace_fixture("sapi", "hpa")


@pytest.fixture(params=TOP_VERSIONS)
def topctl(request: pytest.FixtureRequest, scluster: Server) -> Kubectl:
    return kubectl_or_skip(request.param, scluster.kubeconfig)


@pytest.fixture(params=("1.27", "1.33"))
def sctl(request: pytest.FixtureRequest, scluster: Server) -> Kubectl:
    return kubectl_or_skip(request.param, scluster.kubeconfig)


def deployment(name: str, replicas: int, usage: Obj | None, *, requests: Obj | None = None,
               containers: list[Obj] | None = None, **spec: Any) -> Obj:
    annotations = {USAGE: json.dumps(usage)} if usage is not None else {}
    resources = {"requests": requests} if requests else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     **spec,
                     "template": {"metadata": {"labels": {"app": name},
                                               "annotations": annotations},
                                  "spec": {"containers": containers or [
                                      {"name": "app", "image": "busybox",
                                       "resources": resources}]}}}}


def apply(k: Kubectl, ns: str, *docs: Obj) -> None:
    k("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": list(docs)}))


def hpa(k: Kubectl, ns: str, name: str) -> Obj:
    return json.loads(k("get", "-n", ns, "horizontalpodautoscalers.v2.autoscaling", name, "-o", "json"))


def condition(h: Obj, kind: str) -> Obj:
    return next(c for c in (h.get("status") or {}).get("conditions") or []
                if c["type"] == kind)


def has_condition(k: Kubectl, ns: str, name: str, kind: str, reason: str) -> Obj | None:
    h = hpa(k, ns, name)
    conds = (h.get("status") or {}).get("conditions") or []
    return h if any(c["type"] == kind and c["reason"] == reason for c in conds) else None


def replicas_of(k: Kubectl, ns: str, name: str) -> int:
    return int(json.loads(k("get", "-n", ns, "deploy", name, "-o", "json"))["spec"]["replicas"])


def running(k: Kubectl, ns: str, app: str, count: int) -> bool:
    pods = json.loads(k("get", "-n", ns, "pods", "-l", f"app={app}", "-o", "json"))["items"]
    return sum(p["status"].get("phase") == "Running" for p in pods) == count


def events(k: Kubectl, ns: str, name: str) -> list[Obj]:
    out = json.loads(k("get", "-n", ns, "events", "--field-selector",
                       f"involvedObject.name={name}", "-o", "json"))
    return out["items"]


# -- metrics.k8s.io and kubectl top ----------------------------------------------------------
def test_top_pods_and_nodes(topctl: Kubectl, sns: str) -> None:
    usage = {"cpu": "150m", "memory": "40Mi"}
    apply(topctl, sns, deployment("web", 2, usage))
    wait_for(lambda: running(topctl, sns, "web", 2), "two running pods")
    out = wait_for(lambda: topctl.run("top", "pod", "-n", sns, "-l", "app=web", check=False)
                   .stdout.count("150m") == 2 and topctl("top", "pod", "-n", sns),
                   "pod metrics")
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert all(line.split()[1:3] == ["150m", "40Mi"] for line in lines[1:]) and len(lines) == 3
    containers = topctl("top", "pod", "-n", sns, "--containers").strip().splitlines()
    assert containers[0].split()[:4] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert all(line.split()[1:] == ["app", "150m", "40Mi"] for line in containers[1:])
    everywhere = topctl("top", "pod", "-A")
    assert everywhere.splitlines()[0].split()[0] == "NAMESPACE"
    assert sum(line.split()[0] == sns for line in everywhere.splitlines()) == 2
    none = topctl.run("top", "pod", "-n", sns, "-l", "app=none", check=False)
    assert "No resources found" in none.stderr + none.stdout
    nodes = topctl("top", "node").strip().splitlines()
    assert nodes[0].split()[0] == "NAME" and "CPU%" in nodes[0].replace("(", "")
    assert {line.split()[0] for line in nodes[1:]} >= {"kapi-sim-0", "kapi-sim-1"}
    missing = topctl.run("top", "pod", "-n", sns, "nope", check=False)
    assert missing.returncode != 0
    assert f'podmetrics.metrics.k8s.io "{sns}/nope" not found' in missing.stderr


def test_metrics_api_with_python_client(sapi: k8s.ApiClient, sns: str, scluster: Server) -> None:
    apps = k8s.AppsV1Api(sapi)
    apps.create_namespaced_deployment(sns, deployment("api", 1, {"cpu": "1", "memory": "1Gi"}))
    custom = k8s.CustomObjectsApi(sapi)

    def listed() -> list[Obj]:
        return custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", sns, "pods",
                                                    label_selector="app=api")["items"]
    items = wait_for(listed, "pod metrics")
    assert items[0]["containers"] == [{"name": "app", "usage": {"cpu": "1000000000n",
                                                                "memory": "1Gi"}}]
    assert items[0]["window"] and items[0]["timestamp"]
    one = custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", sns, "pods",
                                              items[0]["metadata"]["name"])
    assert one["kind"] == "PodMetrics" and one["containers"] == items[0]["containers"]
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")["items"]
    assert {n["metadata"]["name"] for n in nodes} >= {"kapi-sim-0", "kapi-sim-1"}
    with pytest.raises(ApiException) as e:
        custom.get_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes", "nope")
    assert e.value.status == 404
    with scluster.client() as c:
        groups = c.get("/apis").json()["groups"]
        assert {"name": "metrics.k8s.io", "versions": [{"groupVersion": "metrics.k8s.io/v1beta1",
                "version": "v1beta1"}], "preferredVersion": {
                "groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}} in groups
        kinds = {r["name"]: r["kind"] for r in
                 c.get("/apis/metrics.k8s.io/v1beta1").json()["resources"]}
        assert kinds == {"nodes": "NodeMetrics", "pods": "PodMetrics"}
        agg = c.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;"
                                                "v=v2;as=APIGroupDiscoveryList"}).json()
        assert "metrics.k8s.io" in {g["metadata"]["name"] for g in agg["items"]}
        assert c.post(f"/apis/metrics.k8s.io/v1beta1/namespaces/{sns}/pods",
                      json={}).status_code == 405


# -- the autoscaler ----------------------------------------------------------------------------
def test_autoscale_scales_out_to_max_then_in_after_the_window(sctl: Kubectl, sns: str) -> None:
    """`kubectl autoscale` (v1 from kubectl 1.27, v2 from 1.33) with upstream's defaults."""
    apply(sctl, sns, deployment("web", 2, {"cpu": "150m"}, requests={"cpu": "100m"}))
    wait_for(lambda: running(sctl, sns, "web", 2), "two running pods")
    sctl("autoscale", "-n", sns, "deploy", "web", "--cpu-percent=50", "--min=1", "--max=5")
    h = wait_for(lambda: has_condition(sctl, sns, "web", "ScalingLimited", "TooManyReplicas"),
                 "the HPA to reach its maximum")
    assert replicas_of(sctl, sns, "web") == 5 and h["spec"]["minReplicas"] == 1
    assert condition(h, "ScalingActive")["reason"] == "ValidMetricFound"
    wait_for(lambda: running(sctl, sns, "web", 5), "five running pods")
    h = wait_for(lambda: (x := hpa(sctl, sns, "web"))["status"].get("currentMetrics") and
                 x["status"]["currentReplicas"] == 5 and x, "five pods measured")
    assert h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 150
    rescales = [e for e in events(sctl, sns, "web") if e["reason"] == "SuccessfulRescale"]
    assert rescales and all("above target" in e["message"] for e in rescales)
    # the load goes: every pod now declares 10m; scale in waits for the window
    sctl("annotate", "-n", sns, "pods", "-l", "app=web", "--overwrite",
         f'{USAGE}={{"cpu": "10m"}}')
    dropped = dt.datetime.now(dt.UTC)
    h = wait_for(lambda: has_condition(sctl, sns, "web", "AbleToScale", "ScaleDownStabilized"),
                 "the stabilization to hold the scale in")
    assert h["spec"]["maxReplicas"] == 5 and replicas_of(sctl, sns, "web") == 5
    wait_for(lambda: replicas_of(sctl, sns, "web") == 1, "the scale in", timeout=90)
    h = hpa(sctl, sns, "web")
    scaled = dt.datetime.fromisoformat(h["status"]["lastScaleTime"].replace("Z", "+00:00"))
    # the window runs from the last high recommendation: at most a sync (1 s) and a
    # metrics refresh (1 s) before the drop; stamps have second precision
    assert (scaled - dropped).total_seconds() >= DOWN_WINDOW - 3
    assert any(e["message"] == "New size: 1; reason: All metrics below target"
               for e in events(sctl, sns, "web"))


def test_v1_and_v2_views_of_one_hpa_agree(sctl: Kubectl, sns: str) -> None:
    apply(sctl, sns, deployment("both", 1, {"cpu": "60m"}, requests={"cpu": "100m"}))
    sctl("autoscale", "-n", sns, "deploy", "both", "--max=3")  # the default 80% target
    v2 = wait_for(lambda: (x := hpa(sctl, sns, "both"))["status"].get("currentMetrics") and x,
                  "a measured HPA")
    v1 = json.loads(sctl("get", "-n", sns, "horizontalpodautoscalers.v1.autoscaling", "both", "-o", "json"))
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 80
    assert v1["spec"]["minReplicas"] == v2["spec"]["minReplicas"] == 1
    assert v1["status"]["currentReplicas"] == v2["status"]["currentReplicas"] == 1
    current = v2["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
    assert current == 60 and v1["status"]["currentCPUUtilizationPercentage"] == 60
    assert condition(v2, "AbleToScale")["status"] == "True"


def test_missing_metrics_make_scaling_inactive(sctl: Kubectl, sns: str) -> None:
    """Pods that never run have no metrics: ScalingActive=False, as upstream words it."""
    doc = deployment("nowhere", 1, {"cpu": "1"}, requests={"cpu": "100m"})
    doc["spec"]["template"]["spec"]["nodeSelector"] = {"no-such": "node"}
    apply(sctl, sns, doc)
    sctl("autoscale", "-n", sns, "deploy", "nowhere", "--cpu-percent=50", "--max=3")
    h = wait_for(lambda: has_condition(sctl, sns, "nowhere", "ScalingActive",
                                       "FailedGetResourceMetric"), "ScalingActive=False")
    assert condition(h, "ScalingActive") | {"lastTransitionTime": ""} == {
        "type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
        "lastTransitionTime": "",
        "message": "the HPA was unable to compute the replica count: failed to get cpu "
                   "utilization: unable to get metrics for resource cpu: no metrics returned "
                   "from resource metrics API"}
    assert replicas_of(sctl, sns, "nowhere") == 1
    assert "FailedGetResourceMetric" in {e["reason"] for e in events(sctl, sns, "nowhere")}


def test_pods_without_requests(sctl: Kubectl, sns: str) -> None:
    apply(sctl, sns, deployment("noreq", 1, {"cpu": "500m"}))
    wait_for(lambda: running(sctl, sns, "noreq", 1), "a running pod")
    sctl("autoscale", "-n", sns, "deploy", "noreq", "--cpu-percent=50", "--max=3")
    # until the pod's first usage sample the condition says no metrics were returned;
    # then upstream's order finds the missing request
    h = wait_for(lambda: (x := has_condition(sctl, sns, "noreq", "ScalingActive",
                                             "FailedGetResourceMetric"))
                 and "missing request" in condition(x, "ScalingActive")["message"] and x,
                 "ScalingActive=False for the missing request")
    message = condition(h, "ScalingActive")["message"]
    assert message.startswith("the HPA was unable to compute the replica count: failed to get "
                              "cpu utilization: missing request for cpu in container app of "
                              "Pod noreq-")
    shown = sctl("get", "-n", sns, "hpa", "noreq")
    assert "<unknown>/50%" in shown


def test_paused_deployment_still_scales(sctl: Kubectl, sns: str) -> None:
    apply(sctl, sns, deployment("paused", 1, {"cpu": "10m"}, requests={"cpu": "100m"}))
    wait_for(lambda: running(sctl, sns, "paused", 1), "a running pod")
    sctl("rollout", "pause", "-n", sns, "deploy/paused")
    sctl("autoscale", "-n", sns, "deploy", "paused", "--min=3", "--max=4")
    wait_for(lambda: replicas_of(sctl, sns, "paused") == 3, "the paused Deployment at 3")
    wait_for(lambda: running(sctl, sns, "paused", 3), "three running pods")
    assert json.loads(sctl("get", "-n", sns, "deploy", "paused", "-o", "json"))["spec"]["paused"]
    assert any(e["message"] == "New size: 3; reason: Current number of replicas below "
               "Spec.MinReplicas" for e in events(sctl, sns, "paused"))


def test_container_resource_and_scale_up_policy(sapi: k8s.ApiClient, sns: str,
                                                scluster: Server) -> None:
    """autoscaling/v2: a ContainerResource metric of one container of two, and a scale-up
    policy of one pod a minute that limits the first rescale."""
    k = kubectl_or_skip("1.33", scluster.kubeconfig)
    containers = [{"name": c, "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}
                  for c in ("app", "sidecar")]
    apply(k, sns, deployment("two", 2, {"app": {"cpu": "300m"}, "sidecar": {"cpu": "1m"}},
                             containers=containers))
    wait_for(lambda: running(k, sns, "two", 2), "two running pods")
    doc = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "two"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "two"},
                    "minReplicas": 1, "maxReplicas": 10,
                    "metrics": [{"type": "ContainerResource", "containerResource": {
                        "name": "cpu", "container": "app",
                        "target": {"type": "Utilization", "averageUtilization": 100}}}],
                    "behavior": {"scaleUp": {"policies": [
                        {"type": "Pods", "value": 1, "periodSeconds": 60}]}}}}
    apply(k, sns, doc)
    h = wait_for(lambda: has_condition(k, sns, "two", "ScalingLimited", "ScaleUpLimit"),
                 "the scale-up policy to limit")
    assert replicas_of(k, sns, "two") == 3  # wanted 6; one pod per minute
    wait_for(lambda: hpa(k, sns, "two")["status"].get("currentMetrics"), "metrics")
    current = hpa(k, sns, "two")["status"]["currentMetrics"][0]
    assert current["type"] == "ContainerResource"
    assert current["containerResource"]["container"] == "app"
    assert current["containerResource"]["current"]["averageUtilization"] in (200, 300)
    assert h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_memory_average_value_on_a_statefulset(sns: str, scluster: Server) -> None:
    """Any resource with a scale subresource: a StatefulSet, by memory AverageValue."""
    k = kubectl_or_skip("1.33", scluster.kubeconfig)
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}, "annotations": {
                        USAGE: json.dumps({"memory": "300Mi"})}},
                        "spec": {"containers": [{"name": "db", "image": "busybox"}]}}}}
    doc = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "db"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                       "name": "db"},
                    "maxReplicas": 2,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "memory", "target": {"type": "AverageValue",
                                                     "averageValue": "200Mi"}}}]}}
    apply(k, sns, sts, doc)
    wait_for(lambda: int(json.loads(k("get", "-n", sns, "sts", "db", "-o", "json"))
                         ["spec"]["replicas"]) == 2, "the StatefulSet at 2")
    h = hpa(k, sns, "db")
    assert h["status"]["desiredReplicas"] == 2
    assert "memory" in k("describe", "-n", sns, "hpa", "db")
