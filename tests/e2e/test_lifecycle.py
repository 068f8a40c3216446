"""Object lifecycle controllers end to end, on a whole cluster (`kapi up`): cascading
deletion in the three modes (garbage collector), namespace deletion (namespace
controller), the default ServiceAccount and kube-root-ca.crt in every namespace, and a
node that stops heartbeating (node lifecycle controller) — with real kubectl and the
official Python client. Shared-cluster tests use their own namespaces and never pause
the shared nodes; the node test starts (and stops, by PID) a cluster of its own.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from typing import Any, Callable, Iterator, TypeVar

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.conftest import (
    REPO,
    Kubectl,
    Server,
    start_server,
    stop_server,
)
from tests.helpers import api_for, namespace, raw, wait_for

T = TypeVar("T")
HOLD = "example.com/hold"  # a finalizer only the tests remove


@pytest.fixture
def lns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "lc")


def has_controller(name: str) -> bool:
    return importlib.util.find_spec(f"runtime.controllers.{name}") is not None


def get(read: Callable[[], T]) -> T | None:
    """read(), or None on 404."""
    try:
        return read()
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def absent(read: Callable[[], Any]) -> bool:
    return get(read) is None


def workload_yaml(kind: str, name: str, replicas: int = 2) -> str:
    return f"""\
apiVersion: apps/v1
kind: {kind}
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: main, image: busybox:latest}}]
"""


def owned(items: list[Any], uid: str) -> list[Any]:
    return [o for o in items
            if any(r["uid"] == uid for r in o["metadata"].get("ownerReferences") or [])]


def meta(o: Any) -> Any:
    return o["metadata"]


# -- garbage collector: cascading deletion with kubectl --------------------------------
KINDS = ["ReplicaSet", pytest.param("Deployment", marks=pytest.mark.skipif(
    not has_controller("deployment"), reason="the deployment controller is not there yet"))]


def start_workload(kubectl: Kubectl, api: client.ApiClient, ns: str, kind: str,
                   tmp_path: Any) -> tuple[Any, list[Any]]:
    """Apply a Deployment or ReplicaSet; return (its ReplicaSet, that RS's pods)."""
    f = tmp_path / "w.yaml"
    f.write_text(workload_yaml(kind, "web"))
    kubectl("apply", "-n", ns, "-f", str(f))
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    rs = wait_for(lambda: raw(apps.list_namespaced_replica_set, ns)["items"], "a ReplicaSet")[0]
    pods = wait_for(lambda: len(p := owned(raw(core.list_namespaced_pod, ns)["items"],
                                           meta(rs)["uid"])) == 2 and p, "two pods")
    return rs, pods


@pytest.mark.kubectl
@pytest.mark.parametrize("kind", KINDS)
def test_background_cascade(kctl, api, lns, kind, tmp_path):
    rs, _ = start_workload(kctl, api, lns, kind, tmp_path)
    kctl("delete", kind.lower(), "web", "-n", lns, "--timeout=60s")
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    wait_for(lambda: not raw(apps.list_namespaced_replica_set, lns)["items"], "the RS to go")
    wait_for(lambda: not owned(raw(core.list_namespaced_pod, lns)["items"], meta(rs)["uid"]),
             "the pods to go")


@pytest.mark.kubectl
@pytest.mark.parametrize("kind", KINDS)
def test_foreground_cascade(kctl, api, lns, kind, tmp_path):
    rs, _ = start_workload(kctl, api, lns, kind, tmp_path)
    # kubectl waits until the owner is gone, which foreground deletion allows only
    # once its dependents are gone
    kctl("delete", kind.lower(), "web", "-n", lns, "--cascade=foreground", "--timeout=60s")
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    assert not raw(apps.list_namespaced_replica_set, lns)["items"]
    assert not owned(raw(core.list_namespaced_pod, lns)["items"], meta(rs)["uid"])


@pytest.mark.kubectl
@pytest.mark.parametrize("kind", KINDS)
def test_orphan_cascade(kctl, api, lns, kind, tmp_path):
    rs, pods = start_workload(kctl, api, lns, kind, tmp_path)
    owner_uid = meta(rs)["uid"]
    if kind == "Deployment":
        owner_uid = meta(rs)["ownerReferences"][0]["uid"]
    kctl("delete", kind.lower(), "web", "-n", lns, "--cascade=orphan", "--timeout=60s")
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    kept = raw(apps.list_namespaced_replica_set, lns)["items"] if kind == "Deployment" else [
        raw(core.read_namespaced_pod, meta(p)["name"], lns) for p in pods]
    assert kept and not owned(kept, owner_uid)
    assert not [o for o in kept if meta(o).get("deletionTimestamp")]


# -- garbage collector: any kind, with the Python client --------------------------------
def cm_body(name: str, *owners: Any, finalizers: list[str] | None = None) -> dict[str, Any]:
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name,
             "uid": o.metadata.uid, "blockOwnerDeletion": True} for o in owners]
    return {"metadata": {"name": name, "ownerReferences": refs or None,
                         "finalizers": finalizers}, "data": {"k": "v"}}


def test_dependents_of_any_kind_and_several_owners(api, lns):
    core = client.CoreV1Api(api)
    a = core.create_namespaced_config_map(lns, cm_body("a"))
    b = core.create_namespaced_config_map(lns, cm_body("b"))
    core.create_namespaced_config_map(lns, cm_body("both", a, b))
    secret_refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": a.metadata.uid}]
    core.create_namespaced_secret(lns, {"metadata": {"name": "s", "ownerReferences": secret_refs}})
    core.delete_namespaced_config_map("a", lns)
    wait_for(lambda: absent(lambda: core.read_namespaced_secret("s", lns)), "the secret to go")
    both = wait_for(lambda: len(o := core.read_namespaced_config_map(
        "both", lns).metadata.owner_references or []) == 1 and o, "the dangling ref to go")
    assert both[0].uid == b.metadata.uid
    core.delete_namespaced_config_map("b", lns)
    wait_for(lambda: absent(lambda: core.read_namespaced_config_map("both", lns)),
             "the last dependent to go")


def test_foreground_waits_for_blocking_dependents(api, lns):
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(lns, cm_body("owner"))
    core.create_namespaced_config_map(lns, cm_body("held", owner, finalizers=[HOLD]))
    core.delete_namespaced_config_map("owner", lns, propagation_policy="Foreground")
    wait_for(lambda: core.read_namespaced_config_map("held", lns).metadata.deletion_timestamp,
             "the dependent to be deleted")
    waiting = core.read_namespaced_config_map("owner", lns)
    assert waiting.metadata.deletion_timestamp
    assert "foregroundDeletion" in waiting.metadata.finalizers
    core.patch_namespaced_config_map("held", lns, {"metadata": {"finalizers": None}})
    wait_for(lambda: absent(lambda: core.read_namespaced_config_map("held", lns)), "dependent gone")
    wait_for(lambda: absent(lambda: core.read_namespaced_config_map("owner", lns)), "owner gone")


# -- namespace controller ----------------------------------------------------------------
@pytest.mark.kubectl
def test_kubectl_delete_namespace_empties_and_removes_it(kctl, api, tmp_path):
    name = f"lc-{uuid.uuid4().hex[:8]}"
    kctl("create", "namespace", name)
    f = tmp_path / "rs.yaml"
    f.write_text(workload_yaml("ReplicaSet", "web"))
    kctl("apply", "-n", name, "-f", str(f))
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(name, cm_body("cfg"))
    core.create_namespaced_secret(name, {"metadata": {"name": "s"}})
    kctl("delete", "namespace", name, "--timeout=90s")
    assert absent(lambda: core.read_namespace(name))
    assert kctl.run("get", "namespace", name, check=False).returncode != 0


def test_namespace_deletion_reports_content_and_waits_for_finalizers(api):
    core = client.CoreV1Api(api)
    name = f"lc-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, cm_body("held", finalizers=[HOLD]))
    core.delete_namespace(name)

    def conditions() -> dict[str, Any]:
        ns = core.read_namespace(name)
        return {c.type: c for c in ns.status.conditions or []}
    conds = wait_for(lambda: (c := conditions()).get("NamespaceFinalizersRemaining") and
                     c["NamespaceFinalizersRemaining"].status == "True" and c, "conditions")
    assert core.read_namespace(name).status.phase == "Terminating"
    assert conds["NamespaceContentRemaining"].reason == "SomeResourcesRemain"
    assert "configmaps. has 1 resource instances" in conds["NamespaceContentRemaining"].message
    assert conds["NamespaceFinalizersRemaining"].message == (
        f"Some content in the namespace has finalizers remaining: {HOLD} in 1 resource instances")
    assert conds["NamespaceDeletionDiscoveryFailure"].status == "False"
    core.patch_namespaced_config_map("held", name, {"metadata": {"finalizers": None}})
    wait_for(lambda: absent(lambda: core.read_namespace(name)), "the namespace to go")


# -- serviceaccount controller and the root CA publisher ----------------------------------
def test_default_serviceaccount_and_root_ca_in_every_namespace(api, lns):
    core = client.CoreV1Api(api)
    def sa() -> Any:
        return get(lambda: core.read_namespaced_service_account("default", lns))

    def ca() -> Any:
        return get(lambda: core.read_namespaced_config_map("kube-root-ca.crt", lns))
    first_sa, cm = wait_for(sa, "the default SA"), wait_for(ca, "kube-root-ca.crt")
    assert list(cm.data) == ["ca.crt"] and cm.data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    assert "kube-apiserver" in cm.metadata.annotations["kubernetes.io/description"]
    core.delete_namespaced_service_account("default", lns)
    core.delete_namespaced_config_map("kube-root-ca.crt", lns)
    wait_for(lambda: (s := sa()) and s.metadata.uid != first_sa.metadata.uid,
             "the default SA to come back")
    again = wait_for(lambda: (c := ca()) and c.metadata.uid != cm.metadata.uid and c,
                     "kube-root-ca.crt to come back")
    assert again.data == cm.data
    core.patch_namespaced_config_map("kube-root-ca.crt", lns, {"data": {"ca.crt": "tampered"}})
    wait_for(lambda: core.read_namespaced_config_map("kube-root-ca.crt", lns).data == cm.data,
             "kube-root-ca.crt to be put back")


@pytest.mark.kubectl
def test_kubectl_sees_default_sa_and_root_ca(kctl, lns):
    wait_for(lambda: "default" in kctl("get", "sa", "-n", lns, "-o", "name"), "default SA")
    out = wait_for(lambda: kctl("get", "cm", "kube-root-ca.crt", "-n", lns, "-o",
                                    "jsonpath={.data.ca\\.crt}", check=False), "the CA")
    assert "BEGIN CERTIFICATE" in out


# -- node lifecycle: a cluster of our own -----------------------------------------------------
GRACE = 20  # > the simulated nodes' 10 s lease interval, so healthy nodes never flap
EVICTION = 3
CONTROLLER_MANAGER = """\
import asyncio, sys
from runtime.client.rest import Client
from runtime.controllers.context import ControllerOptions
from runtime.controllers.manager import run_controllers
options = ControllerOptions(pod_eviction_timeout=float(sys.argv[2]),
                            node_monitor_grace_period=float(sys.argv[3]))
asyncio.run(run_controllers(Client.from_kubeconfig(sys.argv[1]), options=options))
"""


def _up_has_flag(flag: str) -> bool:
    out = subprocess.run([sys.executable, "-m", "kapi.cli", "up", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60).stdout
    return flag in out


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """3 simulated nodes, a short grace period and eviction timeout. Until `kapi up`
    takes --node-monitor-grace-period, the controllers run beside it in a process of
    their own with those options."""
    base = ("--nodes", "0", "--simulated-nodes", "3", "--pod-eviction-timeout", str(EVICTION))
    data = tmp_path_factory.mktemp("nodelife")
    if _up_has_flag("--node-monitor-grace-period"):
        s = start_server(data, command="up", extra=(*base, "--node-monitor-grace-period", str(GRACE)))
        yield s
        stop_server(s.proc)
        return
    s = start_server(data, command="up", extra=(*base, "--no-controllers"))
    cm = subprocess.Popen([sys.executable, "-c", CONTROLLER_MANAGER, str(s.kubeconfig),
                           str(EVICTION), str(GRACE)], cwd=REPO,
                          stdout=(data / "cm.log").open("ab"), stderr=subprocess.STDOUT)
    try:
        yield s
    finally:
        stop_server(cm)
        stop_server(s.proc)


def ready_of(node: Any) -> Any:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def taint_keys(node: Any) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}


def test_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted(own_cluster):
    with api_for(own_cluster.kubeconfig) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        core.create_namespace({"metadata": {"name": "nl"}})
        apps.create_namespaced_replica_set("nl", yaml.safe_load(workload_yaml("ReplicaSet", "web")),
                                           _preload_content=False)
        def pods() -> list[Any]:
            return raw(core.list_namespaced_pod, "nl")["items"]  # type: ignore[no-any-return]

        def node(name: str) -> Any:
            return raw(core.read_node, name)
        running = wait_for(lambda: [p for p in pods() if p["status"].get("phase") == "Running"],
                           "a running pod")
        victim = running[0]["spec"]["nodeName"]
        stay = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
        core.create_namespaced_pod("nl", {"metadata": {"name": "tolerant"}, "spec": {
            "nodeName": victim, "tolerations": [stay],
            "containers": [{"name": "main", "image": "busybox:latest"}]}})
        core.patch_node(victim, {"metadata": {"annotations": {"sim.kapi.dev/paused": "true"}}})

        silent = wait_for(lambda: ready_of(n := node(victim))["status"] == "Unknown" and n,
                          "Ready=Unknown", timeout=GRACE + 40)
        assert ready_of(silent)["reason"] == "NodeStatusUnknown"
        assert ready_of(silent)["message"] == "Kubelet stopped posting node status."
        wait_for(lambda: {("node.kubernetes.io/unreachable", "NoExecute"),
                          ("node.kubernetes.io/unreachable", "NoSchedule")} <= taint_keys(
            node(victim)), "the unreachable taints")

        def on_victim() -> list[Any]:
            return [p for p in pods()
                    if p["spec"].get("nodeName") == victim and meta(p)["name"] != "tolerant"]
        wait_for(lambda: all(meta(p).get("deletionTimestamp") for p in on_victim()),
                 "the pods on the silent node to be evicted", timeout=EVICTION + 30)
        assert not meta(raw(core.read_namespaced_pod, "tolerant", "nl")).get("deletionTimestamp")
        if has_controller("replicaset"):
            wait_for(lambda: len([p for p in pods()
                                  if p["spec"].get("nodeName") not in (None, victim)
                                  and not meta(p).get("deletionTimestamp")
                                  and p["status"].get("phase") == "Running"]) == 2,
                     "the replacements to run elsewhere")
        others = [n for n in raw(core.list_node)["items"] if meta(n)["name"] != victim]
        assert all(ready_of(n)["status"] == "True" and not taint_keys(n) for n in others)

        core.patch_node(victim, {"metadata": {"annotations": {"sim.kapi.dev/paused": None}}})
        wait_for(lambda: ready_of(n := node(victim))["status"] == "True"
                 and not taint_keys(n), "the node to come back untainted", timeout=60)
