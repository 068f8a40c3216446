"""The audit log of a real server driven by real kubectl: one audit.k8s.io/v1 Event line
per request and stage at the level the Policy gives it (None writes nothing, Metadata
no bodies, Request the request body, RequestResponse both), and nothing at all when
--audit-log-path is not given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.conftest import Kubectl, Server, kubectls, start_server, stop_server
from tests.helpers import wait_for

POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
          "omitStages": ["RequestReceived"],
          "rules": [
              {"level": "None", "nonResourceURLs": ["/api*", "/apis*", "/openapi*",
                                                    "/version"]},
              {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
              {"level": "RequestResponse", "resources": [
                  {"group": "", "resources": ["configmaps"]}]},
              {"level": "Request", "verbs": ["create"], "namespaces": ["default"]},
              {"level": "Metadata"}]}


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    log = tmp_path / "audit.log"
    s = start_server(tmp_path / "kapi", extra=("--audit-log-path", str(log),
                                               "--audit-policy-file", str(policy)))
    yield s, log
    stop_server(s.proc)


@pytest.fixture
def kubectl_for() -> Any:
    found = kubectls()
    if not found:
        pytest.skip("no kubectl installed")
    version, binary = next(iter(found.items()))
    return lambda server: Kubectl(version, binary, server.kubeconfig)


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def test_one_event_per_request_at_the_policys_level(audited, kubectl_for):
    server, log = audited
    kubectl = kubectl_for(server)
    start = len(events(log))
    kubectl("create", "configmap", "settings", "--from-literal=color=blue")
    kubectl("create", "secret", "generic", "token", "--from-literal=k=v")
    kubectl("get", "pods", "-A")
    mine = wait_for(lambda: [e for e in events(log)[start:]
                             if e["userAgent"].startswith("kubectl")], "audit lines", 10)
    assert {e["stage"] for e in mine} == {"ResponseComplete"}  # RequestReceived omitted
    assert [(e["verb"], e["objectRef"]["resource"], e["level"]) for e in mine] == [
        ("create", "configmaps", "RequestResponse"), ("create", "secrets", "Request"),
        ("list", "pods", "Metadata")]
    cm, secret, pods = mine
    assert cm["apiVersion"] == "audit.k8s.io/v1" and cm["kind"] == "Event"
    assert cm["requestURI"].startswith("/api/v1/namespaces/default/configmaps")
    assert cm["objectRef"] == {"resource": "configmaps", "namespace": "default",
                               "name": "settings", "apiVersion": "v1"}
    assert cm["responseStatus"]["code"] == 201
    assert cm["requestObject"]["data"] == {"color": "blue"}
    assert cm["responseObject"]["metadata"]["name"] == "settings"
    assert cm["user"]["username"] and cm["sourceIPs"] == ["127.0.0.1"]
    assert cm["requestReceivedTimestamp"] <= cm["stageTimestamp"]
    assert len({cm["auditID"], secret["auditID"], pods["auditID"]}) == 3
    assert "requestObject" in secret and "responseObject" not in secret
    assert "requestObject" not in pods and "responseObject" not in pods
    assert pods["requestURI"].startswith("/api/v1/pods")


def test_a_refused_request_records_its_status(audited, kubectl_for):
    server, log = audited
    kubectl_for(server).run("get", "configmap", "missing", check=False)
    line = wait_for(lambda: [e for e in events(log)
                             if e.get("objectRef", {}).get("name") == "missing"],
                    "the 404's line", 10)[-1]
    assert line["responseStatus"] == {
        "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
        "message": 'configmaps "missing" not found'}


def test_no_audit_log_unless_asked(server):
    assert not list(server.data_dir.glob("*audit*"))


def test_pod_security_audit_violations_are_annotated(audited, kubectl_for):
    server, log = audited
    kubectl = kubectl_for(server)
    kubectl("create", "namespace", "audited")
    kubectl("label", "namespace", "audited", "pod-security.kubernetes.io/audit=restricted")
    kubectl("run", "web", "--image=busybox", "-n", "audited")
    line = wait_for(lambda: [e for e in events(log) if e.get("objectRef", {}).get("name") ==
                             "web" and e["verb"] == "create"], "the pod's line", 10)[-1]
    assert line["annotations"]["pod-security.kubernetes.io/enforce-policy"] == \
        "privileged:latest"
    assert line["annotations"]["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "web" must set securityContext.allowPrivilegeEscalation=false)')


def test_a_refused_websocket_exec_is_audited(audited):
    """A WebSocket exec refused once its caller is known gets its line, as a plain
    request does (an accepted one writes ResponseStarted and ResponseComplete with 101:
    tests/e2e/test_docker_streams.py)."""
    import ssl

    import websocket

    server, log = audited
    url = server.url.replace("http", "ws", 1) + \
        "/api/v1/namespaces/default/pods/nowhere/exec?command=true&stdout=1"
    pki = server.data_dir / "pki"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(url, timeout=10, subprotocols=["v5.channel.k8s.io"],
                                    sslopt={"ca_certs": str(server.ca), "cert_reqs": ssl.CERT_REQUIRED,
                                            "certfile": str(pki / "admin.crt"),
                                            "keyfile": str(pki / "admin.key")})
    assert e.value.status_code == 404
    line = wait_for(lambda: [x for x in events(log)
                             if x.get("objectRef", {}).get("name") == "nowhere"],
                    "the exec's line", 10)[-1]
    assert (line["verb"], line["stage"], line["level"]) == ("get", "ResponseComplete", "Metadata")
    assert line["objectRef"] == {"resource": "pods", "namespace": "default", "name": "nowhere",
                                 "apiVersion": "v1", "subresource": "exec"}
    assert line["responseStatus"]["code"] == 404
    assert line["user"]["username"] == "kubernetes-admin"


def test_a_policys_audit_action_and_audit_annotations_reach_the_log(audited, kubectl_for,
                                                                    tmp_path):
    """validationActions Audit: the write is allowed and its Event carries
    validation.policy.admission.k8s.io/validation_failure; the policy's
    auditAnnotations become `<policy>/<key>` (null values left out)."""
    server, log = audited
    kubectl = kubectl_for(server)
    group = "admissionregistration.k8s.io"
    with server.client() as c:
        r = c.post(f"/apis/{group}/v1/validatingadmissionpolicies", json={
            "apiVersion": f"{group}/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "keys-audit"}, "spec": {
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                    "resources": ["configmaps"]}]},
                "validations": [{"expression": "'color' in object.data"},
                                {"expression": "size(object.data) <= 1",
                                 "messageExpression": "'too many keys: ' + "
                                                      "string(size(object.data))"}],
                "auditAnnotations": [
                    {"key": "keys", "valueExpression": "string(size(object.data))"},
                    {"key": "never", "valueExpression": "null"}]}})
        assert r.status_code == 201, r.text
        r = c.post(f"/apis/{group}/v1/validatingadmissionpolicybindings", json={
            "apiVersion": f"{group}/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "keys-audit-binding"},
            "spec": {"policyName": "keys-audit", "validationActions": ["Audit"]}})
        assert r.status_code == 201, r.text
    names = iter(range(1000))

    def audited_line() -> Any:
        name = f"audited-{next(names)}"
        kubectl("create", "configmap", name, "--from-literal=color=red",
                "--from-literal=shape=round")  # allowed: Audit does not deny
        lines = [e for e in events(log) if e.get("objectRef", {}).get("name") == name
                 and e["verb"] == "create" and e.get("annotations")]
        return lines[-1]["annotations"] if lines else None
    annotations = wait_for(audited_line, "the policy's annotations", 15)
    assert json.loads(annotations["validation.policy.admission.k8s.io/validation_failure"]) \
        == [{"message": "too many keys: 2", "policy": "keys-audit",
             "binding": "keys-audit-binding", "expressionIndex": 1,
             "validationActions": ["Audit"]}]
    assert annotations["keys-audit/keys"] == "2"
    assert "keys-audit/never" not in annotations
