"""ResourceQuota and LimitRange on a whole cluster, with real kubectl and the Python
client: the quota controller fills status, admission refuses with upstream's message
and charges what it admits, deletions release usage, concurrent creates never overrun,
and LimitRanges default and bound containers."""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any, Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers import namespace, wait_for


@pytest.fixture
def qns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "quota")


def pod(name: str, cpu: str | None = "100m", memory: str | None = None) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": requests} if requests else {}}]}}


def quota_status(core: client.CoreV1Api, ns: str, name: str) -> dict[str, Any]:
    q = core.read_namespaced_resource_quota(name, ns)
    return {"hard": q.status.hard or {}, "used": q.status.used or {}}


def make_quota(core: client.CoreV1Api, ns: str, name: str, hard: dict[str, str],
               **spec: Any) -> None:
    core.create_namespaced_resource_quota(ns, {"metadata": {"name": name},
                                               "spec": {"hard": hard, **spec}})
    wait_for(lambda: quota_status(core, ns, name)["used"].keys() == hard.keys(),
             "the quota controller to fill status.used")


def test_quota_refuses_with_upstreams_message_and_releases_on_delete(api, kctl, qns):
    core = client.CoreV1Api(api)
    make_quota(core, qns, "compute", {"pods": "2", "requests.cpu": "1", "count/configmaps": "10"})
    status = quota_status(core, qns, "compute")
    assert status["hard"] == {"pods": "2", "requests.cpu": "1", "count/configmaps": "10"}
    assert status["used"]["pods"] == "0"
    kctl("apply", "-n", qns, "-f", "-", input=json.dumps(pod("a", "400m")))
    kctl("apply", "-n", qns, "-f", "-", input=json.dumps(pod("b", "400m")))
    assert quota_status(core, qns, "compute")["used"]["requests.cpu"] == "800m"
    p = kctl.run("apply", "-n", qns, "-f", "-", input=json.dumps(pod("c", "100m")), check=False)
    assert p.returncode != 0
    assert ('pods "c" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, '
            "limited: pods=2") in p.stderr
    p = kctl.run("apply", "-n", qns, "-f", "-", input=json.dumps(pod("d", cpu=None)),
                 check=False)
    assert "failed quota: compute: must specify requests.cpu for: c" in p.stderr
    kctl("delete", "pod", "b", "-n", qns, "--grace-period=0", "--force", "--wait=false")
    wait_for(lambda: quota_status(core, qns, "compute")["used"]["pods"] == "1",
             "the deleted pod's usage to be released")
    assert quota_status(core, qns, "compute")["used"]["requests.cpu"] == "400m"
    kctl("apply", "-n", qns, "-f", "-", input=json.dumps(pod("c", "600m")))
    p = kctl.run("create", "configmap", "x", "-n", qns, check=False)
    assert p.returncode == 0, p.stderr


def test_concurrent_creates_never_overrun_a_quota(api, qns):
    core = client.CoreV1Api(api)
    make_quota(core, qns, "few", {"count/podtemplates": "5"})
    template = {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}

    def create(i: int) -> int:
        try:
            core.create_namespaced_pod_template(qns, {"metadata": {"name": f"t-{i}"},
                                                      **template})
            return 201
        except ApiException as e:
            assert "exceeded quota: few" in json.loads(e.body)["message"]
            return int(e.status)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(create, range(20)))
    assert codes.count(201) == 5 and codes.count(403) == 15
    assert len(core.list_namespaced_pod_template(qns).items) == 5
    assert quota_status(core, qns, "few")["used"] == {"count/podtemplates": "5"}


def test_scoped_quotas_count_only_their_pods(api, qns):
    core = client.CoreV1Api(api)
    make_quota(core, qns, "besteffort", {"pods": "1"}, scopes=["BestEffort"])
    make_quota(core, qns, "terminating", {"pods": "1"}, scopes=["Terminating"])
    core.create_namespaced_pod(qns, pod("be", cpu=None))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod(qns, pod("be2", cpu=None))
    assert "exceeded quota: besteffort" in json.loads(e.value.body)["message"]
    core.create_namespaced_pod(qns, pod("burstable", cpu="10m"))  # neither scope covers it
    job_pod = pod("deadline", cpu="10m")
    job_pod["spec"]["activeDeadlineSeconds"] = 60
    core.create_namespaced_pod(qns, job_pod)
    assert quota_status(core, qns, "terminating")["used"]["pods"] == "1"
    assert quota_status(core, qns, "besteffort")["used"]["pods"] == "1"


def test_limit_range_defaults_and_bounds(api, kctl, qns):
    core = client.CoreV1Api(api)
    core.create_namespaced_limit_range(qns, {"metadata": {"name": "limits"}, "spec": {"limits": [
        {"type": "Container", "max": {"memory": "512Mi"}, "min": {"cpu": "50m"},
         "default": {"cpu": "200m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"},
         "maxLimitRequestRatio": {"cpu": "4"}}]}})
    lr = core.read_namespaced_limit_range("limits", qns).spec.limits[0]
    assert lr.default_request == {"cpu": "100m", "memory": "256Mi"}  # memory from default
    kctl("apply", "-n", qns, "-f", "-", input=json.dumps(pod("plain", cpu=None)))
    got = json.loads(kctl("get", "pod", "plain", "-n", qns, "-o", "json"))
    assert got["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "200m", "memory": "256Mi"},
        "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert got["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; "
        "cpu, memory limit for container c")
    big = pod("big", cpu="100m")
    big["spec"]["containers"][0]["resources"]["limits"] = {"memory": "1Gi", "cpu": "1"}
    p = kctl.run("apply", "-n", qns, "-f", "-", input=json.dumps(big), check=False)
    assert ('pods "big" is forbidden: [maximum memory usage per Container is 512Mi, but limit '
            "is 1Gi, cpu max limit to request ratio per Container is 4, but provided ratio is "
            "10.000000]") in p.stderr
    small = pod("small", cpu="10m")
    small["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "20m"}
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod(qns, small)
    assert e.value.status == 403
    assert json.loads(e.value.body)["message"] == (
        'pods "small" is forbidden: minimum cpu usage per Container is 50m, but request is 10m')
