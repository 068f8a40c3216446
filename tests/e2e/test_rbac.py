"""RBAC end to end: token identities from a static token file are Forbidden with
upstream's message until a binding allows them, then allowed exactly that; `kubectl auth
can-i` (also --list, --as, subresources, non-resource URLs) agrees with what requests
get; escalation is refused; impersonation is allowed only to those granted it; a
view-only identity gets only 403 on writes and secrets over every served path."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import WANTED_KUBECTL, Kubectl, Server, kubectls, start_server, stop_server
from tests.helpers import wait_for

TOKENS = """alice-token,alice,1001
bob-token,bob,1002,"devs,qa"
viewer-token,viewer,1003
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("rbac")
    (d / "tokens.csv").write_text(TOKENS)
    # a whole control plane: admin, edit and view get their rules from the aggregation
    # controller in the controller manager
    s = start_server(d / "data", command="up", extra=(
        "--nodes", "0", "--no-dns", "--no-proxy", "--token-auth-file", str(d / "tokens.csv")))
    with s.client() as c:
        wait_for(lambda: c.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view"
                               ).json().get("rules"), "view's aggregated rules")
    yield s
    stop_server(s.proc)


@dataclass
class As(Kubectl):
    """kubectl acting as `user`: the admin impersonating them (kubectl sends no bearer
    token over plain HTTP, so token identities are exercised with the Python client and
    HTTP below; both reach the same authorizer)."""
    user: str = ""

    def run(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return super().run(*(("--as", self.user) if self.user else ()), *args, **kw)


@pytest.fixture(params=WANTED_KUBECTL)
def as_user(request: pytest.FixtureRequest, secured: Server):
    found = kubectls()
    if request.param not in found:
        pytest.skip(f"kubectl {request.param} is not installed")

    def make(user: str | None) -> As:
        return As(request.param, found[request.param], secured.kubeconfig, user or "")
    return make


def _namespace(s: Server, name: str) -> str:
    with s.client() as c:
        r = c.post("/api/v1/namespaces", json={"metadata": {"name": name}})
        assert r.status_code in (201, 409), r.text
    return name


def _bind(s: Server, ns: str, name: str, role_kind: str, role: str, user: str) -> None:
    with s.client() as c:
        r = c.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", json={
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
        assert r.status_code == 201, r.text


def test_forbidden_until_bound_then_exactly_that(secured, as_user):
    ns = _namespace(secured, f"rb-{as_user(None).version.replace('.', '')}")
    alice = as_user("alice")
    p = alice.run("get", "pods", "-n", ns, check=False)
    assert p.returncode != 0
    assert (f'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
            f'in the namespace "{ns}"') in p.stderr
    assert alice("auth", "can-i", "list", "pods", "-n", ns, check=False).strip() == "no"
    _bind(secured, ns, "alice-view", "ClusterRole", "view", "alice")
    assert "No resources found" in alice.run("get", "pods", "-n", ns).stderr
    assert alice("auth", "can-i", "list", "pods", "-n", ns).strip() == "yes"
    assert alice("auth", "can-i", "get", "pods", "--subresource=log", "-n", ns).strip() == "yes"
    assert alice("auth", "can-i", "get", "secrets", "-n", ns, check=False).strip() == "no"
    p = alice.run("create", "configmap", "x", "-n", ns, check=False)
    assert (f'configmaps is forbidden: User "alice" cannot create resource "configmaps" in '
            f'API group "" in the namespace "{ns}"') in p.stderr
    p = alice.run("get", "pods", "-n", "default", check=False)
    assert 'in the namespace "default"' in p.stderr
    assert alice("auth", "can-i", "get", "/healthz").strip() == "yes"
    assert alice("auth", "can-i", "get", "/logs", check=False).strip() == "no"
    listed = alice("auth", "can-i", "--list", "-n", ns)
    assert "selfsubjectaccessreviews.authorization.k8s.io" in listed
    pods_line = next(line for line in listed.splitlines() if line.startswith("pods "))
    assert "[get list watch]" in pods_line
    assert not any(line.startswith("secrets ") for line in listed.splitlines())


def test_python_client_token_identity(secured, tmp_path):
    from kubernetes.client import CoreV1Api
    from kubernetes.client.rest import ApiException

    from tests.helpers import api_for
    ns = _namespace(secured, "rb-python")
    cfg = secured.kubeconfig_for(tmp_path / "k", token="bob-token")
    with api_for(cfg) as c:
        with pytest.raises(ApiException) as e:
            CoreV1Api(c).list_namespaced_config_map(ns)
        assert e.value.status == 403
        body = json.loads(e.value.body)
        assert body["reason"] == "Forbidden" and body["details"] == {"kind": "configmaps"}
        with secured.client() as admin:  # bound through a group of bob's
            r = admin.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                           json={"metadata": {"name": "devs-edit"},
                                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                             "kind": "ClusterRole", "name": "edit"},
                                 "subjects": [{"kind": "Group", "name": "devs"}]})
            assert r.status_code == 201, r.text
        CoreV1Api(c).create_namespaced_config_map(ns, {"metadata": {"name": "made"}})
        assert [m.metadata.name for m in CoreV1Api(c).list_namespaced_config_map(ns).items
                if m.metadata.name == "made"] == ["made"]


def test_every_answer_agrees_with_can_i_list(secured):
    """SelfSubjectRulesReview's rules and real requests agree, resource by resource."""
    ns = _namespace(secured, "rb-agree")
    _bind(secured, ns, "viewer-view", "ClusterRole", "view", "viewer")
    with secured.client(token="viewer-token") as c:
        r = c.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                   json={"spec": {"namespace": ns}})
        assert r.status_code == 201, r.text
        rules = r.json()["status"]["resourceRules"]
        for resource in ("pods", "configmaps", "secrets", "services", "deployments", "leases"):
            group = "apps" if resource == "deployments" else \
                "coordination.k8s.io" if resource == "leases" else ""
            listed = any(group in x.get("apiGroups", []) and resource in x.get("resources", [])
                         and "list" in x["verbs"] for x in rules)
            prefix = f"/apis/{group}/v1" if group else "/api/v1"
            got = c.get(f"{prefix}/namespaces/{ns}/{resource}").status_code
            assert got == (200 if listed else 403), (resource, got, listed)


def test_escalation_refused(secured, as_user):
    k = as_user(None)
    ns = _namespace(secured, f"esc-{k.version.replace('.', '')}")
    with secured.client() as admin:
        r = admin.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", json={
            "metadata": {"name": "role-admin"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"],
                       "resources": ["roles", "rolebindings"], "verbs": ["create", "get"]},
                      {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
        assert r.status_code == 201, r.text
    _bind(secured, ns, "alice-role-admin", "Role", "role-admin", "alice")
    alice = as_user("alice")
    p = alice.run("create", "role", "secrets-reader", "--verb=get", "--resource=secrets",
                  "-n", ns, check=False)
    assert p.returncode != 0
    assert ('roles.rbac.authorization.k8s.io "secrets-reader" is forbidden: user "alice" '
            '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
            'currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}') in p.stderr
    alice("create", "role", "pods-reader", "--verb=get", "--resource=pods", "-n", ns)
    p = alice.run("create", "rolebinding", "grab", "--clusterrole=cluster-admin",
                  "--user=alice", "-n", ns, check=False)
    assert 'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "alice"' in p.stderr
    alice("create", "rolebinding", "share", "--role=pods-reader", "--user=bob", "-n", ns)


def test_impersonation(secured, as_user):
    k = as_user(None)
    v = k.version.replace('.', '')
    ns, dana = _namespace(secured, f"imp-{v}"), f"dana-{v}"  # a target per kubectl run
    _bind(secured, ns, "dana-view", "ClusterRole", "view", dana)
    as_dana = {"Impersonate-User": dana}
    with secured.client(token="bob-token") as bob:
        r = bob.get(f"/api/v1/namespaces/{ns}/pods", headers=as_dana)
        assert r.status_code == 403
        assert r.json()["message"] == (
            f'users "{dana}" is forbidden: User "bob" cannot impersonate resource "users" in '
            'API group "" at the cluster scope')
        with secured.client() as admin:
            for kind, body in (("clusterroles", {
                    "metadata": {"name": f"impersonate-{dana}"},
                    "rules": [{"apiGroups": [""], "resources": ["users"],
                               "verbs": ["impersonate"], "resourceNames": [dana]}]}),
                    ("clusterrolebindings", {
                        "metadata": {"name": f"bob-impersonates-{dana}"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                    "kind": "ClusterRole", "name": f"impersonate-{dana}"},
                        "subjects": [{"kind": "User", "name": "bob"}]})):
                r = admin.post(f"/apis/rbac.authorization.k8s.io/v1/{kind}", json=body)
                assert r.status_code in (201, 409), r.text
        r = bob.get(f"/api/v1/namespaces/{ns}/pods", headers=as_dana)
        assert r.status_code == 200, r.text
        r = bob.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", headers=as_dana,
                     json={"spec": {"resourceAttributes": {"verb": "delete", "resource": "pods",
                                                           "namespace": ns}}})
        assert r.json()["status"] == {"allowed": False}
        r = bob.get(f"/api/v1/namespaces/{ns}/pods",
                    headers=as_dana | {"Impersonate-Group": "system:masters"})
        assert r.json()["message"] == (
            'groups "system:masters" is forbidden: User "bob" cannot impersonate resource '
            '"groups" in API group "" at the cluster scope')
        r = bob.get(f"/api/v1/namespaces/{ns}/pods", headers={"Impersonate-User": "carol"})
        assert r.status_code == 403
    assert k("auth", "can-i", "list", "pods", "-n", ns, "--as", dana).strip() == "yes"
    assert k("auth", "can-i", "delete", "pods", "-n", ns, "--as", dana,
             check=False).strip() == "no"
    assert "No resources found" in k.run("get", "pods", "-n", ns, "--as", dana,
                                         "--as-group", "devs").stderr


def _served_paths(s: Server) -> list[tuple[str, list[str]]]:
    with s.client() as c:
        doc = c.get("/openapi/v2").json()
    return sorted((p, sorted(m for m in ops if m in ("get", "post", "put", "patch", "delete")))
                  for p, ops in doc["paths"].items())


@pytest.fixture(scope="module")
def viewer_paths(secured):
    ns = _namespace(secured, "fuzz-view")
    _bind(secured, ns, "viewer-view", "ClusterRole", "view", "viewer")
    return ns, _served_paths(secured)


@settings(max_examples=200, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_view_only_fuzz_writes_and_secrets_are_403(secured, viewer_paths, data):
    ns, paths = viewer_paths
    # watches are streams: their opening answer is what counts, and a bounded one
    path, methods = data.draw(st.sampled_from([p for p in paths if p[1]]))
    method = data.draw(st.sampled_from(methods))
    name = data.draw(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True))
    url = path.replace("{namespace}", data.draw(st.sampled_from([ns, "default", name]))) \
        .replace("{name}", name).replace("{path}", name)
    body = data.draw(st.sampled_from([None, {}, {"metadata": {"name": name}}]))
    with secured.client(token="viewer-token") as c:
        r = c.request(method.upper(), url, json=body, params={"timeoutSeconds": "1"})
    assert r.status_code < 500, (method, url, r.text)
    is_review = "/authorization.k8s.io/" in url
    if method != "get" and not is_review:
        assert r.status_code == 403, (method, url, r.status_code, r.text)
    if "/secrets" in url:
        assert r.status_code == 403, (method, url, r.status_code)


def test_subject_access_reviews(secured):
    ns = _namespace(secured, "sar")
    _bind(secured, ns, "erin-view", "ClusterRole", "view", "erin")
    sar = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    with secured.client() as admin:
        r = admin.post(sar, json={"spec": {"user": "erin", "resourceAttributes": {
            "verb": "list", "resource": "pods", "namespace": ns}}})
        assert r.status_code == 201
        assert r.json()["status"] == {"allowed": True, "reason": (
            f'RBAC: allowed by RoleBinding "erin-view/{ns}" of ClusterRole "view" to User "erin"')}
        r = admin.post(sar, json={"spec": {"user": "erin", "nonResourceAttributes": {
            "verb": "get", "path": "/metrics"}}})
        assert r.json()["status"] == {"allowed": False}
        r = admin.post(sar, json={"spec": {"resourceAttributes": {"verb": "get"}}})
        assert r.status_code == 422
        assert r.json()["message"] == (
            'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: '
            '"": at least one of user or group must be specified')
        r = admin.post(f"/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews",
                       json={"spec": {"user": "erin", "resourceAttributes": {
                           "verb": "get", "resource": "pods", "namespace": "other"}}})
        assert r.status_code == 400
        assert r.json()["message"] == f"spec.resourceAttributes.namespace must match namespace: {ns}"
        assert admin.get(sar).status_code == 405
    with secured.client(token="alice-token") as alice:  # only what system:auth-delegator has
        r = alice.post(sar, json={"spec": {"user": "erin", "resourceAttributes": {"verb": "get"}}})
        assert r.status_code == 403


def test_can_i_list_shows_non_resource_urls(secured, as_user):
    out = as_user("frank")("auth", "can-i", "--list")
    lines = out.splitlines()
    assert any(line.startswith("selfsubjectrulesreviews.authorization.k8s.io") for line in lines)
    assert any("[/healthz]" in line and "[get]" in line for line in lines)
    assert any("[/api/*]" in line for line in lines)


def test_bind_verb_and_aggregation(secured):
    ns = _namespace(secured, "bind-agg")
    with secured.client() as admin:
        for kind, body in (("clusterroles", {
                "metadata": {"name": "bind-admin"},
                "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                           "verbs": ["bind"], "resourceNames": ["admin"]},
                          {"apiGroups": ["rbac.authorization.k8s.io"],
                           "resources": ["rolebindings"], "verbs": ["create"]}]}),
                ("clusterroles", {  # aggregated into view (and so edit and admin)
                    "metadata": {"name": "widgets-view", "labels": {
                        "rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                    "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"],
                               "verbs": ["get", "list"]}]})):
            r = admin.post(f"/apis/rbac.authorization.k8s.io/v1/{kind}", json=body)
            assert r.status_code == 201, r.text
    _bind(secured, ns, "gina-bind", "ClusterRole", "bind-admin", "gina")
    with secured.client() as admin:
        def widgets_in_view() -> bool:
            view = admin.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view").json()
            return any("widgets" in r.get("resources", []) for r in view["rules"])
        wait_for(widgets_in_view, "the aggregation controller to add widgets to view")
        # gina holds none of admin's permissions, but may bind it (the bind verb)
        r = admin.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                       headers={"Impersonate-User": "gina"}, json={
                           "metadata": {"name": "harry-admin"},
                           "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                       "kind": "ClusterRole", "name": "admin"},
                           "subjects": [{"kind": "User", "name": "harry"}]})
        assert r.status_code == 201, r.text
        r = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json={"spec": {
            "user": "harry", "resourceAttributes": {
                "verb": "list", "group": "example.com", "resource": "widgets", "namespace": ns}}})
        assert r.json()["status"]["allowed"] is True


def test_websocket_exec_needs_create(secured):
    """kubectl 1.30+ execs over a WebSocket GET; as upstream, that needs create on
    pods/exec too (a role with only get on pods/exec is refused)."""
    import websocket

    ns = _namespace(secured, "ws-exec")
    with secured.client() as admin:
        r = admin.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", json={
            "metadata": {"name": "exec-get"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get"]}]})
        assert r.status_code == 201, r.text
    _bind(secured, ns, "alice-exec-get", "Role", "exec-get", "alice")
    url = secured.url.replace("http", "ws", 1) + \
        f"/api/v1/namespaces/{ns}/pods/p/exec?command=true&stdout=1"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(url, timeout=10, header=["Authorization: Bearer alice-token"],
                                    subprotocols=["v5.channel.k8s.io"],
                                    sslopt={"ca_certs": str(secured.ca)} if secured.tls else None)
    assert e.value.status_code == 403
    assert json.loads(e.value.resp_body)["message"] == (
        f'pods "p" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" '
        f'in the namespace "{ns}"')
