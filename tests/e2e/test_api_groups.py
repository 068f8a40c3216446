"""The storage, scheduling, node, networking, certificates and flow-control groups as
users reach them: real kubectl (1.27 and 1.33) and the Python client create, read, list,
watch, patch and delete them, see upstream's printer columns and defaults, the system
priority classes and flow-control configuration made at start, Priority and RuntimeClass
admission on pods, and `kubectl certificate approve/deny` on CSRs."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from conformance.watching import Watch
from tests.conftest import Kubectl
from tests.helpers import raw

pytestmark = pytest.mark.kubectl

OBJECTS = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast-{v}
  annotations: {{storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: example.com/fast
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {{name: csi-{v}.example.com}}
spec: {{}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: pv-{v}}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: fast-{v}
  hostPath: {{path: /tmp/pv}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: nginx-{v}}}
spec: {{controller: example.com/ingress}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-{v}, namespace: default}}
spec: {{podSelector: {{matchLabels: {{app: web}}}}}}
"""


def _header(out: str) -> list[str]:
    return out.splitlines()[0].split()


def test_kinds_print_upstream_columns_and_defaults(kubectl: Kubectl, api_client: Any) -> None:
    v = kubectl.version.replace(".", "")
    kubectl("apply", "-f", "-", input=OBJECTS.format(v=v))
    try:
        out = kubectl("get", "sc", f"fast-{v}")
        assert _header(out) == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                "ALLOWVOLUMEEXPANSION", "AGE"]
        assert out.splitlines()[1].split()[:6] == [f"fast-{v}", "(default)", "example.com/fast",
                                                   "Delete", "Immediate", "false"]
        out = kubectl("get", "csidriver", f"csi-{v}.example.com")
        assert _header(out) == ["NAME", "ATTACHREQUIRED", "PODINFOONMOUNT", "STORAGECAPACITY",
                                "TOKENREQUESTS", "REQUIRESREPUBLISH", "MODES", "AGE"]
        assert out.splitlines()[1].split()[1:7] == ["true", "false", "false", "<unset>",
                                                    "false", "Persistent"]
        out = kubectl("get", "pv", f"pv-{v}")
        assert _header(out)[:6] == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY"]
        assert out.splitlines()[1].split()[:5] == [f"pv-{v}", "1Gi", "RWO", "Retain", "Pending"]
        pv = raw(client.CoreV1Api(api_client).read_persistent_volume, f"pv-{v}")
        assert pv["status"]["lastPhaseTransitionTime"] == pv["metadata"]["creationTimestamp"]
        assert _header(kubectl("get", "ingressclass", f"nginx-{v}")) == [
            "NAME", "CONTROLLER", "PARAMETERS", "AGE"]
        out = kubectl("get", "netpol", f"deny-{v}", "-n", "default")
        assert _header(out) == ["NAME", "POD-SELECTOR", "AGE"]
        assert out.splitlines()[1].split()[1] == "app=web"
        np = raw(client.NetworkingV1Api(api_client).read_namespaced_network_policy,
                 f"deny-{v}", "default")
        assert np["spec"]["policyTypes"] == ["Ingress"]
    finally:
        kubectl("delete", "-f", "-", input=OBJECTS.format(v=v))


def test_the_objects_made_at_start_exist(kubectl: Kubectl) -> None:
    """The system priority classes, the flow-control configuration, the ServiceCIDR."""
    out = kubectl("get", "priorityclasses")
    assert _header(out) == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["system-node-critical"][1:3] == ["2000001000", "false"]
    assert rows["system-cluster-critical"][1:3] == ["2000000000", "false"]
    out = kubectl("get", "flowschemas")
    assert _header(out) == ["NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE",
                            "DISTINGUISHERMETHOD", "AGE", "MISSINGPL"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["exempt"][1:4] == ["exempt", "1", "*"]
    assert rows["catch-all"][1:4] == ["catch-all", "10000", "ByUser"]
    assert rows["catch-all"][-1] == "False"
    out = kubectl("get", "prioritylevelconfigurations")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["workload-low"][1:6] == ["Limited", "100", "128", "6", "50"]
    assert rows["exempt"][1] == "Exempt"
    out = kubectl("get", "servicecidrs")
    assert _header(out) == ["NAME", "CIDRS", "AGE"]
    assert out.splitlines()[1].split()[:2] == ["kubernetes", "10.96.0.0/12"]
    # the system classes are reserved: no other system- name, no change of value
    err = kubectl.run("create", "priorityclass", "system-mine", "--value=5", check=False)
    assert "priority class names with 'system-' prefix are reserved for system use only" \
        in err.stderr


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def test_priority_admission_resolves_classes(server: Any, ns: str) -> None:
    with server.client() as c:
        r = c.post("/apis/scheduling.k8s.io/v1/priorityclasses", json={
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "tier-default"}, "value": 500, "globalDefault": True,
            "preemptionPolicy": "Never"})
        assert r.status_code == 201, r.text
        try:
            r = c.post("/apis/scheduling.k8s.io/v1/priorityclasses", json={
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "tier-other"}, "value": 5, "globalDefault": True})
            assert r.status_code == 403
            assert r.json()["message"] == (
                'priorityclasses.scheduling.k8s.io "tier-other" is forbidden: PriorityClass '
                "tier-default is already marked as default. Only one default can exist")
            pods = f"/api/v1/namespaces/{ns}/pods"
            spec = c.post(pods, json=_pod("plain")).json()["spec"]
            assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == (
                "tier-default", 500, "Never")
            spec = c.post(pods, json=_pod("critical", priorityClassName="system-node-critical")
                          ).json()["spec"]
            assert (spec["priority"], spec["preemptionPolicy"]) == (2000001000,
                                                                    "PreemptLowerPriority")
            r = c.post(pods, json=_pod("lost", priorityClassName="nope"))
            assert r.status_code == 403
            assert r.json()["message"] == ('pods "lost" is forbidden: no PriorityClass with name '
                                           "nope was found")
            r = c.post(pods, json=_pod("liar", priorityClassName="tier-default", priority=7))
            assert r.status_code == 403
            assert "the integer value of priority (7) must not be provided in pod spec; " \
                "priority admission controller computed 500 from the given PriorityClass name" \
                in r.json()["message"]
        finally:
            c.delete("/apis/scheduling.k8s.io/v1/priorityclasses/tier-default")
        spec = c.post(f"/api/v1/namespaces/{ns}/pods", json=_pod("after")).json()["spec"]
        assert "priorityClassName" not in spec and spec["priority"] == 0


def test_runtime_class_admission_sets_overhead(api_client: Any, ns: str) -> None:
    node = client.NodeV1Api(api_client)
    core = client.CoreV1Api(api_client)
    node.create_runtime_class(client.V1RuntimeClass(
        metadata=client.V1ObjectMeta(name=f"gvisor-{ns}"), handler="runsc",
        overhead=client.V1Overhead(pod_fixed={"cpu": "250m", "memory": "64Mi"}),
        scheduling=client.V1Scheduling(node_selector={"sandbox": "yes"})))
    try:
        pod = client.V1Pod(metadata=client.V1ObjectMeta(name="sandboxed"), spec=client.V1PodSpec(
            runtime_class_name=f"gvisor-{ns}",
            containers=[client.V1Container(name="c", image="busybox")]))
        got = core.create_namespaced_pod(ns, pod)
        assert got.spec.overhead == {"cpu": "250m", "memory": "64Mi"}
        assert got.spec.node_selector == {"sandbox": "yes"}
        pod.metadata.name, pod.spec.runtime_class_name = "unknown", "kata"
        with pytest.raises(client.ApiException) as e:
            core.create_namespaced_pod(ns, pod)
        assert e.value.status == 403
        assert json.loads(e.value.body)["message"] == \
            'pods "unknown" is forbidden: pod rejected: RuntimeClass "kata" not found'
    finally:
        node.delete_runtime_class(f"gvisor-{ns}")


def _csr_pem(tmp: Path, cn: str) -> bytes:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    subprocess.run([openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(tmp / "k.pem"), "-subj", f"/CN={cn}", "-out", str(tmp / "r.csr")],
                   check=True, capture_output=True, timeout=60)
    return (tmp / "r.csr").read_bytes()


def test_kubectl_approves_and_denies_csrs(kubectl: Kubectl, api_client: Any,
                                          tmp_path: Path) -> None:
    certs = client.CertificatesV1Api(api_client)
    request = base64.b64encode(_csr_pem(tmp_path, "alice")).decode()
    names = [f"alice-{kubectl.version}-{n}" for n in ("a", "b")]
    w = Watch(api_client, certs.list_certificate_signing_request,
              "V1CertificateSigningRequest", field_selector=f"metadata.name={names[0]}")
    try:
        for name in names:
            certs.create_certificate_signing_request(client.V1CertificateSigningRequest(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1CertificateSigningRequestSpec(
                    request=request, signer_name="example.com/signer", usages=["client auth"],
                    expiration_seconds=3600)))
        out = kubectl("get", "csr", names[0])
        assert _header(out) == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION",
                                "CONDITION"]
        assert out.splitlines()[1].split()[2:] == ["example.com/signer", "kubernetes-admin", "60m",
                                                   "Pending"]
        assert "approved" in kubectl("certificate", "approve", names[0])
        assert "denied" in kubectl("certificate", "deny", names[1])
        w.expect("ADDED")
        _, approved = w.expect("MODIFIED")
        assert [c.type for c in approved.status.conditions] == ["Approved"]
        assert approved.status.conditions[0].reason == "KubectlApprove"
        assert approved.status.conditions[0].last_transition_time is not None  # stamped
        rows = {line.split()[0]: line.split()[-1]
                for line in kubectl("get", "csr").splitlines()[1:]}
        assert (rows[names[0]], rows[names[1]]) == ("Approved", "Denied")
        # the spec is fixed once made: an update keeps the request and the requestor
        got = certs.patch_certificate_signing_request(names[0], {"spec": {"username": "eve"}})
        assert got.spec.username == "kubernetes-admin"
    finally:
        w.stop()
        for name in names:
            certs.delete_certificate_signing_request(name)


def test_bad_input_gets_upstream_messages(kubectl: Kubectl, api_client: Any) -> None:
    bad = kubectl.run("apply", "-f", "-", check=False, input=(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: nothing}\n"
        "provisioner: ''\n"))
    assert bad.stderr.strip() == 'The StorageClass "nothing" is invalid: provisioner: Required value'
    sched = client.SchedulingV1Api(api_client)
    name = f"frozen-{kubectl.version.replace('.', '')}"
    sched.create_priority_class(client.V1PriorityClass(
        metadata=client.V1ObjectMeta(name=name), value=10))
    try:
        bad = kubectl.run("patch", "pc", name, "--type=merge", "-p", '{"value": 11}',
                          check=False)
        assert f'The PriorityClass "{name}" is invalid: value: Forbidden: may not be changed ' \
            "in an update." in bad.stderr
        assert sched.read_priority_class(name).value == 10
    finally:
        sched.delete_priority_class(name)


def test_kubectl_create_generators(kubectl: Kubectl, api_client: Any, ns: str) -> None:
    """kubectl's typed generators (protobuf bodies from kubectl 1.32 on)."""
    name = f"gold-{kubectl.version.replace('.', '')}"
    assert "created" in kubectl("create", "priorityclass", name, "--value=1000",
                                "--description=gold tier", "--preemption-policy=Never")
    try:
        pc = client.SchedulingV1Api(api_client).read_priority_class(name)
        assert (pc.value, pc.description, pc.preemption_policy) == (1000, "gold tier", "Never")
    finally:
        kubectl("delete", "priorityclass", name)
    assert "created" in kubectl("create", "ingress", "web", "-n", ns, "--class=nginx",
                                "--rule=foo.com/bar*=svc:8080,tls=my-cert")
    ing = client.NetworkingV1Api(api_client).read_namespaced_ingress("web", ns)
    (rule,) = ing.spec.rules
    (path,) = rule.http.paths
    assert (ing.spec.ingress_class_name, rule.host, path.path, path.path_type) == (
        "nginx", "foo.com", "/bar", "Prefix")
    assert ing.spec.tls[0].secret_name == "my-cert"
    row = kubectl("get", "ingress", "web", "-n", ns).splitlines()[1].split()
    assert row[:3] == ["web", "nginx", "foo.com"] and row[-2:-1] == ["443"]
