"""StatefulSets, DaemonSets, Jobs and CronJobs end to end on a whole cluster (`kapi up`
with three simulated nodes), driven by real kubectl (1.27 and 1.33) and the official
Python client: ordered start and reverse scale-down seen through a watch, partitioned
rolling updates, one daemon pod per node, Jobs to completion (NonIndexed, Indexed,
failing ones, TTL) and `kubectl create job --from=cronjob/...`.

Cron timing itself is tested with a fake clock in tests/controllers; here every test
uses its own namespace on the shared cluster and waits with bounded polling.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.conftest import Kubectl
from tests.helpers import namespace, raw, wait_for

pytestmark = pytest.mark.kubectl


@pytest.fixture
def wns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "wl")

FAIL = "sim.kapi.dev/exit-code"  # simulated kubelet: the containers' exit code


def apply(kctl: Kubectl, ns: str, *objs: dict[str, Any]) -> str:
    return kctl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objs))


def pods_of(api: client.ApiClient, ns: str, selector: str) -> list[dict[str, Any]]:
    return raw(client.CoreV1Api(api).list_namespaced_pod, ns, label_selector=selector)["items"]


def is_ready(pod: dict[str, Any]) -> bool:
    return pod["status"].get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod["status"].get("conditions") or [])


def statefulset(name: str, replicas: int, image: str = "busybox:latest",
                **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}},
                     **spec}}


def job(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"annotations": annotations or {}}, "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox:latest"}]}},
                **spec}}


# -- StatefulSets -------------------------------------------------------------------------------
class PodLog:
    """Pod events of a namespace in watch order: ("add" | "ready" | "delete", name)."""

    def __init__(self, api: client.ApiClient, ns: str) -> None:
        self.api, self.ns, self.events = api, ns, []  # type: ignore[var-annotated]
        self.rv = raw(client.CoreV1Api(api).list_namespaced_pod, ns)["metadata"]["resourceVersion"]
        self._ready: set[str] = set()

    def follow(self, until: Callable[[list[tuple[str, str]]], bool], timeout: int = 60) -> None:
        w = watch.Watch()
        deadline = time.monotonic() + timeout
        while not until(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"pod events so far: {self.events}")
            for ev in w.stream(client.CoreV1Api(self.api).list_namespaced_pod, self.ns,
                               resource_version=self.rv, timeout_seconds=5,
                               _request_timeout=10):
                self._record(ev)
                if until(self.events):
                    w.stop()
                    break

    def _record(self, ev: dict[str, Any]) -> None:
        pod, kind = ev["object"], ev["type"]
        name = pod.metadata.name
        self.rv = pod.metadata.resource_version
        ready = pod.status.phase == "Running" and any(
            c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if kind == "ADDED":
            self.events.append(("add", name))
        if kind == "DELETED":
            self.events.append(("delete", name))
            self._ready.discard(name)
        elif ready and name not in self._ready:
            self._ready.add(name)
            self.events.append(("ready", name))

    def index(self, event: tuple[str, str]) -> int:
        return self.events.index(event)


def test_statefulset_starts_in_order_and_scales_down_in_reverse(kctl, api, wns):
    log = PodLog(api, wns)
    sts = statefulset("web", 3, volumeClaimTemplates=[{
        "metadata": {"name": "www"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    assert "statefulset.apps/web created" in apply(kctl, wns, sts)
    log.follow(lambda ev: ("ready", "web-2") in ev)
    for lower, higher in (("web-0", "web-1"), ("web-1", "web-2")):
        assert log.index(("ready", lower)) < log.index(("add", higher))  # OrderedReady
    pods = {p["metadata"]["name"]: p for p in pods_of(api, wns, "app=web")}
    assert set(pods) == {"web-0", "web-1", "web-2"}
    labels = pods["web-1"]["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"].startswith("web-")
    assert pods["web-1"]["spec"]["hostname"] == "web-1"
    assert pods["web-1"]["spec"]["subdomain"] == "web"
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in \
        pods["web-1"]["spec"]["volumes"]
    out = kctl("rollout", "status", "sts/web", "-n", wns, "--timeout=60s", timeout=90)
    assert "roll out complete" in out
    assert kctl("get", "sts", "web", "-n", wns, "--no-headers").split()[:2] == ["web", "3/3"]

    kctl("scale", "sts", "web", "-n", wns, "--replicas=1")
    log.follow(lambda ev: ("delete", "web-1") in ev)
    assert log.index(("delete", "web-2")) < log.index(("delete", "web-1"))
    claims = raw(client.CoreV1Api(api).list_namespaced_persistent_volume_claim, wns)["items"]
    assert {c["metadata"]["name"] for c in claims} == {"www-web-0", "www-web-1", "www-web-2"}
    events = kctl("get", "events", "-n", wns, "--field-selector", "involvedObject.kind=StatefulSet")
    assert "create Pod web-0 in StatefulSet web successful" in events
    assert "delete Pod web-2 in StatefulSet web successful" in events


def test_statefulset_partitioned_rolling_update(api, wns):
    apps = client.AppsV1Api(api)
    body = statefulset("db", 3, podManagementPolicy="Parallel", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    apps.create_namespaced_stateful_set(wns, body, _preload_content=False)

    def status() -> dict[str, Any]:
        return raw(apps.read_namespaced_stateful_set, "db", wns).get("status") or {}
    first = wait_for(lambda: (s := status()).get("readyReplicas") == 3 and s, "3 ready replicas")
    assert first["currentRevision"] == first["updateRevision"]
    apps.patch_namespaced_stateful_set("db", wns, {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}, _preload_content=False)

    def revisions() -> dict[str, str]:
        return {p["metadata"]["name"]: p["metadata"]["labels"]["controller-revision-hash"]
                for p in pods_of(api, wns, "app=db")}
    st = wait_for(lambda: (s := status()).get("updatedReplicas") == 1 and s.get(
        "readyReplicas") == 3 and s, "db-2 updated")
    revs = revisions()
    assert revs["db-2"] == st["updateRevision"] != st["currentRevision"]
    assert revs["db-0"] == revs["db-1"] == st["currentRevision"]
    apps.patch_namespaced_stateful_set("db", wns, {"spec": {"updateStrategy": {
        "rollingUpdate": {"partition": 0}}}}, _preload_content=False)
    done = wait_for(lambda: (s := status()).get("updatedReplicas") == 3 and s.get(
        "currentRevision") == s.get("updateRevision") and s.get("readyReplicas") == 3 and s,
        "the whole rollout")
    assert set(revisions().values()) == {done["updateRevision"]}
    history = raw(apps.list_namespaced_controller_revision, wns)["items"]
    assert sorted(r["revision"] for r in history) == [1, 2]


# -- DaemonSets ---------------------------------------------------------------------------------
def test_daemonset_runs_one_pod_per_node(kctl, api, wns):
    nodes = sorted(n["metadata"]["name"] for n in raw(client.CoreV1Api(api).list_node)["items"])
    assert len(nodes) >= 3
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                       "containers": [{"name": "c", "image": "busybox:latest"}]}}}}
    assert "daemonset.apps/agent created" in apply(kctl, wns, ds)

    def placed() -> list[str] | None:
        pods = pods_of(api, wns, "app=agent")
        names = sorted(p["spec"].get("nodeName") or "" for p in pods)
        return names if names == nodes else None
    wait_for(placed, "one pod on every node")
    pod = pods_of(api, wns, "app=agent")[0]
    term = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                      "values": [pod["spec"]["nodeName"]]}]}]
    tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in tolerated
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
    st = wait_for(lambda: (s := raw(client.AppsV1Api(api).read_namespaced_daemon_set, "agent",
                                    wns).get("status") or {}).get("currentNumberScheduled") ==
                  len(nodes) and s, "status")
    assert st["desiredNumberScheduled"] == len(nodes) and st["numberMisscheduled"] == 0
    kctl("set", "image", "ds/agent", "c=busybox:1.36", "-n", wns)
    out = kctl("rollout", "status", "ds/agent", "-n", wns, "--timeout=60s", timeout=90)
    assert 'daemon set "agent" successfully rolled out' in out
    images = {p["spec"]["containers"][0]["image"] for p in pods_of(api, wns, "app=agent")
              if not p["metadata"].get("deletionTimestamp")}
    assert images == {"busybox:1.36"}
    # a selector no node matches takes the pods away again
    kctl("patch", "ds", "agent", "-n", wns, "--type=merge", "-p",
         '{"spec":{"template":{"spec":{"nodeSelector":{"no-such-label":"x"}}}}}')
    wait_for(lambda: not [p for p in pods_of(api, wns, "app=agent")
                          if not p["metadata"].get("deletionTimestamp")], "no daemon pods")
    wait_for(lambda: (raw(client.AppsV1Api(api).read_namespaced_daemon_set, "agent", wns)
                      .get("status") or {}).get("desiredNumberScheduled") == 0, "desired 0")


def test_daemonset_follows_nodes_coming_and_going(api, wns):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    name = f"{wns}-extra"
    label, taint = {"wl-test": wns}, {"key": "wl-test", "value": wns, "effect": "NoSchedule"}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "edge"},
          "spec": {"selector": {"matchLabels": {"app": "edge"}},
                   "template": {"metadata": {"labels": {"app": "edge"}}, "spec": {
                       "nodeSelector": label, "tolerations": [{"key": "wl-test", "operator":
                                                               "Exists"}],
                       "containers": [{"name": "c", "image": "busybox:latest"}]}}}}
    apps.create_namespaced_daemon_set(wns, ds, _preload_content=False)
    wait_for(lambda: (raw(apps.read_namespaced_daemon_set, "edge", wns).get("status") or {})
             .get("observedGeneration") == 1, "the daemon set observed")
    assert pods_of(api, wns, "app=edge") == []  # no node carries the label yet
    # a node only this test's daemon set can use (tainted, labelled), reporting Ready
    core.create_node({"metadata": {"name": name, "labels": label}, "spec": {"taints": [taint]}},
                     _preload_content=False)
    try:
        core.patch_node_status(name, {"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "lastHeartbeatTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}},
            _preload_content=False)
        (pod,) = wait_for(lambda: pods_of(api, wns, "app=edge"), "a pod for the new node")
        term = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
        assert term["matchFields"][0]["values"] == [name]
    finally:
        core.delete_node(name, _preload_content=False)
    wait_for(lambda: not [p for p in pods_of(api, wns, "app=edge")
                          if not p["metadata"].get("deletionTimestamp")], "the pod to go")


# -- Jobs ---------------------------------------------------------------------------------------
def test_job_runs_to_completion(kctl, api, wns):
    assert "job.batch/pi created" in apply(kctl, wns, job("pi", completions=3, parallelism=2))
    out = kctl("wait", "--for=condition=complete", "job/pi", "-n", wns, "--timeout=60s",
               timeout=90)
    assert "condition met" in out
    st = raw(client.BatchV1Api(api).read_namespaced_job, "pi", wns)["status"]
    assert st["succeeded"] == 3 and st.get("active", 0) == 0 and st["completionTime"]
    assert [c["type"] for c in st["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    pods = pods_of(api, wns, "batch.kubernetes.io/job-name=pi")
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert all(not p["metadata"].get("finalizers") for p in pods)
    row = kctl("get", "job", "pi", "-n", wns, "--no-headers").split()
    assert row[0] == "pi" and "3/3" in row


def test_indexed_job(api, wns):
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(wns, job("ix", completions=3, parallelism=3,
                                         completionMode="Indexed"), _preload_content=False)
    st = wait_for(lambda: (s := raw(batch.read_namespaced_job, "ix", wns).get("status") or {})
                  .get("completionTime") and s, "the indexed job to complete")
    assert st["completedIndexes"] == "0-2" and st["succeeded"] == 3
    pods = pods_of(api, wns, "batch.kubernetes.io/job-name=ix")
    indexes = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                     for p in pods)
    assert indexes == ["0", "1", "2"]
    assert {p["spec"]["hostname"] for p in pods} == {"ix-0", "ix-1", "ix-2"}


def test_failing_job_hits_its_backoff_limit(kctl, api, wns):
    apply(kctl, wns, job("bad", {FAIL: "3"}, backoffLimit=0))
    out = kctl("wait", "--for=condition=failed", "job/bad", "-n", wns, "--timeout=60s",
               timeout=90)
    assert "condition met" in out
    st = raw(client.BatchV1Api(api).read_namespaced_job, "bad", wns)["status"]
    assert st["failed"] == 1 and "completionTime" not in st
    failed = [c for c in st["conditions"] if c["type"] == "Failed"]
    assert failed[0]["reason"] == "BackoffLimitExceeded"


def test_finished_job_is_deleted_after_its_ttl(api, wns):
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(wns, job("brief", ttlSecondsAfterFinished=0),
                                _preload_content=False)

    def gone() -> bool:
        try:
            batch.read_namespaced_job("brief", wns)
        except ApiException as e:
            return e.status == 404
        return False
    wait_for(gone, "the finished job to be deleted")


def test_suspended_job_creates_no_pods(kctl, api, wns):
    apply(kctl, wns, job("later", suspend=True))
    batch = client.BatchV1Api(api)
    st = wait_for(lambda: (raw(batch.read_namespaced_job, "later", wns).get("status") or {})
                  .get("conditions"), "the Suspended condition")
    assert [(c["type"], c["status"]) for c in st] == [("Suspended", "True")]
    assert pods_of(api, wns, "batch.kubernetes.io/job-name=later") == []
    kctl("patch", "job", "later", "-n", wns, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    kctl("wait", "--for=condition=complete", "job/later", "-n", wns, "--timeout=60s", timeout=90)


# -- CronJobs -----------------------------------------------------------------------------------
def test_create_job_from_cronjob(kctl, api, wns):
    cj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
          "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Berlin", "suspend": True,
                   "jobTemplate": {"metadata": {"labels": {"team": "a"}}, "spec": {"template": {
                       "spec": {"restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "busybox:latest"}]}}}}}}
    assert "cronjob.batch/nightly created" in apply(kctl, wns, cj)
    row = kctl("get", "cronjob", "nightly", "-n", wns, "--no-headers").split()
    assert row[:6] == ["nightly", "0", "3", "*", "*", "*"] and "True" in row  # suspended
    kctl("create", "job", "now", "--from=cronjob/nightly", "-n", wns)
    made = raw(client.BatchV1Api(api).read_namespaced_job, "now", wns)
    assert made["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    owner = made["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "CronJob" and owner["name"] == "nightly"
    assert made["metadata"]["labels"]["team"] == "a"
    kctl("wait", "--for=condition=complete", "job/now", "-n", wns, "--timeout=60s", timeout=90)
    batch = client.BatchV1Api(api)
    status = raw(batch.read_namespaced_cron_job, "nightly", wns).get("status") or {}
    assert "lastScheduleTime" not in status  # suspended: the controller started nothing
    if not owner.get("controller"):
        return  # kubectl before 1.28 makes a plain owner reference: not the CronJob's Job
    wait_for(lambda: (raw(batch.read_namespaced_cron_job, "nightly", wns).get("status") or {})
             .get("lastSuccessfulTime"), "lastSuccessfulTime from the manual job")
