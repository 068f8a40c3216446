"""Field validation, semantic validation and defaulting as real kubectl (1.27, 1.33) sees
them: typos refused under the default Strict, warned under Warn, dropped under Ignore;
every bad field listed in one 422; `kubectl diff` empty right after `kubectl apply`;
client-side apply of an edited manifest changing exactly what it should."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.kubectl

TYPO = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replicaz: 2
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
      - name: web
        image: busybox:1.36
"""

BAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: Bad_Name
spec:
  replicas: -1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: other}
    spec:
      containers:
      - name: web
        ports:
        - containerPort: 99999
"""

MANIFESTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {pw: hunter2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {port: 8080}
        env:
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
        resources:
          limits: {cpu: 500m, memory: 128Mi}
      volumes:
      - name: cfg
        configMap: {name: cfg}
      - name: scratch
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: web-headless
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: busybox}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox:1.36}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: j, image: busybox, command: ["true"]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: j, image: busybox, command: ["true"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  containers:
  - name: c
    image: busybox
    resources:
      limits: {cpu: "1"}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def test_typo_is_refused_warned_or_dropped(kubectl, ns, tmp_path):
    f = write(tmp_path, "typo.yaml", TYPO)
    p = kubectl.run("apply", "-n", ns, "-f", f, check=False)
    assert p.returncode != 0
    assert ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding '
            'error: unknown field "spec.replicaz"') in p.stderr
    assert kubectl.run("get", "deploy", "typo", "-n", ns, check=False).returncode != 0
    p = kubectl.run("apply", "-n", ns, "-f", f, "--validate=warn")
    assert 'Warning: unknown field "spec.replicaz"' in p.stderr
    obj = json.loads(kubectl("get", "deploy", "typo", "-n", ns, "-o", "json"))
    assert "replicaz" not in obj["spec"] and obj["spec"]["replicas"] == 1
    kubectl("delete", "deploy", "typo", "-n", ns)
    p = kubectl.run("create", "-n", ns, "-f", f, "--validate=false")
    assert p.returncode == 0 and "Warning" not in p.stderr


def test_every_invalid_field_is_listed(kubectl, ns, tmp_path):
    p = kubectl.run("apply", "-n", ns, "-f", write(tmp_path, "bad.yaml", BAD), check=False)
    assert p.returncode != 0
    err = p.stderr
    assert 'The Deployment "Bad_Name" is invalid:' in err
    for line in (
            '* metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
            "* spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            '* spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
            "`selector` does not match template `labels`",
            "* spec.template.spec.containers[0].image: Required value",
            "* spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 99999: "
            "must be between 1 and 65535, inclusive"):
        assert line in err, err
    p = kubectl.run("apply", "-n", ns, "-f", write(tmp_path, "t.yaml", BAD.replace(
        "replicas: -1", 'replicas: "3"')), check=False)
    assert ('cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of '
            'type int32') in p.stderr


def test_immutable_selector_and_pod_spec(kubectl, ns, tmp_path):
    dep = TYPO.replace("replicaz", "replicas").replace("typo", "imm")
    kubectl("apply", "-n", ns, "-f", write(tmp_path, "d.yaml", dep))
    p = kubectl.run("apply", "-n", ns, "-f", write(tmp_path, "d2.yaml", dep.replace(
        "app: imm", "app: imm2")), check=False)
    assert ('spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string'
            '{"app":"imm2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
            'field is immutable') in p.stderr
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\nspec:\n  containers:\n" \
          "  - {name: c, image: busybox}\n"
    kubectl("apply", "-n", ns, "-f", write(tmp_path, "p.yaml", pod))
    p = kubectl.run("apply", "-n", ns, "-f", write(tmp_path, "p2.yaml", pod.replace(
        "image: busybox}", "image: busybox, command: [sh]}")), check=False)
    assert "spec: Forbidden: pod updates may not change fields other than" in p.stderr
    kubectl("apply", "-n", ns, "-f", write(tmp_path, "p3.yaml", pod.replace(
        "image: busybox}", "image: 'busybox:2'}")))


def test_diff_is_empty_after_apply(kubectl, ns, tmp_path):
    f = write(tmp_path, "all.yaml", MANIFESTS)
    kubectl("apply", "-n", ns, "-f", f)
    p = kubectl.run("diff", "-n", ns, "-f", f, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    pod = json.loads(kubectl("get", "pod", "solo", "-n", ns, "-o", "json"))["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"],
            pod["terminationGracePeriodSeconds"], pod["serviceAccountName"],
            pod["enableServiceLinks"]) == ("Always", "ClusterFirst", "default-scheduler", 30,
                                           "default", True)
    c = pod["containers"][0]
    assert (c["imagePullPolicy"], c["terminationMessagePath"], c["terminationMessagePolicy"],
            c["resources"]["requests"]) == ("Always", "/dev/termination-log", "File",
                                            {"cpu": "1"})
    assert {t["key"] for t in pod["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                      "node.kubernetes.io/unreachable"}
    dep = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))["spec"]
    assert dep["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert (dep["revisionHistoryLimit"], dep["progressDeadlineSeconds"]) == (10, 600)
    svc = json.loads(kubectl("get", "svc", "web", "-n", ns, "-o", "json"))["spec"]
    assert (svc["type"], svc["sessionAffinity"], svc["ipFamilies"]) == (
        "ClusterIP", "None", ["IPv4"])


def test_client_side_apply_of_an_edited_manifest(kubectl, ns, tmp_path):
    first = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: ed, labels: {app: ed, tier: web}}
        spec:
          selector: {matchLabels: {app: ed}}
          template:
            metadata: {labels: {app: ed}}
            spec:
              containers:
              - {name: main, image: "busybox:1", env: [{name: A, value: "1"}]}
              - {name: side, image: "busybox:1"}
        """)
    f = write(tmp_path, "ed.yaml", first)
    kubectl("apply", "-n", ns, "-f", f)
    kubectl("label", "deploy", "ed", "-n", ns, "extra=kept")  # not in the manifest
    edited = first.replace("tier: web", "tier: api").replace(
        '{name: A, value: "1"}', '{name: B, value: "2"}').replace(
        '      - {name: side, image: "busybox:1"}\n', "")
    write(tmp_path, "ed.yaml", edited)
    assert "configured" in kubectl("apply", "-n", ns, "-f", f)
    obj = json.loads(kubectl("get", "deploy", "ed", "-n", ns, "-o", "json"))
    assert obj["metadata"]["labels"] == {"app": "ed", "tier": "api", "extra": "kept"}
    (main,) = obj["spec"]["template"]["spec"]["containers"]
    assert main["name"] == "main" and main["env"] == [{"name": "B", "value": "2"}]
    assert main["imagePullPolicy"] == "IfNotPresent"  # server defaults survive
    assert obj["metadata"]["generation"] == 2


def test_diff_is_empty_after_server_side_apply(kubectl, ns, tmp_path):
    f = write(tmp_path, "all.yaml", MANIFESTS.replace(  # an atomic fieldRef is defaulted:
        "        env:\n        - name: POD\n          valueFrom: {fieldRef: {fieldPath: "
        "metadata.name}}\n", ""))                      # re-applying it would conflict
    kubectl("apply", "--server-side", "-n", ns, "-f", f)
    p = kubectl.run("diff", "--server-side", "-n", ns, "-f", f, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    job = json.loads(kubectl("get", "job", "once", "-n", ns, "-o", "json"))
    assert job["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "once"
    assert set(job["spec"]["selector"]["matchLabels"]) == {"batch.kubernetes.io/controller-uid"}


def test_service_cluster_ip_and_job_selector_are_immutable(server, ns):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "c", "image": "busybox"}]}}}}
    with server.client() as c:
        created = c.post(f"/api/v1/namespaces/{ns}/services", json=svc).json()
        ip = created["spec"]["clusterIP"]
        other = ip.rsplit(".", 1)[0] + (".9" if not ip.endswith(".9") else ".8")
        r = c.patch(f"/api/v1/namespaces/{ns}/services/s", json={"spec": {"clusterIP": other}},
                    headers={"content-type": "application/merge-patch+json"})
        assert r.status_code == 422
        assert r.json()["details"]["causes"][0]["message"] == \
            f'Invalid value: []string{{"{other}"}}: may not change once set'
        assert c.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json=job).status_code == 201
        r = c.patch(f"/apis/batch/v1/namespaces/{ns}/jobs/j",
                    json={"spec": {"selector": {"matchLabels": {"x": "y"}}}},
                    headers={"content-type": "application/merge-patch+json"})
        assert r.status_code == 422 and "spec.selector: Invalid value: v1.LabelSelector" in \
            r.json()["message"] and "field is immutable" in r.json()["message"]


def test_yaml_duplicates_are_named_by_line(server, ns):
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  name: y\ndata:\n  a: '1'\n"
    with server.client() as c:
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps", content=body,
                   params={"fieldValidation": "Strict"},
                   headers={"content-type": "application/yaml"})
        assert r.status_code == 400 and r.json()["message"] == (
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
            'error: yaml: unmarshal errors:\n  line 5: key "name" already set in map')
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps", content=body,
                   headers={"content-type": "application/yaml"})
        assert r.status_code == 201
        assert r.headers["warning"] == '299 - "line 5: key \\"name\\" already set in map"'
