"""Real kubectl binaries (1.27 and 1.33 at least) against a real kapi server: what a
user types, and what they see."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.helpers import edit_with

pytestmark = pytest.mark.kubectl

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:latest
        ports:
        - containerPort: 80
"""


def test_version_and_discovery(kubectl):
    out = json.loads(kubectl("version", "-o", "json"))
    assert out["serverVersion"]["major"] == "1" and out["serverVersion"]["minor"] == "33"
    versions = kubectl("api-versions").split()
    for gv in ("v1", "apps/v1", "batch/v1", "autoscaling/v2", "autoscaling/v1",
               "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
               "policy/v1", "rbac.authorization.k8s.io/v1"):
        assert gv in versions
    res = kubectl("api-resources", "--no-headers")
    rows: dict[str, list[str]] = {}
    for line in res.splitlines():  # metrics.k8s.io serves nodes and pods too: keep the first
        rows.setdefault(line.split()[0], line.split())
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    assert "clusterroles" in rows and "leases" in rows and "endpointslices" in rows


def test_create_get_tables(kubectl, ns, tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOY)
    assert 'deployment.apps/web created' in kubectl("create", "-n", ns, "-f", str(f))
    out = kubectl("get", "deploy", "-n", ns)
    header = out.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["web", "0/2", "0", "0"]
    wide = kubectl("get", "deploy", "web", "-n", ns, "-o", "wide").splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["web", "busybox:latest", "app=web"]
    assert kubectl("get", "deploy", "-n", ns, "-o", "name").strip() == "deployment.apps/web"
    assert kubectl("get", "deploy", "web", "-n", ns, "-o",
                   "jsonpath={.spec.template.spec.containers[0].image}") == "busybox:latest"
    obj = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert obj["kind"] == "Deployment" and obj["metadata"]["generation"] == 1
    assert "kind: Deployment" in kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml")


def test_generators(kubectl, ns):
    kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=a=1", "--from-literal=b=2")
    kubectl("create", "secret", "generic", "sec", "-n", ns, "--from-literal=pw=hunter2")
    kubectl("create", "deployment", "gen", "-n", ns, "--image=busybox:latest", "--replicas=3")
    kubectl("create", "service", "clusterip", "svc", "-n", ns, "--tcp=80:8080")
    kubectl("create", "job", "jb", "-n", ns, "--image=busybox:latest", "--", "true")
    cms = kubectl("get", "cm", "cfg", "-n", ns).splitlines()
    assert cms[0].split() == ["NAME", "DATA", "AGE"] and cms[1].split()[:2] == ["cfg", "2"]
    secs = kubectl("get", "secret", "sec", "-n", ns).splitlines()
    assert secs[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert secs[1].split()[:3] == ["sec", "Opaque", "1"]
    svc = kubectl("get", "svc", "svc", "-n", ns).splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc[1].split()[1] == "ClusterIP" and svc[1].split()[4] == "80/TCP"
    jobs = kubectl("get", "jobs", "-n", ns).splitlines()
    assert jobs[1].split()[0] == "jb"
    everything = kubectl("get", "all", "-n", ns)
    for name in ("deployment.apps/gen", "service/svc", "job.batch/jb"):
        assert name in everything
    kubectl("create", "namespace", ns + "-x")
    assert (ns + "-x") in kubectl("get", "ns", "-o", "name")


def test_apply_twice_is_unchanged(kubectl, ns, tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOY)
    assert "deployment.apps/web created" in kubectl("apply", "-n", ns, "-f", str(f))
    assert "deployment.apps/web unchanged" in kubectl("apply", "-n", ns, "-f", str(f))
    f.write_text(DEPLOY.replace("replicas: 2", "replicas: 4").replace(
        "image: busybox:latest", "image: busybox:1.36"))
    assert "deployment.apps/web configured" in kubectl("apply", "-n", ns, "-f", str(f))
    obj = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert obj["spec"]["replicas"] == 4
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    assert obj["metadata"]["generation"] == 2


def test_patch_label_annotate(kubectl, ns):
    kubectl("create", "configmap", "pc", "-n", ns, "--from-literal=a=1")
    kubectl("patch", "cm", "pc", "-n", ns, "-p", '{"data":{"b":"2"}}')
    kubectl("patch", "cm", "pc", "-n", ns, "--type", "merge", "-p", '{"data":{"c":"3"}}')
    kubectl("patch", "cm", "pc", "-n", ns, "--type", "json",
            "-p", '[{"op":"remove","path":"/data/a"}]')
    data = json.loads(kubectl("get", "cm", "pc", "-n", ns, "-o", "json"))["data"]
    assert data == {"b": "2", "c": "3"}
    assert "labeled" in kubectl("label", "cm", "pc", "-n", ns, "tier=web")
    assert "configmap/pc annotate" in kubectl("annotate", "cm", "pc", "-n", ns, "note=hi")
    assert kubectl("get", "cm", "-n", ns, "-l", "tier=web", "-o", "name").strip() == "configmap/pc"
    assert kubectl("get", "cm", "-n", ns, "-l", "tier!=web", "-o", "name").strip() == ""
    assert kubectl("get", "cm", "-n", ns, "--field-selector", "metadata.name=pc",
                   "-o", "name").strip() == "configmap/pc"
    kubectl("label", "cm", "pc", "-n", ns, "tier-")
    assert kubectl("get", "cm", "-n", ns, "-l", "tier", "-o", "name").strip() == ""
    bad = kubectl.run("patch", "cm", "pc", "-n", ns, "--type", "json", "-p", '{"op": 1}',
                      check=False)
    assert bad.returncode != 0


def test_edit_with_editor(kubectl, ns, tmp_path):
    kubectl("create", "configmap", "ed", "-n", ns, "--from-literal=color=red")
    edit_with(kubectl, tmp_path, "color: red", "color: blue", "cm", "ed", "-n", ns)
    assert kubectl("get", "cm", "ed", "-n", ns, "-o", "jsonpath={.data.color}") == "blue"


def test_all_namespaces_and_dry_run(kubectl, ns):
    kubectl("create", "configmap", "dr", "-n", ns, "--from-literal=a=1", "--dry-run=server")
    assert kubectl.run("get", "cm", "dr", "-n", ns, check=False).returncode != 0
    kubectl("create", "configmap", "allns", "-n", ns, "--from-literal=a=1")
    out = kubectl("get", "cm", "-A", "--field-selector", "metadata.name=allns")
    assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [ns, "allns"] in [line.split()[:2] for line in out.splitlines()[1:]]
    nses = kubectl("get", "ns").splitlines()
    assert nses[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["default", "Active"] for line in nses)


def test_delete_wait_and_cascade(kubectl, ns, tmp_path):
    kubectl("create", "configmap", "d1", "-n", ns, "--from-literal=a=1")
    assert 'configmap "d1" deleted' in kubectl("delete", "cm", "d1", "-n", ns, "--wait")
    kubectl("create", "deployment", "d2", "-n", ns, "--image=busybox")
    kubectl("delete", "deploy", "d2", "-n", ns, "--cascade=background", "--grace-period=0")
    assert kubectl.run("get", "deploy", "d2", "-n", ns, check=False).returncode != 0
    kubectl("create", "deployment", "d3", "-n", ns, "--image=busybox")
    kubectl("delete", "deploy", "d3", "-n", ns, "--cascade=orphan", "--wait=false")
    fins = kubectl("get", "deploy", "d3", "-n", ns, "-o", "jsonpath={.metadata.finalizers}")
    assert "orphan" in fins


def _watching(kubectl, *args: str) -> subprocess.Popen[str]:
    """Start `kubectl wait ... -v=6` and return once it has a watch open: client-go logs
    each request it made at -v=6, the watch when the server has answered its headers."""
    proc = subprocess.Popen(
        [str(kubectl.binary), *args, "-v=6"],
        env=dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if "watch=true" in line and (" 200 " in line or 'status="200' in line):
            return proc
        if not line:
            break
    proc.kill()
    proc.wait(timeout=10)
    raise AssertionError("kubectl wait opened no watch:\n" + "".join(seen))


def test_wait_for_delete_and_jsonpath(kubectl, ns, server):
    kubectl("create", "configmap", "wt", "-n", ns, "--from-literal=state=old")
    waiter = _watching(kubectl, "wait", "-n", ns, "cm/wt",
                       "--for=jsonpath={.data.state}=new", "--timeout=30s")
    kubectl("patch", "cm", "wt", "-n", ns, "-p", '{"data":{"state":"new"}}')
    out, err = waiter.communicate(timeout=40)
    assert waiter.returncode == 0, err
    assert "condition met" in out
    waiter = _watching(kubectl, "wait", "-n", ns, "cm/wt", "--for=delete", "--timeout=30s")
    kubectl("delete", "cm", "wt", "-n", ns)
    out, err = waiter.communicate(timeout=40)
    assert waiter.returncode == 0, err


def test_get_watch_prints_changes(kubectl, ns):
    kubectl("create", "configmap", "gw", "-n", ns, "--from-literal=a=1")
    proc = subprocess.Popen(
        [str(kubectl.binary), "get", "cm", "-n", ns, "-w", "--request-timeout=20s"],
        env=dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        # The header and gw's row are the initial list; kubectl watches from that list's
        # resourceVersion, so changes made after these lines reach it, however late the
        # watch connection opens.
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        kubectl("create", "configmap", "gw2", "-n", ns, "--from-literal=a=1")
        kubectl("label", "cm", "gw", "-n", ns, "x=y")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(lines) < 4:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    names = [line.split()[0] for line in lines]
    assert names[0] == "NAME"
    assert names[1:4] == ["gw", "gw2", "gw"]


def test_bad_input_is_a_clear_error(kubectl, ns, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n")
    p = kubectl.run("create", "-n", ns, "-f", str(f), check=False)
    assert p.returncode != 0 and "is invalid" in p.stderr and "Bad_Name" in p.stderr
    p = kubectl.run("get", "cm", "nope", "-n", ns, check=False)
    assert p.returncode != 0
    assert 'configmaps "nope" not found' in p.stderr


ALL_MINORS = [f"1.{m}" for m in range(27, 34)]


@pytest.mark.parametrize("version", ALL_MINORS)
def test_every_kubectl_minor_smoke(version, server, ns, tmp_path):
    from tests.conftest import kubectl_or_skip

    k = kubectl_or_skip(version, server.kubeconfig)
    assert "deployments" in k("api-resources", "-o", "name")
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOY)
    assert "created" in k("apply", "-n", ns, "-f", str(f))
    assert "unchanged" in k("apply", "-n", ns, "-f", str(f))
    assert k("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}") == "2"
    rows = k("get", "all", "-n", ns).splitlines()
    assert any(r.startswith("deployment.apps/web") for r in rows)
    assert 'deployment.apps "web" deleted' in k("delete", "-n", ns, "-f", str(f))


POD_NODE_EVENT = """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-a
spec:
  containers:
  - name: c
    image: busybox:latest
---
apiVersion: v1
kind: Event
metadata:
  name: pod-a.1
involvedObject:
  kind: Pod
  name: pod-a
reason: Scheduled
message: assigned somewhere
type: Normal
count: 1
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs-a
spec:
  replicas: 1
  selector:
    matchLabels: {app: a}
  template:
    metadata:
      labels: {app: a}
    spec:
      containers:
      - name: c
        image: busybox:latest
"""


def test_table_columns_for_pods_events_nodes_replicasets(kubectl, ns, tmp_path, server):
    f = tmp_path / "objs.yaml"
    f.write_text(POD_NODE_EVENT)
    kubectl("apply", "-n", ns, "-f", str(f))
    pods = kubectl("get", "pods", "-n", ns, "-o", "wide").splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                               "NOMINATED", "NODE", "READINESS", "GATES"]
    assert pods[1].split()[:4] == ["pod-a", "0/1", "Pending", "0"]
    events = kubectl("get", "events", "-n", ns).splitlines()
    assert events[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert events[1].split()[1:5] == ["Normal", "Scheduled", "pod/pod-a", "assigned"]
    rs = kubectl("get", "rs", "-n", ns).splitlines()
    assert rs[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rs[1].split()[:4] == ["rs-a", "1", "0", "0"]
    node = f"node-{ns}"
    with server.client() as c:
        r = c.post("/api/v1/nodes", json={"metadata": {"name": node}, "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0"}}})
        assert r.status_code == 201, r.text
    try:
        nodes = kubectl("get", "nodes", node).splitlines()
        assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        assert nodes[1].split()[:3] == [node, "Ready", "<none>"] and nodes[1].split()[-1] == "v1.33.0"
    finally:
        kubectl("delete", "node", node)


def test_explain_from_served_openapi(kubectl):
    out = kubectl("explain", "deployment.spec.strategy.rollingUpdate")
    assert "KIND:" in out and "Deployment" in out
    assert "maxSurge" in out and "maxUnavailable" in out
    assert "The maximum number of pods that can be scheduled above the desired" in out
    rec = kubectl("explain", "deployment.spec.strategy", "--recursive")
    assert "rollingUpdate" in rec and "maxSurge" in rec and "type" in rec
    assert kubectl.run("explain", "deployment.spec.nosuchfield", check=False).returncode != 0
