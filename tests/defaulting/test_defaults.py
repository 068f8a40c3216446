"""Defaulting matches upstream's SetDefaults_* (pkg/apis/*/v1/defaults.go) and the pod
admission plugins; defaults never overwrite what the client set and are idempotent."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kapi.defaulting.pod import pod_admission, pull_policy
from kapi.meta.resources import Resource
from kapi.registry.kinds import SCHEME

Obj = dict[str, Any]


def default(r: Resource | None, obj: Any) -> None:
    """Default obj as the kind's strategy does."""
    assert r is not None
    r.strategy.default(r, obj)


def defaulted(group: str, version: str, resource: str, obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    default(SCHEME.get(group, version, resource), out)
    again = copy.deepcopy(out)
    default(SCHEME.get(group, version, resource), again)
    assert again == out  # idempotent
    return out


TEMPLATE = {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}
POD_SPEC_DEFAULTS = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                     "schedulerName": "default-scheduler", "securityContext": {},
                     "terminationGracePeriodSeconds": 30}
CONTAINER_DEFAULTS = {"imagePullPolicy": "IfNotPresent", "resources": {},
                      "terminationMessagePath": "/dev/termination-log",
                      "terminationMessagePolicy": "File"}


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("reg:5000/nginx", "Always"), ("reg:5000/nginx:1", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent"), ("nginx:latest@sha256:abc", "Always")])
def test_pull_policy_by_tag(image: str, policy: str) -> None:
    assert pull_policy(image) == policy


def test_deployment_defaults() -> None:
    d = defaulted("apps", "v1", "deployments", {"spec": {"template": TEMPLATE}})
    spec = d["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["template"]["spec"] == {**POD_SPEC_DEFAULTS, "containers": [
        {"name": "c", "image": "nginx:1.25", **CONTAINER_DEFAULTS}]}
    kept = defaulted("apps", "v1", "deployments", {"spec": {"replicas": 0, "strategy": {
        "type": "Recreate"}}})
    assert kept["spec"]["replicas"] == 0 and kept["spec"]["strategy"] == {"type": "Recreate"}


def test_statefulset_daemonset_job_cronjob() -> None:
    sts = defaulted("apps", "v1", "statefulsets", {"spec": {"template": TEMPLATE}})["spec"]
    assert sts["podManagementPolicy"] == "OrderedReady" and sts["replicas"] == 1
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                           "whenScaled": "Retain"}
    ds = defaulted("apps", "v1", "daemonsets", {"spec": {"template": TEMPLATE}})["spec"]
    assert ds["updateStrategy"] == {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    job = defaulted("batch", "v1", "jobs", {"metadata": {}, "spec": {"template": TEMPLATE}})
    assert job["metadata"]["labels"] == {"app": "a"}
    assert {k: job["spec"][k] for k in ("completions", "parallelism", "backoffLimit",
                                        "completionMode", "suspend",
                                        "podReplacementPolicy")} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "suspend": False, "podReplacementPolicy": "TerminatingOrFailed"}
    cj = defaulted("batch", "v1", "cronjobs", {"spec": {"jobTemplate": {"spec": {
        "template": TEMPLATE}}}})["spec"]
    assert (cj["concurrencyPolicy"], cj["suspend"], cj["successfulJobsHistoryLimit"],
            cj["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert cj["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_service_defaults() -> None:
    svc = defaulted("", "v1", "services", {"spec": {"ports": [{"port": 80}]}})["spec"]
    assert svc == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                   "sessionAffinity": "None", "type": "ClusterIP",
                   "internalTrafficPolicy": "Cluster"}
    lb = defaulted("", "v1", "services", {"spec": {"type": "LoadBalancer",
                                                   "ports": [{"port": 80, "targetPort": "http"}]}})
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["spec"]["ports"][0]["targetPort"] == "http"
    headless = defaulted("", "v1", "services", {"spec": {"clusterIP": "None"}})["spec"]
    assert headless["clusterIPs"] == ["None"] and headless["ipFamilies"] == ["IPv4"]


def test_pod_defaults_and_admission() -> None:
    p = defaulted("", "v1", "pods", {"spec": {
        "containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}},
                        "readinessProbe": {"httpGet": {"port": 80}},
                        "env": [{"name": "N", "valueFrom": {"fieldRef": {
                            "fieldPath": "metadata.name"}}}]}],
        "volumes": [{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}}]}})
    spec = p["spec"]
    c = spec["containers"][0]
    assert c["resources"]["requests"] == {"cpu": "1"}
    assert c["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"] == [{"name": "a", "emptyDir": {}},
                               {"name": "b", "secret": {"secretName": "s", "defaultMode": 420}}]
    assert spec["enableServiceLinks"] is True
    pod_admission(p, 300)
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert [(t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]] == [
        ("node.kubernetes.io/not-ready", 300), ("node.kubernetes.io/unreachable", 300)]
    own = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    pod_admission(own, 300)
    assert own["spec"]["tolerations"] == [{"operator": "Exists"}]  # tolerates everything


def test_hpa_v2_defaults() -> None:
    hpa = defaulted("autoscaling", "v2", "horizontalpodautoscalers",
                    {"spec": {"maxReplicas": 3, "behavior": {"scaleUp": {}}}})["spec"]
    assert hpa["minReplicas"] == 1
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert hpa["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4,
                                                          "periodSeconds": 15}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
