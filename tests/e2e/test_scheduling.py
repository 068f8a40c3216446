"""Scheduling end to end on a whole cluster (`kapi up --simulated-nodes 3`), driven by real
kubectl (1.27 and 1.33, YAML through `apply -f`) and the official Python client: pods get
bound and become Running/Ready on simulated nodes; nodeSelector, taints/tolerations and
requests that do not fit leave a pod Pending with upstream's message and a
FailedScheduling event until the cluster changes; anti-affinity and topology spread;
graceful deletion finished by the simulated kubelet; two schedulers, one leader.

The cluster is shared with other tests: every test uses its own namespace and unique
labels, restricts its pods to the three simulated nodes where other nodes could matter,
and undoes what it changes on nodes. Waits are bounded polls, never bare sleeps.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.conftest import REPO, Kubectl, Server
from tests.helpers import namespace, wait_for

pytestmark = pytest.mark.kubectl


@pytest.fixture
def sns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "sched")

SIM_NODES = ["kapi-sim-0", "kapi-sim-1", "kapi-sim-2"]
ON_SIM_NODES = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": SIM_NODES}]}]}}}


def pod_yaml(name: str, *, labels: dict[str, str] | None = None, cpu: str = "10m",
             **spec: Any) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "registry.invalid/app:1",
                                 "resources": {"requests": {"cpu": cpu}}}], **spec}})


def apply(kctl: Kubectl, ns: str, *docs: str) -> None:
    kctl("apply", "-n", ns, "-f", "-", input="---\n".join(docs))


def read_pod(api: client.ApiClient, ns: str, name: str) -> Any:
    return client.CoreV1Api(api).read_namespaced_pod(name, ns)


def condition(pod: Any, type_: str) -> Any:
    return next((c for c in pod.status.conditions or [] if c.type == type_), None)


def running_ready(api: client.ApiClient, ns: str, name: str) -> Any:
    pod = read_pod(api, ns, name)
    ready = condition(pod, "Ready")
    return pod if pod.status.phase == "Running" and ready and ready.status == "True" else None


def unschedulable_message(api: client.ApiClient, ns: str, name: str) -> str | None:
    pod = read_pod(api, ns, name)
    cond = condition(pod, "PodScheduled")
    if pod.spec.node_name or not cond or cond.status != "False":
        return None
    assert cond.reason == "Unschedulable"
    return str(cond.message)


def events(api: client.ApiClient, ns: str, name: str, reason: str) -> list[Any]:
    evs = client.CoreV1Api(api).list_namespaced_event(
        ns, field_selector=f"involvedObject.name={name}").items
    return [e for e in evs if e.reason == reason]


# -- nodes and the happy path ------------------------------------------------------------
def test_three_simulated_nodes_are_ready(kctl: Kubectl, api: client.ApiClient) -> None:
    out = kctl("get", "nodes", "-o", "wide")
    for name in SIM_NODES:
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert " Ready " in row and "v1.33.0" in row and "127.0." in row
    node = client.CoreV1Api(api).read_node("kapi-sim-0")
    assert node.metadata.labels["node.kubernetes.io/instance-type"] == "kapi-sim"
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("KubeletReady", "kubelet is posting ready status")
    lease = client.CoordinationV1Api(api).read_namespaced_lease("kapi-sim-0", "kube-node-lease")
    assert lease.spec.holder_identity == "kapi-sim-0" and lease.spec.renew_time


def test_pods_are_scheduled_and_become_running_ready(kctl: Kubectl, api: client.ApiClient,
                                                    sns: str) -> None:
    apply(kctl, sns, *(pod_yaml(f"web-{i}") for i in range(3)))
    for i in range(3):
        pod = wait_for(lambda i=i: running_ready(api, sns, f"web-{i}"), f"web-{i} Ready")
        assert pod.spec.node_name and pod.status.pod_ip and pod.status.host_ip.startswith("127.")
        assert condition(pod, "PodScheduled").status == "True"
        [ev] = wait_for(lambda i=i: events(api, sns, f"web-{i}", "Scheduled"), "event")
        assert ev.message == f"Successfully assigned {sns}/web-{i} to {pod.spec.node_name}"
        assert ev.source.component == "default-scheduler"
    out = kctl("get", "pods", "-n", sns, "-o", "wide")
    assert out.count("Running") == 3 and out.count("1/1") == 3


def test_delete_of_a_running_pod_completes(kctl: Kubectl, api: client.ApiClient,
                                           sns: str) -> None:
    apply(kctl, sns, pod_yaml("doomed"))
    wait_for(lambda: running_ready(api, sns, "doomed"), "doomed Ready")
    kctl("delete", "pod", "doomed", "-n", sns, "--timeout=60s")
    with pytest.raises(ApiException) as e:
        read_pod(api, sns, "doomed")
    assert e.value.status == 404


# -- Pending with upstream's message, then scheduled once the cluster changes ------------
def test_node_selector_waits_for_a_matching_label(kctl: Kubectl, api: client.ApiClient,
                                                  sns: str) -> None:
    key = f"sched-test/{sns}"
    apply(kctl, sns, pod_yaml("picky", nodeSelector={key: "yes"}))
    msg = wait_for(lambda: unschedulable_message(api, sns, "picky"), "Unschedulable")
    assert re.fullmatch(r"0/(\d+) nodes are available: \1 node\(s\) didn't match Pod's node "
                        r"affinity/selector\. preemption: 0/\1 nodes are available: \1 "
                        r"Preemption is not helpful for scheduling\.", msg), msg
    described = kctl("describe", "pod", "picky", "-n", sns)
    assert "FailedScheduling" in described and "didn't match Pod's node affinity" in described
    kctl("label", "node", "kapi-sim-1", f"{key}=yes")
    try:
        pod = wait_for(lambda: running_ready(api, sns, "picky"), "picky scheduled")
        assert pod.spec.node_name == "kapi-sim-1"
    finally:
        kctl("label", "node", "kapi-sim-1", f"{key}-")


def test_taints_and_tolerations(kctl: Kubectl, api: client.ApiClient, sns: str) -> None:
    key = f"sched-test-{sns}"
    pinned = {"kubernetes.io/hostname": "kapi-sim-2"}
    kctl("taint", "node", "kapi-sim-2", f"{key}=blue:NoSchedule")
    try:
        apply(kctl, sns, pod_yaml("plain", nodeSelector=pinned), pod_yaml(
            "tolerant", nodeSelector=pinned,
            tolerations=[{"key": key, "operator": "Equal", "value": "blue",
                          "effect": "NoSchedule"}]))
        wait_for(lambda: running_ready(api, sns, "tolerant"), "tolerant Ready")
        msg = wait_for(lambda: unschedulable_message(api, sns, "plain"), "plain Unschedulable")
        assert re.fullmatch(
            rf"0/(\d+) nodes are available: 1 node\(s\) had untolerated taint \{{{key}: blue\}}, "
            r"(\d+) node\(s\) didn't match Pod's node affinity/selector\. preemption: "
            r"0/\1 nodes are available: \1 Preemption is not helpful for scheduling\.", msg), msg
        assert wait_for(lambda: events(api, sns, "plain", "FailedScheduling"), "event")
    finally:
        kctl("taint", "node", "kapi-sim-2", f"{key}-")
    pod = wait_for(lambda: running_ready(api, sns, "plain"), "plain scheduled after untaint")
    assert pod.spec.node_name == "kapi-sim-2"


def test_requests_that_fit_nowhere_wait_for_a_bigger_node(kctl: Kubectl, api: client.ApiClient,
                                                          sns: str) -> None:
    key = f"sched-test-{sns}"
    apply(kctl, sns, pod_yaml("huge", cpu="100", tolerations=[{"operator": "Exists"}]))
    msg = wait_for(lambda: unschedulable_message(api, sns, "huge"), "huge Unschedulable")
    assert re.search(r"^0/(\d+) nodes are available: .*\b\d+ Insufficient cpu", msg), msg
    described = kctl("describe", "pod", "huge", "-n", sns)
    assert "FailedScheduling" in described and "Insufficient cpu" in described
    # a big node appears (tainted so that only this test's pod may land on it)
    core = client.CoreV1Api(api)
    big = f"big-{sns}"
    core.create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=big, labels={"kubernetes.io/hostname": big}),
        spec=client.V1NodeSpec(taints=[client.V1Taint(key=key, effect="NoSchedule")])))
    try:
        core.patch_node_status(big, {"status": {"allocatable": {"cpu": "128", "memory": "1Ti",
                                                                "pods": "10"},
                                                "capacity": {"cpu": "128", "memory": "1Ti",
                                                             "pods": "10"}}})
        bound = wait_for(lambda: read_pod(api, sns, "huge").spec.node_name, "huge bound")
        assert bound == big
    finally:
        core.delete_namespaced_pod("huge", sns, grace_period_seconds=0)
        core.delete_node(big)


# -- affinity and spreading --------------------------------------------------------------
def test_pod_anti_affinity_one_per_node(kctl: Kubectl, api: client.ApiClient, sns: str) -> None:
    labels = {"app": f"anti-{sns}"}
    affinity = {**ON_SIM_NODES, "podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": labels},
             "topologyKey": "kubernetes.io/hostname"}]}}
    apply(kctl, sns, *(pod_yaml(f"a{i}", labels=labels, affinity=affinity) for i in range(4)))
    placed = {}
    for i in range(4):
        placed[i] = wait_for(lambda i=i: read_pod(api, sns, f"a{i}").spec.node_name
                             or unschedulable_message(api, sns, f"a{i}"), f"a{i} decided")
    nodes = [v for v in placed.values() if v in SIM_NODES]
    assert sorted(nodes) == SIM_NODES
    [msg] = [v for v in placed.values() if v not in SIM_NODES]
    assert "3 node(s) didn't match pod anti-affinity rules" in msg, msg


def test_topology_spread_on_hostname(kctl: Kubectl, api: client.ApiClient, sns: str) -> None:
    labels = {"app": f"spread-{sns}"}
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
               "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]
    apply(kctl, sns, *(pod_yaml(f"s{i}", labels=labels, affinity=ON_SIM_NODES,
                                topologySpreadConstraints=spread) for i in range(6)))
    nodes = [wait_for(lambda i=i: read_pod(api, sns, f"s{i}").spec.node_name, f"s{i} bound")
             for i in range(6)]
    assert Counter(nodes) == {n: 2 for n in SIM_NODES}


# -- leader election ---------------------------------------------------------------------
def test_two_schedulers_only_the_leader_binds(api: client.ApiClient, cluster: Server,
                                              sns: str, tmp_path: Path) -> None:
    log = tmp_path / "second-scheduler.log"
    with log.open("wb") as out:
        second = subprocess.Popen(
            [sys.executable, "-m", "kapi.cli", "-v", "scheduler", "--kubeconfig",
             str(cluster.kubeconfig)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "waiting to become leader" in log.read_text(), "second scheduler up")
        leases = client.CoordinationV1Api(api)
        holder = leases.read_namespaced_lease("kube-scheduler", "kube-system").spec.holder_identity
        core = client.CoreV1Api(api)
        for i in range(5):
            core.create_namespaced_pod(sns, yaml.safe_load(pod_yaml(f"le-{i}")))
        for i in range(5):
            [ev] = wait_for(lambda i=i: events(api, sns, f"le-{i}", "Scheduled"), "Scheduled")
            assert ev.reporting_instance == holder
        assert second.poll() is None
        assert leases.read_namespaced_lease(
            "kube-scheduler", "kube-system").spec.holder_identity == holder
        assert "caches synced" not in log.read_text()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=15)


def test_pods_of_another_scheduler_are_left_alone(kctl: Kubectl, api: client.ApiClient,
                                                  sns: str) -> None:
    apply(kctl, sns, pod_yaml("theirs", schedulerName="other-scheduler"))
    apply(kctl, sns, pod_yaml("ours"))  # queued after "theirs": once bound, theirs was seen
    wait_for(lambda: read_pod(api, sns, "ours").spec.node_name, "ours bound")
    theirs = read_pod(api, sns, "theirs")
    assert theirs.spec.node_name is None and condition(theirs, "PodScheduled") is None
    assert events(api, sns, "theirs", "FailedScheduling") == []
