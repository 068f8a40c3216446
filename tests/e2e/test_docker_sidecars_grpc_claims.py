"""Sidecar containers, grpc probes and StatefulSet claims on a real Docker-backed node,
through the official Python client.

Sidecars (init containers with restartPolicy Always): started before the next init
container (which sees what the sidecar wrote), running beside the app with their own
status, restarted when they die, stopped after the app's containers when the pod is
deleted, and never holding a Job: its pod succeeds and the Job completes.
grpc probes: a container of a locally built image serving grpc.health.v1 (on h2) is
Ready while it answers SERVING, unready with upstream's message when NOT_SERVING, and
restarted when its liveness service goes away (a grpc startup probe holding liveness
back until the server answers).
Claims: a StatefulSet's volumeClaimTemplates give its pod a local-path volume under the
node's kubelet root; what the pod writes there is read back by the pod that replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from tests.e2e import dockerpods, grpcimage
from tests.e2e.dockerpods import core, events, pod_doc, sh, status
from tests.helpers import wait_for

engine, cluster, api, ns = (dockerpods.engine, dockerpods.cluster, dockerpods.api,
                            dockerpods.ns)

Obj = dict[str, Any]
SHARED = [{"name": "shared", "mountPath": "/shared"}]


def _sidecar(name: str, script: str, **more: Any) -> Obj:
    return sh(name, script, restartPolicy="Always", **more)


def _cond(st: Obj, type_: str) -> str:
    return next((c["status"] for c in st.get("conditions") or [] if c["type"] == type_), "")


def _inits(st: Obj) -> dict[str, Obj]:
    return {s["name"]: s for s in st.get("initContainerStatuses") or []}


def test_a_sidecar_starts_first_runs_beside_the_app_and_restarts(
        api: k8s.ApiClient, ns: str, engine: Any) -> None:
    side = _sidecar("side", "echo up > /shared/side; exec sleep 3600", volumeMounts=SHARED,
                    startupProbe={"exec": {"command": ["cat", "/shared/side"]},
                                  "periodSeconds": 1})
    check = sh("check", "cat /shared/side", volumeMounts=SHARED)
    doc = pod_doc("sc", sh("app", "exec sleep 3600"), policy="Always",
                  initContainers=[side, check], volumes=[{"name": "shared", "emptyDir": {}}])
    core(api).create_namespaced_pod(ns, doc)

    def ready() -> Obj | None:
        st = status(api, ns, "sc")
        return st if _cond(st, "Ready") == "True" else None
    st = wait_for(ready, "the pod with a sidecar to be Ready", timeout=90)
    assert st["phase"] == "Running" and _cond(st, "Initialized") == "True"
    inits = _inits(st)
    assert "running" in inits["side"]["state"]
    assert inits["side"]["started"] and inits["side"]["ready"]
    # the regular init container ran after the sidecar had started, and saw its file
    assert inits["check"]["state"]["terminated"]["reason"] == "Completed"
    assert dockerpods.logs(api, ns, "sc", "check").strip() == "up"

    first = inits["side"]["containerID"].removeprefix("docker://")
    engine.containers.get(first).kill()

    def restarted() -> Obj | None:
        st = status(api, ns, "sc")
        s = _inits(st)["side"]
        return st if s["restartCount"] >= 1 and "running" in s["state"] else None
    st = wait_for(restarted, "the sidecar to be restarted", timeout=90)
    assert st["phase"] == "Running"
    assert st["containerStatuses"][0]["restartCount"] == 0  # the app kept running
    assert "terminated" in _inits(st)["side"]["lastState"]


def test_a_sidecar_never_holds_a_job(api: k8s.ApiClient, ns: str) -> None:
    batch = k8s.BatchV1Api(api)
    side = _sidecar("side", "exec sleep 3600")
    batch.create_namespaced_job(ns, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "withside"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "initContainers": [side], "containers": [sh("work", "echo done")]}}}})
    wait_for(lambda: (batch.read_namespaced_job("withside", ns).status.succeeded or 0) == 1,
             "the Job with a sidecar to complete", timeout=90)
    pod = core(api).list_namespaced_pod(ns, label_selector="job-name=withside").items[0]
    st = status(api, ns, pod.metadata.name)
    assert st["phase"] == "Succeeded"
    assert "terminated" in _inits(st)["side"]["state"]  # stopped once the work was done
    assert st["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


def test_deletion_stops_the_app_before_its_sidecar(api: k8s.ApiClient, ns: str,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "order"
    out.mkdir()
    out.chmod(0o777)
    mount = [{"name": "out", "mountPath": "/out"}]
    record = "trap 'echo {0} >> /out/order; exit 0' TERM; while :; do sleep 1; done"
    doc = pod_doc("order", sh("app", record.format("app"), volumeMounts=mount),
                  policy="Always", terminationGracePeriodSeconds=10,
                  initContainers=[_sidecar("side", record.format("side"), volumeMounts=mount)],
                  volumes=[{"name": "out", "hostPath": {"path": str(out)}}])
    core(api).create_namespaced_pod(ns, doc)
    wait_for(lambda: status(api, ns, "order").get("phase") == "Running", "order to run",
             timeout=90)
    core(api).delete_namespaced_pod("order", ns)

    def gone() -> bool:
        return not [p for p in core(api).list_namespaced_pod(ns).items
                    if p.metadata.name == "order"]
    wait_for(gone, "the pod to be deleted", timeout=90)
    assert (out / "order").read_text().split() == ["app", "side"]


# -- grpc probes -----------------------------------------------------------------------
def test_grpc_probes_drive_readiness_and_liveness(api: k8s.ApiClient, ns: str,
                                                  engine: Any) -> None:
    grpcimage.ensure_image(engine)
    health = grpcimage.HEALTH_DIR
    every = {"periodSeconds": 1, "failureThreshold": 1}
    serve = sh("grpc", f"mkdir -p {health} && echo SERVING > {health}/_ && "
                       f"echo SERVING > {health}/live && exec python3 -S "
                       f"/grpc_health_server.py {grpcimage.PORT} {health}",
               image=grpcimage.IMAGE,
               # the startup probe holds liveness back while the interpreter starts
               startupProbe={"grpc": {"port": grpcimage.PORT}, "periodSeconds": 1,
                             "failureThreshold": 60},
               readinessProbe={"grpc": {"port": grpcimage.PORT}, **every},
               livenessProbe={"grpc": {"port": grpcimage.PORT, "service": "live"}, **every})
    core(api).create_namespaced_pod(ns, pod_doc("hc", serve, policy="Always"))

    def ready(want: str) -> Obj | None:
        st = status(api, ns, "hc")
        return st if _cond(st, "Ready") == want else None
    st = wait_for(lambda: ready("True"), "the grpc server to be Ready", timeout=90)
    cid = st["containerStatuses"][0]["containerID"].removeprefix("docker://")

    engine.containers.get(cid).exec_run(["sh", "-c", f"echo NOT_SERVING > {health}/_"])
    wait_for(lambda: ready("False"), "NOT_SERVING to make the pod unready", timeout=60)
    assert ("Warning", "Unhealthy",
            'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")') \
        in events(api, ns, "hc")

    engine.containers.get(cid).exec_run(["rm", f"{health}/live"])

    def restarted() -> Obj | None:
        st = status(api, ns, "hc")
        return st if st["containerStatuses"][0]["restartCount"] >= 1 else None
    wait_for(restarted, "the failed grpc liveness probe to restart the container",
             timeout=90)
    assert ("Warning", "Unhealthy", "Liveness probe failed: error: health rpc probe "
            "failed: rpc error: code = NotFound desc = unknown service") \
        in events(api, ns, "hc")
    wait_for(lambda: ready("True"), "the restarted server to be Ready again", timeout=90)


# -- claims ----------------------------------------------------------------------------
def test_a_statefulsets_claim_keeps_its_data_across_pods(api: k8s.ApiClient, ns: str,
                                                         cluster: Any) -> None:
    apps = k8s.AppsV1Api(api)
    script = "cat /data/seen 2>/dev/null; hostname >> /data/seen; exec sleep 3600"
    apps.create_namespaced_stateful_set(ns, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                     "terminationGracePeriodSeconds": 1, "containers": [sh(
                         "c", script, volumeMounts=[{"name": "data", "mountPath": "/data"}])]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                     "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "16Mi"}}}}]}})
    def running() -> Any:
        pods = core(api).list_namespaced_pod(ns, field_selector="metadata.name=db-0").items
        return pods[0] if pods and pods[0].status.phase == "Running" else None
    first_uid = wait_for(running, "db-0 to run", timeout=90).metadata.uid
    claim = core(api).read_namespaced_persistent_volume_claim("data-db-0", ns)
    assert claim.status.phase == "Bound"
    pv = core(api).read_persistent_volume(claim.spec.volume_name)
    root = dockerpods.kubelet_root(dockerpods.cluster_uid(api))
    assert Path(pv.spec.host_path.path).parent == root / "local-path"
    assert (Path(pv.spec.host_path.path) / "seen").read_text() == "db-0\n"

    core(api).delete_namespaced_pod("db-0", ns)

    def replaced() -> bool:
        pod = running()
        return pod is not None and pod.metadata.uid != first_uid
    wait_for(replaced, "db-0 to be replaced and run", timeout=90)
    wait_for(lambda: dockerpods.logs(api, ns, "db-0").strip() == "db-0",
             "the new pod to read what the old one wrote", timeout=30)
