"""ReplicaSets and Deployments end to end on a whole cluster (`kapi up` with simulated
nodes): what a user sees with real kubectl (1.27 and 1.33) and the official Python
client — `rollout status` returning, ReplicaSets and revisions, history, undo,
pause/resume, restart, scale — and rollout invariants observed through a watch.

Every test uses its own namespace on the shared cluster and waits with bounded polling.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterator

import pytest
from kubernetes import client, watch

from tests.conftest import Kubectl
from tests.helpers import namespace, raw, wait_for

pytestmark = pytest.mark.kubectl


@pytest.fixture
def dns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "dep")

REVISION = "deployment.kubernetes.io/revision"


def deployment_yaml(name: str, replicas: int = 3, image: str = "busybox:latest",
                    **spec: Any) -> str:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "busybox", "image": image}]}},
                     **spec}}
    return json.dumps(body)


def create_deployment(k: Kubectl, ns: str, name: str, replicas: int = 3) -> None:
    """`kubectl create deployment`; `apply` while the server lacks protobuf bodies."""
    p = k.run("create", "deployment", name, "-n", ns, "--image=busybox:latest",
              f"--replicas={replicas}", check=False)
    if p.returncode != 0:
        assert "unknown format" in p.stderr or "415" in p.stderr, p.stderr
        k("apply", "-n", ns, "-f", "-", input=deployment_yaml(name, replicas))


def rollout_status(k: Kubectl, ns: str, name: str) -> str:
    out = k("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=90s", timeout=120)
    assert f'deployment "{name}" successfully rolled out' in out
    return out


def replica_sets(api: client.ApiClient, ns: str) -> list[Any]:
    return raw(client.AppsV1Api(api).list_namespaced_replica_set, ns)["items"]


def by_revision(api: client.ApiClient, ns: str) -> dict[int, Any]:
    return {int(rs["metadata"]["annotations"][REVISION]): rs for rs in replica_sets(api, ns)}


def image_of(obj: Any) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def history(k: Kubectl, ns: str, name: str) -> list[int]:
    out = k("rollout", "history", f"deployment/{name}", "-n", ns)
    return [int(line.split()[0]) for line in out.splitlines() if line[:1].isdigit()]


# -- ReplicaSets ----------------------------------------------------------------------------
def pods_of(api: client.ApiClient, ns: str, selector: str) -> list[Any]:
    pods = raw(client.CoreV1Api(api).list_namespaced_pod, ns, label_selector=selector)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def test_replicaset_creates_replaces_adopts_and_releases(api: client.ApiClient, dns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    rs = raw(apps.create_namespaced_replica_set, dns, {
        "metadata": {"name": "fe"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "fe"}},
                 "template": {"metadata": {"labels": {"app": "fe"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}}}})
    pods = wait_for(lambda: len(p := pods_of(api, dns, "app=fe")) == 3 and p, "3 pods")
    for p in pods:
        assert p["metadata"]["generateName"] == "fe-"
        [ref] = p["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == \
            ("ReplicaSet", "fe", rs["metadata"]["uid"], True)
    events = raw(core.list_namespaced_event, dns)["items"]
    created = {e["message"] for e in events if e["reason"] == "SuccessfulCreate"}
    assert created >= {f"Created pod: {p['metadata']['name']}" for p in pods}

    core.delete_namespaced_pod(pods[0]["metadata"]["name"], dns, grace_period_seconds=0)
    wait_for(lambda: len(pods_of(api, dns, "app=fe")) == 3 and pods[0]["metadata"]["name"]
             not in {p["metadata"]["name"] for p in pods_of(api, dns, "app=fe")}, "a replacement")

    # a matching orphan is adopted (and, being surplus and unscheduled-or-newest, deleted)
    core.create_namespaced_pod(dns, {"metadata": {"name": "orphan", "labels": {"app": "fe"}},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    wait_for(lambda: len(pods_of(api, dns, "app=fe")) == 3 and any(
        e["reason"] == "SuccessfulDelete" for e in raw(core.list_namespaced_event, dns)["items"]),
        "the surplus pod deleted")

    # a pod that stops matching is released and replaced
    victim = pods_of(api, dns, "app=fe")[0]["metadata"]["name"]
    core.patch_namespaced_pod(victim, dns, {"metadata": {"labels": {"app": "gone"}}})
    released = wait_for(lambda: not (p := raw(core.read_namespaced_pod, victim, dns))[
        "metadata"].get("ownerReferences") and p, "the relabelled pod released")
    assert released["metadata"]["labels"]["app"] == "gone"
    wait_for(lambda: len(pods_of(api, dns, "app=fe")) == 3, "a replacement for the released pod")

    apps.patch_namespaced_replica_set_scale("fe", dns, {"spec": {"replicas": 1}})
    wait_for(lambda: len(pods_of(api, dns, "app=fe")) == 1, "scaled down to 1")
    status = wait_for(lambda: (s := raw(apps.read_namespaced_replica_set, "fe", dns)["status"])
                      .get("replicas") == 1 and s.get("observedGeneration") == 2 and s, "status")
    assert status["fullyLabeledReplicas"] == 1


def test_replicaset_status_reaches_ready(api: client.ApiClient, dns: str) -> None:
    apps = client.AppsV1Api(api)
    raw(apps.create_namespaced_replica_set, dns, {
        "metadata": {"name": "rdy"},
        "spec": {"replicas": 2, "minReadySeconds": 1,
                 "selector": {"matchLabels": {"app": "rdy"}},
                 "template": {"metadata": {"labels": {"app": "rdy"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}}}})
    wait_for(lambda: raw(apps.read_namespaced_replica_set, "rdy", dns)["status"].get(
        "availableReplicas") == 2, "2 available replicas (after minReadySeconds)")


# -- Deployments with kubectl ----------------------------------------------------------------
def test_rollout_lifecycle(kctl: Kubectl, api: client.ApiClient, dns: str) -> None:
    create_deployment(kctl, dns, "web", replicas=3)
    rollout_status(kctl, dns, "web")
    rows = kctl("get", "rs", "-n", dns, "--no-headers").split()
    assert rows[0].startswith("web-") and rows[1:4] == ["3", "3", "3"]
    assert kctl("get", "deploy", "web", "-n", dns, "--no-headers").split()[1:4] == \
        ["3/3", "3", "3"]

    kctl("set", "image", "deployment/web", "busybox=busybox:1.36", "-n", dns)
    rollout_status(kctl, dns, "web")
    revs = by_revision(api, dns)
    assert sorted(revs) == [1, 2] and image_of(revs[2]) == "busybox:1.36"
    assert revs[1]["spec"]["replicas"] == 0 and revs[2]["spec"]["replicas"] == 3
    assert history(kctl, dns, "web") == [1, 2]
    assert "busybox:latest" in kctl("rollout", "history", "deployment/web", "-n", dns,
                                    "--revision=1")

    assert "rolled back" in kctl("rollout", "undo", "deployment/web", "-n", dns)
    rollout_status(kctl, dns, "web")
    revs = by_revision(api, dns)
    assert sorted(revs) == [2, 3] and image_of(revs[3]) == "busybox:latest"
    assert revs[3]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert history(kctl, dns, "web") == [2, 3]

    kctl("rollout", "undo", "deployment/web", "-n", dns, "--to-revision=2")
    rollout_status(kctl, dns, "web")
    d = raw(client.AppsV1Api(api).read_namespaced_deployment, "web", dns)
    assert image_of(d) == "busybox:1.36" and d["metadata"]["annotations"][REVISION] == "4"

    kctl("scale", "deployment/web", "--replicas=5", "-n", dns)
    rollout_status(kctl, dns, "web")
    assert len(pods_of(api, dns, "app=web")) == 5
    assert len(replica_sets(api, dns)) == 2  # a resize is not a new revision


def test_pause_resume_and_restart(kctl: Kubectl, api: client.ApiClient, dns: str) -> None:
    create_deployment(kctl, dns, "web", replicas=2)
    rollout_status(kctl, dns, "web")
    assert "paused" in kctl("rollout", "pause", "deployment/web", "-n", dns)
    kctl("set", "image", "deployment/web", "busybox=busybox:1.36", "-n", dns)
    apps = client.AppsV1Api(api)
    wait_for(lambda: any(c["reason"] == "DeploymentPaused" for c in raw(
        apps.read_namespaced_deployment, "web", dns)["status"].get("conditions") or []),
        "Progressing=Unknown DeploymentPaused")
    assert len(replica_sets(api, dns)) == 1  # paused: no rollout
    undo = kctl.run("rollout", "undo", "deployment/web", "-n", dns, check=False)
    assert undo.returncode != 0  # no history yet / a paused deployment (kubectl's words vary)
    assert "resumed" in kctl("rollout", "resume", "deployment/web", "-n", dns)
    rollout_status(kctl, dns, "web")
    assert sorted(by_revision(api, dns)) == [1, 2]

    assert "restarted" in kctl("rollout", "restart", "deployment/web", "-n", dns)
    rollout_status(kctl, dns, "web")
    revs = by_revision(api, dns)
    assert sorted(revs) == [1, 2, 3]
    assert "kubectl.kubernetes.io/restartedAt" in revs[3]["spec"]["template"]["metadata"][
        "annotations"]
    events = raw(client.CoreV1Api(api).list_namespaced_event, dns)["items"]
    scaling = [e["message"] for e in events if e["reason"] == "ScalingReplicaSet"]
    first = revs[1]["metadata"]["name"]
    assert f"Scaled up replica set {first} from 0 to 2" in scaling
    assert any(m.startswith(f"Scaled down replica set {first} from ") for m in scaling)


def test_progress_deadline_exceeded(kctl: Kubectl, api: client.ApiClient, dns: str) -> None:
    kctl("apply", "-n", dns, "-f", "-", input=deployment_yaml("slow", replicas=1))
    rollout_status(kctl, dns, "slow")
    # new pods run but never become ready (a simulated node's knob), with a 2 s deadline
    patch = {"spec": {"progressDeadlineSeconds": 2, "template": {"metadata": {
        "annotations": {"sim.kapi.dev/ready": "false"}}}}}
    client.AppsV1Api(api).patch_namespaced_deployment("slow", dns, patch)
    p = kctl.run("rollout", "status", "deployment/slow", "-n", dns, "--timeout=60s",
                 check=False, timeout=90)
    assert p.returncode != 0
    assert 'deployment "slow" exceeded its progress deadline' in p.stderr
    d = raw(client.AppsV1Api(api).read_namespaced_deployment, "slow", dns)
    cond = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    available = next(c for c in d["status"]["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"  # the old pod still serves


# -- invariants observed through a watch ----------------------------------------------------
class PodWatcher:
    """Follows the pods of a label selector on a thread; calls `check` on every event
    with the current pods by name. Bounded: stops at `stop()` or after `limit` s."""

    def __init__(self, api: client.ApiClient, ns: str, selector: str,
                 check: Callable[[dict[str, Any]], None], limit: float = 120) -> None:
        self.core, self.ns, self.selector, self.check = client.CoreV1Api(api), ns, selector, check
        self.pods: dict[str, Any] = {}
        self.errors: list[BaseException] = []
        self.events = 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + limit
        self._rv = self.core.list_namespaced_pod(ns, label_selector=selector).metadata.resource_version
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            w = watch.Watch()
            try:
                for ev in w.stream(self.core.list_namespaced_pod, self.ns,
                                   label_selector=self.selector, resource_version=self._rv,
                                   timeout_seconds=2):
                    pod = ev["object"]
                    self._rv = pod.metadata.resource_version
                    if ev["type"] == "DELETED":
                        self.pods.pop(pod.metadata.name, None)
                    else:
                        self.pods[pod.metadata.name] = pod
                    self.events += 1
                    self.check(self.pods)
            except AssertionError as e:
                self.errors.append(e)
                return
            except Exception as e:  # noqa: BLE001 - reported to the test thread
                self.errors.append(e)
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.errors:
            raise self.errors[0]


def active(pods: dict[str, Any]) -> list[Any]:
    return [p for p in pods.values() if p.metadata.deletion_timestamp is None
            and p.status.phase not in ("Succeeded", "Failed")]


def roll_out_watched(kctl: Kubectl, api: client.ApiClient, ns: str, name: str,
                     check: Callable[[dict[str, Any]], None]) -> PodWatcher:
    """Roll the Deployment `name` out to busybox:1.36 while a watcher runs `check` on
    its pods at every event; the stopped watcher (what it saw)."""
    watcher = PodWatcher(api, ns, f"app={name}", check)
    try:
        kctl("set", "image", f"deployment/{name}", "busybox=busybox:1.36", "-n", ns)
        rollout_status(kctl, ns, name)
    finally:
        watcher.stop()
    return watcher


def test_rolling_update_stays_within_max_surge(kctl: Kubectl, api: client.ApiClient,
                                               dns: str) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    kctl("apply", "-n", dns, "-f", "-",
         input=deployment_yaml("surge", replicas=4, strategy=strategy))
    rollout_status(kctl, dns, "surge")
    peak = [0]

    def check(pods: dict[str, Any]) -> None:
        n = len(active(pods))
        peak[0] = max(peak[0], n)
        assert n <= 4 + 1, f"{n} pods exceed replicas + maxSurge"
    watcher = roll_out_watched(kctl, api, dns, "surge", check)
    assert watcher.events > 0 and 4 <= peak[0] <= 5  # never past replicas + maxSurge
    assert {p.spec.containers[0].image for p in active(watcher.pods)} == {"busybox:1.36"}


def test_recreate_never_runs_old_and_new_pods_together(kctl: Kubectl, api: client.ApiClient,
                                                       dns: str) -> None:
    kctl("apply", "-n", dns, "-f", "-",
         input=deployment_yaml("rec", replicas=3, strategy={"type": "Recreate"}))
    rollout_status(kctl, dns, "rec")

    def check(pods: dict[str, Any]) -> None:
        images = {p.spec.containers[0].image for p in pods.values()
                  if p.status.phase not in ("Succeeded", "Failed")}
        assert len(images) <= 1, f"old and new pods together: {images}"
    watcher = roll_out_watched(kctl, api, dns, "rec", check)
    assert {p.spec.containers[0].image for p in active(watcher.pods)} == {"busybox:1.36"}
    assert len(active(watcher.pods)) == 3


def test_revision_history_limit(api: client.ApiClient, dns: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(dns, json.loads(deployment_yaml(
        "hist", replicas=1, revisionHistoryLimit=1)))
    for tag in ("1.34", "1.35", "1.36"):
        apps.patch_namespaced_deployment("hist", dns, {"spec": {"template": {"spec": {
            "containers": [{"name": "busybox", "image": f"busybox:{tag}"}]}}}})
        wait_for(lambda: (d := raw(apps.read_namespaced_deployment, "hist", dns))["status"].get(
            "updatedReplicas") == 1 and d["status"].get("availableReplicas") == 1
            and d["status"].get("replicas") == 1
            and d["status"].get("observedGeneration") == d["metadata"]["generation"],
            f"rollout of busybox:{tag}")
    revs = wait_for(lambda: len(r := by_revision(api, dns)) == 2 and r, "old revisions pruned")
    assert sorted(revs) == [3, 4] and image_of(revs[4]) == "busybox:1.36"
