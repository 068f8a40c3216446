"""Server-side apply and managedFields through real clients: `kubectl apply --server-side`
(conflicts, --force-conflicts, the upgrade from client-side apply), managers of ordinary
writes (kubectl-create, kubectl-client-side-apply, kubectl-edit, kubectl-label, the user
agent), `kubectl get --show-managed-fields`, and the official Python client's
application/apply-patch+yaml, field validation and 422 bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers import edit_with

DEPLOY = """\
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
        image: busybox:1.36
        ports: [{containerPort: 80}]
"""


def managers(kubectl, ns: str, kind: str = "deploy", name: str = "web") -> dict[str, dict]:
    out = yaml.safe_load(kubectl("get", kind, name, "-n", ns, "-o", "yaml",
                                 "--show-managed-fields"))
    return {(m["manager"]): m for m in out["metadata"].get("managedFields", [])}


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "m.yaml"
    f.write_text(text)
    return str(f)


@pytest.mark.kubectl
def test_server_side_apply_conflicts_and_force(kubectl, ns, tmp_path):
    f = write(tmp_path, DEPLOY)
    assert "serverside-applied" in kubectl("apply", "--server-side", "-n", ns, "-f", f)
    mf = managers(kubectl, ns)
    assert mf["kubectl"]["operation"] == "Apply"
    assert "f:replicas" in mf["kubectl"]["fieldsV1"]["f:spec"]
    kubectl("patch", "deploy", "web", "-n", ns, "--field-manager=my-patcher",
            "-p", '{"spec":{"replicas":5}}')
    f = write(tmp_path, DEPLOY.replace("replicas: 2", "replicas: 3"))
    p = kubectl.run("apply", "--server-side", "-n", ns, "-f", f, check=False)
    assert p.returncode != 0
    assert ('Apply failed with 1 conflict: conflict with "my-patcher" using apps/v1: '
            '.spec.replicas') in p.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-n", ns, "-f", f)
    assert kubectl("get", "deploy", "web", "-n", ns, "-o",
                   "jsonpath={.spec.replicas}") == "3"
    assert "my-patcher" not in managers(kubectl, ns)  # it owned nothing else
    # dropping a field from the configuration removes it (nobody else owns it)
    f = write(tmp_path, DEPLOY.replace("labels: {app: web}}", "}", 1))
    kubectl("apply", "--server-side", "-n", ns, "-f", f)
    assert kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.metadata.labels}") == ""


@pytest.mark.kubectl
def test_upgrade_from_client_side_apply(kubectl, ns, tmp_path):
    f = write(tmp_path, DEPLOY)
    kubectl("apply", "-n", ns, "-f", f)
    assert managers(kubectl, ns)["kubectl-client-side-apply"]["operation"] == "Update"
    f = write(tmp_path, DEPLOY.replace("replicas: 2", "replicas: 4"))
    assert "serverside-applied" in kubectl("apply", "--server-side", "-n", ns, "-f", f)
    assert kubectl("get", "deploy", "web", "-n", ns, "-o",
                   "jsonpath={.spec.replicas}") == "4"
    mf = managers(kubectl, ns)
    assert mf["kubectl"]["operation"] == "Apply"
    # and back: a client-side apply still works on the upgraded object
    f = write(tmp_path, DEPLOY.replace("replicas: 2", "replicas: 1"))
    assert "configured" in kubectl("apply", "-n", ns, "-f", f)


@pytest.mark.kubectl
def test_managers_of_ordinary_writes(kubectl, ns, tmp_path):
    kubectl("create", "deployment", "web", "-n", ns, "--image=busybox:1.36")
    mf = managers(kubectl, ns)
    assert mf["kubectl-create"]["operation"] == "Update"
    assert mf["kubectl-create"]["apiVersion"] == "apps/v1"
    spec = mf["kubectl-create"]["fieldsV1"]["f:spec"]
    assert set(spec) >= {"f:replicas", "f:selector", "f:strategy", "f:template"}
    assert 'k:{"name":"busybox"}' in spec["f:template"]["f:spec"]["f:containers"]
    kubectl("label", "deploy", "web", "-n", ns, "team=a")
    assert managers(kubectl, ns)["kubectl-label"]["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:team": {}}}}
    edit_with(kubectl, tmp_path, "team: a", "team: b", "deploy", "web", "-n", ns)
    mf = managers(kubectl, ns)
    assert "kubectl-label" not in mf  # its only field moved to the editor
    assert mf["kubectl-edit"]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    plain = kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml")
    assert "managedFields" not in plain  # shown only with --show-managed-fields


def _apps(api_client):
    return client.AppsV1Api(api_client)


def _body(replicas: int, image: str = "busybox:1.36") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pa"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "pa"}},
                     "template": {"metadata": {"labels": {"app": "pa"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def test_python_client_apply_patch(api_client, ns):
    apps = _apps(api_client)
    out = apps.patch_namespaced_deployment(
        "pa", ns, _body(2), field_manager="ctl-a", _content_type="application/apply-patch+yaml")
    assert out.spec.replicas == 2 and out.spec.template.spec.containers[0].image_pull_policy
    (entry,) = out.metadata.managed_fields
    assert (entry.manager, entry.operation, entry.fields_type) == ("ctl-a", "Apply", "FieldsV1")
    with pytest.raises(ApiException) as e:
        apps.patch_namespaced_deployment("pa", ns, _body(3), field_manager="ctl-b",
                                         _content_type="application/apply-patch+yaml")
    assert e.value.status == 409
    status = json.loads(e.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "ctl-a": '
                                 '.spec.replicas')
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": 'conflict with "ctl-a"',
                                            "field": ".spec.replicas"}]
    out = apps.patch_namespaced_deployment("pa", ns, _body(3), field_manager="ctl-b",
                                           force=True,
                                           _content_type="application/apply-patch+yaml")
    assert out.spec.replicas == 3
    with pytest.raises(ApiException) as e:  # an apply must name its manager
        apps.patch_namespaced_deployment("pa", ns, _body(3),
                                         _content_type="application/apply-patch+yaml")
    assert e.value.status == 422 and "fieldManager: Required value" in e.value.body


def test_python_client_apply_unknown_field_and_manager_from_user_agent(api_client, ns):
    apps = _apps(api_client)
    bad = _body(1)
    bad["metadata"]["name"] = "pb"
    bad["spec"]["replicaz"] = 1
    with pytest.raises(ApiException) as e:
        apps.patch_namespaced_deployment("pb", ns, bad, field_manager="x",
                                         _content_type="application/apply-patch+yaml")
    assert e.value.status == 500
    assert ".spec.replicaz: field not declared in schema" in e.value.body
    core = client.CoreV1Api(api_client)
    cm = core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="ua"), data={"k": "v"}))
    assert cm.metadata.managed_fields[0].manager == "OpenAPI-Generator"


def test_python_client_sees_422_causes(api_client, ns):
    apps = _apps(api_client)
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment(ns, _body(-1, image=""))
    assert e.value.status == 422
    status = json.loads(e.value.body)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'Deployment.apps "pa" is invalid: [spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0, spec.template.spec.containers[0].image: Required value]")
    assert [(c["field"], c["reason"]) for c in status["details"]["causes"]] == [
        ("spec.replicas", "FieldValueInvalid"),
        ("spec.template.spec.containers[0].image", "FieldValueRequired")]


def test_field_validation_directives_over_http(server, ns):
    """The Python client refuses unknown fields itself, so the raw body goes over HTTP."""
    url = f"/apis/apps/v1/namespaces/{ns}/deployments"
    raw = json.dumps(_body(1)).replace('"replicas": 1', '"replicas": 1, "replicaz": 2, '
                                                        '"paused": true, "paused": false')
    headers = {"content-type": "application/json"}
    with server.client() as c:
        r = c.post(url, params={"fieldValidation": "Strict"}, content=raw, headers=headers)
        assert r.status_code == 400 and r.json()["message"] == (
            'Deployment in version "v1" cannot be handled as a Deployment: strict decoding '
            'error: unknown field "spec.replicaz", duplicate field "spec.paused"')
        r = c.post(url, content=raw, headers=headers)  # Warn is the default
        assert r.status_code == 201
        assert r.headers["warning"] == ('299 - "unknown field \\"spec.replicaz\\"", '
                                        '299 - "duplicate field \\"spec.paused\\""')
        assert "replicaz" not in r.json()["spec"] and r.json()["spec"]["paused"] is False
        r = c.put(url + "/pa", params={"fieldValidation": "Ignore"}, content=raw,
                  headers=headers)
        assert r.status_code == 200 and "warning" not in r.headers
