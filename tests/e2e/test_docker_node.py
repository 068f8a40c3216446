"""Docker-backed nodes end to end: `kapi up --nodes 2` on the host's real Docker engine,
driven by real kubectl (1.27 and 1.33) and the official Python client.

Pods run as real containers: Running and Ready with a pod IP that answers over the docker
bridge, init containers in order, env/command/workingDir, CrashLoopBackOff with growing
restarts, Job pods Succeeded/Failed, deletion removing the containers, a missing image
in ErrImagePull/ImagePullBackOff, a Deployment spread over both nodes, and a restarted
`kapi kubelet` adopting its running pod (and removing the containers of a pod deleted
meanwhile). Every container the cluster made is removed at the end by its cluster label.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any, Iterator

import httpx
import pytest
from kubernetes import client as k8s

from tests import dockerenv
from tests.conftest import (
    REPO,
    WANTED_KUBECTL,
    Kubectl,
    Server,
    kubectl_or_skip,
    stop_server,
)
from tests.dockerenv import cluster_containers, docker_cluster
from tests.e2e import dockerpods
from tests.e2e.dockerpods import cluster_uid, core, sh, status
from tests.helpers import api_fixture, namespace_fixture, wait_for

engine = dockerenv.engine  # the module-scoped Docker engine fixture

Obj = dict[str, Any]
POD_UID = "io.kubernetes.pod.uid"


@pytest.fixture(scope="module")
def dcluster(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """API server, controllers, scheduler and two Docker-backed nodes sharing this host."""
    with docker_cluster(engine, tmp_path_factory.mktemp("docker"), "--nodes", "2",
                        "--node-cpu", "2", "--node-memory", "4Gi",
                        nodes={"kapi-node-1", "kapi-node-2"}) as s:
        yield s


dapi = api_fixture("dcluster")
dns = namespace_fixture("dapi", "dock")


@pytest.fixture(params=WANTED_KUBECTL)
def dkubectl(request: pytest.FixtureRequest, dcluster: Server) -> Kubectl:
    return kubectl_or_skip(request.param, dcluster.kubeconfig)


def pod_doc(name: str, *containers: Obj, policy: str = "Always", **spec: Any) -> Obj:
    return dockerpods.pod_doc(name, *containers, policy=policy, **spec)


def phase_is(api: k8s.ApiClient, ns: str, name: str, *phases: str) -> Obj | None:
    st = status(api, ns, name)
    return st if st.get("phase") in phases else None


# -- a pod on a real container -----------------------------------------------------------
def test_nodes_register_with_real_facts(dapi: k8s.ApiClient) -> None:
    nodes = {n.metadata.name: n for n in core(dapi).list_node().items}
    assert {"kapi-node-1", "kapi-node-2"} <= set(nodes)
    n = nodes["kapi-node-1"]
    assert n.status.node_info.container_runtime_version.startswith("docker://")
    assert n.status.capacity["cpu"] == "2" and n.status.capacity["memory"] == "4Gi"
    assert n.status.daemon_endpoints.kubelet_endpoint.port > 0
    assert any(a.type == "InternalIP" for a in n.status.addresses)
    assert any("busybox:latest" in (i.names or []) for i in n.status.images)


def test_pod_runs_ready_and_answers_on_its_ip(dkubectl: Kubectl, dns: str, engine: Any) -> None:
    name = f"web-{dkubectl.version.replace('.', '')}"
    web = sh("web", "echo hello-$POD_NAME > /www/index.html; exec httpd -f -p 8080 -h /www",
             env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                 "fieldPath": "metadata.name"}}}],
             readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1})

    dkubectl("apply", "-n", dns, "-f", "-", input=json.dumps(pod_doc(name, web)))
    dkubectl("wait", "-n", dns, f"pod/{name}", "--for=condition=Ready", "--timeout=60s",
             timeout=90)
    pod = json.loads(dkubectl("get", "-n", dns, "pod", name, "-o", "json"))
    st = pod["status"]
    assert st["phase"] == "Running" and st["podIP"] and st["hostIP"]
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["containerID"].startswith("docker://")
    assert cs["imageID"].startswith("docker://sha256:") and "running" in cs["state"]
    assert {c["type"] for c in st["conditions"] if c["status"] == "True"} >= {
        "PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"}
    r = httpx.get(f"http://{st['podIP']}:8080/", timeout=5)
    assert r.text.strip() == f"hello-{name}"
    ids = [c.id for c in engine.containers.list(filters={"label": f"{POD_UID}="
                                                                    f"{pod['metadata']['uid']}"})]
    assert cs["containerID"].removeprefix("docker://") in ids and len(ids) == 2  # + sandbox
    assert "Started" in dkubectl("get", "events", "-n", dns, "--field-selector",
                                 f"involvedObject.name={name}")


def test_init_containers_in_order_then_env_command_workdir(dapi: k8s.ApiClient,
                                                           dns: str) -> None:
    check = sh("app", 'test "$GREETING" = "hi p1 on $NODE" && test "$(pwd)" = /tmp || exit 9',
               workingDir="/tmp",
               env=[{"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "GREETING", "value": "hi $(NAME) on $(NODE)"}])
    args_only = {"name": "args", "image": "busybox", "args": ["sh", "-c", "exit 0"]}
    doc = pod_doc("p1", check, args_only, policy="Never",
                  initContainers=[sh("first", "sleep 1"), sh("second", "sleep 1")])
    core(dapi).create_namespaced_pod(dns, doc)
    st = wait_for(lambda: phase_is(dapi, dns, "p1", "Succeeded", "Failed"), "p1 to finish")
    assert st["phase"] == "Succeeded", st
    first, second = (s["state"]["terminated"] for s in st["initContainerStatuses"])
    assert first["reason"] == second["reason"] == "Completed"
    assert second["startedAt"] >= first["finishedAt"]
    app = st["containerStatuses"][0]["state"]["terminated"]
    assert app["startedAt"] >= second["finishedAt"] and app["exitCode"] == 0


def test_crashing_container_reaches_crash_loop_back_off(dapi: k8s.ApiClient, dns: str) -> None:
    core(dapi).create_namespaced_pod(dns, pod_doc("crash", sh("c", "exit 3")))

    def backing_off() -> Obj | None:
        cs = (status(dapi, dns, "crash").get("containerStatuses") or [{}])[0]
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return cs if waiting.get("reason") == "CrashLoopBackOff" \
            and cs["restartCount"] >= 2 else None
    cs = wait_for(backing_off, "CrashLoopBackOff after two restarts", timeout=60)
    assert "back-off" in cs["state"]["waiting"]["message"]
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert status(dapi, dns, "crash")["phase"] == "Running"
    events = core(dapi).list_namespaced_event(dns, field_selector="involvedObject.name=crash")
    assert any(e.reason == "BackOff" for e in events.items)


def test_job_pods_succeed_and_fail(dapi: k8s.ApiClient, dns: str) -> None:
    batch = k8s.BatchV1Api(dapi)
    for name, code in (("ok", 0), ("bad", 3)):
        batch.create_namespaced_job(dns, {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [sh("c", f"exit {code}")]}}}})

    def pod_of(job: str) -> Obj | None:
        pods = core(dapi).list_namespaced_pod(dns, label_selector=f"job-name={job}").items
        phases = [p.status.phase for p in pods]
        return pods[0] if pods and phases[0] in ("Succeeded", "Failed") else None
    ok, bad = wait_for(lambda: pod_of("ok"), "job ok"), wait_for(lambda: pod_of("bad"), "bad")
    assert ok.status.phase == "Succeeded" and bad.status.phase == "Failed"
    assert bad.status.container_statuses[0].state.terminated.exit_code == 3
    wait_for(lambda: (batch.read_namespaced_job("ok", dns).status.succeeded or 0) == 1,
             "job ok complete")


def test_deleting_a_pod_removes_its_containers(dapi: k8s.ApiClient, dns: str,
                                               engine: Any) -> None:
    core(dapi).create_namespaced_pod(dns, pod_doc("gone", sh("c", "sleep 600")))
    st = wait_for(lambda: phase_is(dapi, dns, "gone", "Running"), "gone to run")
    uid = core(dapi).read_namespaced_pod("gone", dns).metadata.uid
    assert len(engine.containers.list(filters={"label": f"{POD_UID}={uid}"})) == 2
    core(dapi).delete_namespaced_pod("gone", dns)  # sleep ignores SIGTERM: SIGKILL after 1 s

    def deleted() -> bool:
        try:
            core(dapi).read_namespaced_pod("gone", dns)
            return False
        except k8s.ApiException as e:
            return e.status == 404
    wait_for(deleted, "the pod object to go", timeout=30)
    assert engine.containers.list(all=True, sparse=True,
                                  filters={"label": f"{POD_UID}={uid}"}) == []
    assert st["podIP"]


def test_missing_image_waits_in_image_pull_back_off(dapi: k8s.ApiClient, dns: str) -> None:
    image = f"kapi-test/absent-{uuid.uuid4().hex[:6]}:1"
    core(dapi).create_namespaced_pod(dns, pod_doc("noimg", {"name": "c", "image": image}))

    def reason() -> str | None:
        cs = (status(dapi, dns, "noimg").get("containerStatuses") or [{}])[0]
        r = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        return r if r == "ImagePullBackOff" else None
    wait_for(reason, "ImagePullBackOff", timeout=30)
    events = core(dapi).list_namespaced_event(dns, field_selector="involvedObject.name=noimg")
    messages = {e.message for e in events.items}
    assert "Error: ErrImagePull" in messages
    assert any(image in m and "Failed to pull image" in m for m in messages)
    assert status(dapi, dns, "noimg")["phase"] == "Pending"


def test_deployment_spreads_over_two_docker_nodes(dapi: k8s.ApiClient, dns: str) -> None:
    k8s.AppsV1Api(dapi).create_namespaced_deployment(dns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "spread"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "spread"}},
                 "template": {"metadata": {"labels": {"app": "spread"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [sh("c", "sleep 600", resources={
                         "requests": {"cpu": "500m"}})]}}}})

    def ready() -> list[Any] | None:
        pods = core(dapi).list_namespaced_pod(dns, label_selector="app=spread").items
        ok = [p for p in pods if any(c.type == "Ready" and c.status == "True"
                                     for c in p.status.conditions or [])]
        return ok if len(ok) == 3 else None
    pods = wait_for(ready, "3 ready replicas", timeout=60)
    assert {p.spec.node_name for p in pods} == {"kapi-node-1", "kapi-node-2"}
    assert len({p.status.pod_ip for p in pods}) == 3


# -- a kubelet restarted -----------------------------------------------------------------
def _kubelet(server: Server, name: str) -> subprocess.Popen[bytes]:
    log = server.data_dir / f"kubelet-{name}.log"
    return subprocess.Popen([sys.executable, "-m", "kapi.cli", "kubelet", "--node-name", name,
                             "--kubeconfig", str(server.kubeconfig), "--node-cpu", "1"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO)


def test_restarted_kubelet_adopts_its_pods(dcluster: Server, dapi: k8s.ApiClient, dns: str,
                                           engine: Any) -> None:
    name = f"solo-{uuid.uuid4().hex[:6]}"
    proc = _kubelet(dcluster, name)
    try:
        for pod in ("keep", "orphan"):
            core(dapi).create_namespaced_pod(dns, pod_doc(pod, sh("c", "sleep 600"),
                                                          nodeName=name))
        before = wait_for(lambda: phase_is(dapi, dns, "keep", "Running"), "keep running")
        orphan = wait_for(lambda: phase_is(dapi, dns, "orphan", "Running"), "orphan running")
        orphan_uid = core(dapi).read_namespaced_pod("orphan", dns).metadata.uid
        assert stop_server(proc) == 0
        core(dapi).delete_namespaced_pod("orphan", dns, grace_period_seconds=0)  # while down
        cid = before["containerStatuses"][0]["containerID"].removeprefix("docker://")
        started = engine.containers.get(cid).attrs["State"]["StartedAt"]
        proc = _kubelet(dcluster, name)
        wait_for(lambda: not cluster_containers(engine, cluster_uid(dapi),
                                                **{POD_UID: orphan_uid}),
                 "the deleted pod's containers to be removed", timeout=30)
        after = status(dapi, dns, "keep")
        cs = after["containerStatuses"][0]
        assert cs["containerID"] == f"docker://{cid}" and cs["restartCount"] == 0
        assert engine.containers.get(cid).attrs["State"]["StartedAt"] == started
        uid = core(dapi).read_namespaced_pod("keep", dns).metadata.uid
        mine = engine.containers.list(all=True, sparse=True,
                                      filters={"label": f"{POD_UID}={uid}"})
        assert len(mine) == 2 and orphan["podIP"]
    finally:
        stop_server(proc)


# -- logs through the API server ---------------------------------------------------------
def test_kubectl_logs_through_the_api_server(dkubectl: Kubectl, dapi: k8s.ApiClient,
                                            dns: str) -> None:
    # stdout and stderr are two streams whose relative order is only that of their
    # timestamps (as upstream): the pause keeps stderr's line first
    script = "echo err >&2; sleep 0.2; echo one; echo two; echo run-$RANDOM; sleep 2; exit 1"
    core(dapi).create_namespaced_pod(dns, pod_doc("talk", sh("c", script)))

    def second_run() -> list[str] | None:
        cs = (status(dapi, dns, "talk").get("containerStatuses") or [{}])[0]
        if cs.get("restartCount", 0) < 1 or "running" not in (cs.get("state") or {}):
            return None
        lines = dkubectl("logs", "-n", dns, "talk").splitlines()
        return lines if len(lines) == 4 else None
    lines = wait_for(second_run, "the second run's four lines", timeout=30, every=0.3)
    assert lines[:3] == ["err", "one", "two"] and lines[3].startswith("run-")
    assert dkubectl("logs", "-n", dns, "talk", "--tail=1").strip() == lines[3]
    stamped = dkubectl("logs", "-n", dns, "talk", "--tail=1", "--timestamps", "--previous")
    stamp, _, previous = stamped.strip().partition(" ")
    assert stamp.startswith("20") and stamp.endswith("Z") and previous.startswith("run-")
    followed = dkubectl("logs", "-n", dns, "talk", "-f", timeout=30)  # ends with the run
    assert followed.splitlines()[-1].startswith("run-")
    bad = dkubectl.run("logs", "-n", dns, "talk", "-c", "nope", check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr
    text = core(dapi).read_namespaced_pod_log("talk", dns, container="c", tail_lines=1,
                                              previous=True)
    assert text.startswith("run-")


# -- limits and probes -------------------------------------------------------------------
def test_memory_limit_is_enforced_and_oom_killed_reported(dapi: k8s.ApiClient, dns: str,
                                                          engine: Any) -> None:
    hog = sh("hog", "sleep 1; dd if=/dev/zero of=/dev/null bs=100M count=1",  # a 100M buffer
             resources={"limits": {"memory": "32Mi", "cpu": "500m"}})
    core(dapi).create_namespaced_pod(dns, pod_doc("hog", hog, policy="Never"))
    running = wait_for(lambda: phase_is(dapi, dns, "hog", "Running", "Failed"), "hog to run")
    cid = running["containerStatuses"][0]["containerID"].removeprefix("docker://")
    host = engine.containers.get(cid).attrs["HostConfig"]
    assert host["Memory"] == 32 * 2**20 and host["CpuQuota"] == 50_000
    st = wait_for(lambda: phase_is(dapi, dns, "hog", "Failed", "Succeeded"), "hog to end")
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert st["phase"] == "Failed" and term["reason"] == "OOMKilled"
    assert term["exitCode"] == 137


def test_failing_liveness_probe_restarts_and_readiness_follows(dapi: k8s.ApiClient,
                                                               dns: str) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
             "failureThreshold": 1}
    app = sh("c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 600",
             livenessProbe=probe, readinessProbe=probe)
    core(dapi).create_namespaced_pod(dns, pod_doc("live", app))

    def ready() -> bool:
        cs = (status(dapi, dns, "live").get("containerStatuses") or [{}])[0]
        return bool(cs.get("ready"))
    wait_for(ready, "live to be ready", timeout=30)

    def restarted() -> Obj | None:
        cs = (status(dapi, dns, "live").get("containerStatuses") or [{}])[0]
        return cs if cs.get("restartCount", 0) >= 1 else None
    cs = wait_for(restarted, "a liveness restart", timeout=30)
    assert cs["lastState"]["terminated"]["exitCode"] != 0
    events = core(dapi).list_namespaced_event(dns, field_selector="involvedObject.name=live")
    reasons = {e.reason for e in events.items}
    assert {"Unhealthy", "Killing"} <= reasons
