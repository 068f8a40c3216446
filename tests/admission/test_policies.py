"""ValidatingAdmissionPolicy end to end: a policy and binding created over the API deny
writes with upstream's message, warn with Warn, read params by name and selector."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.conftest import Kubectl, Server
from tests.helpers import api_for, deployment, wait_for

GROUP = "admissionregistration.k8s.io"
BASE = f"/apis/{GROUP}/v1"


def post(server: Server, path: str, body: dict[str, Any]) -> Any:
    with server.client() as c:
        return c.post(path, json=body)


def policy(name: str, validations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name}, "spec": {
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": ["apps"], "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]},
                "validations": validations} | spec}


def binding(name: str, policy_name: str, ns: str, actions: list[str],
            **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name}, "spec": {
                "policyName": policy_name, "validationActions": actions,
                "matchResources": {"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": ns}}}} | spec}


def create_deploy(server: Server, ns: str, name: str, replicas: int) -> Any:
    return post(server, f"/apis/apps/v1/namespaces/{ns}/deployments",
                deployment(name, replicas))


def cleanup(server: Server, *paths: str) -> None:
    with server.client() as c:
        for p in paths:
            c.delete(p)


def test_policy_denies_with_its_message(server: Server, ns: str, kubectl: Kubectl) -> None:
    p, b = f"max-replicas-{ns}", f"max-replicas-{ns}-binding"
    r = post(server, f"{BASE}/validatingadmissionpolicies", policy(p, [{
        "expression": "object.spec.replicas <= 5",
        "messageExpression": "'replicas must be no greater than 5, got ' + "
                             "string(object.spec.replicas)"}]))
    assert r.status_code == 201, r.text
    assert post(server, f"{BASE}/validatingadmissionpolicybindings",
                binding(b, p, ns, ["Deny"])).status_code == 201
    try:
        names = iter(range(1000))
        r = wait_for(lambda: (lambda x: x if x.status_code == 422 else None)(
            create_deploy(server, ns, f"d{next(names)}", 10)), "the policy to deny", 10)
        message = (f"ValidatingAdmissionPolicy '{p}' with binding '{b}' denied request: "
                   "replicas must be no greater than 5, got 10")
        assert r.json()["reason"] == "Invalid"
        assert r.json()["message"] == f'deployments.apps "{r.json()["details"]["name"]}" ' \
                                      f"is forbidden: {message}"
        assert r.json()["details"]["causes"] == [{"message": message}]
        assert create_deploy(server, ns, "small", 2).status_code == 201
        out = kubectl.run("scale", "deployment/small", "--replicas=3", "-n", ns)
        assert out.returncode == 0
        p2 = kubectl.run("patch", "deployment/small", "-n", ns, "-p",
                         '{"spec":{"replicas":9}}', check=False)
        assert p2.returncode != 0 and message.replace("10", "9") in p2.stderr
    finally:
        cleanup(server, f"{BASE}/validatingadmissionpolicybindings/{b}",
                f"{BASE}/validatingadmissionpolicies/{p}")


def test_warn_action_and_params(server: Server, ns: str) -> None:
    p, b = f"limits-{ns}", f"limits-{ns}-binding"
    with api_for(server.kubeconfig) as api:
        client.CoreV1Api(api).create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="limits", labels={"role": "limits"}),
            data={"max": "3"}))
    r = post(server, f"{BASE}/validatingadmissionpolicies", policy(p, [{
        "expression": "object.spec.replicas <= int(params.data.max)",
        "message": "too many replicas"}],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
        variables=[{"name": "n", "expression": "object.spec.replicas"}]))
    assert r.status_code == 201, r.text
    assert post(server, f"{BASE}/validatingadmissionpolicybindings", binding(
        b, p, ns, ["Warn"], paramRef={"selector": {"matchLabels": {"role": "limits"}},
                                      "parameterNotFoundAction": "Deny"})).status_code == 201
    try:
        names = iter(range(1000))

        def warned() -> Any:
            x = create_deploy(server, ns, f"w{next(names)}", 4)
            return x if "warning" in x.headers else None
        r = wait_for(warned, "the policy's warning", 10)
        assert r.status_code == 201
        assert f"Validation failed for ValidatingAdmissionPolicy '{p}' with binding '{b}': " \
               "too many replicas" in r.headers["warning"]
        ok = create_deploy(server, ns, "fine", 2)
        assert ok.status_code == 201 and "warning" not in ok.headers
    finally:
        cleanup(server, f"{BASE}/validatingadmissionpolicybindings/{b}",
                f"{BASE}/validatingadmissionpolicies/{p}")


def test_missing_params_deny_and_bad_expressions_are_refused(server: Server, ns: str) -> None:
    r = post(server, f"{BASE}/validatingadmissionpolicies",
             policy("broken", [{"expression": "object.spec.replicas <="}]))
    assert r.status_code == 422
    assert "spec.validations[0].expression: Invalid value" in r.json()["message"]
    p, b = f"params-{ns}", f"params-{ns}-binding"
    post(server, f"{BASE}/validatingadmissionpolicies", policy(
        p, [{"expression": "true"}], paramKind={"apiVersion": "v1", "kind": "ConfigMap"}))
    post(server, f"{BASE}/validatingadmissionpolicybindings", binding(
        b, p, ns, ["Deny"], paramRef={"name": "absent", "parameterNotFoundAction": "Deny"}))
    try:
        names = iter(range(1000))
        r = wait_for(lambda: (lambda x: x if x.status_code == 422 else None)(
            create_deploy(server, ns, f"p{next(names)}", 1)), "the binding to deny", 10)
        assert r.json()["message"].endswith(
            f"ValidatingAdmissionPolicy '{p}' with binding '{b}' denied request: no params "
            "found for policy binding with `Deny` parameterNotFoundAction")
    finally:
        cleanup(server, f"{BASE}/validatingadmissionpolicybindings/{b}",
                f"{BASE}/validatingadmissionpolicies/{p}")
