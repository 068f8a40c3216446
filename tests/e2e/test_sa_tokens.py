"""Service-account tokens on the shared cluster (`kapi up`, simulated nodes), with real
kubectl (1.27 and 1.33) and the official Python client: `kubectl create token` mints a
token that authenticates as its service account (TokenReview and a real request), a
forged signature gets 401, bound tokens die with their pod or secret, a legacy token
Secret is filled by the controller manager and dies with its Secret, the ServiceAccount
admission mounts kube-api-access volumes, and the issuer's OIDC documents are served.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.conftest import Kubectl, Server
from tests.helpers import api_for, namespace, wait_for

Obj = dict[str, Any]
ISSUER = "https://kubernetes.default.svc.cluster.local"


@pytest.fixture
def sns(api: k8s.ApiClient) -> Iterator[str]:
    for ns in namespace(api, "sat"):
        # RBAC: the namespace's service accounts may do anything in it (and nothing else)
        k8s.RbacAuthorizationV1Api(api).create_namespaced_role_binding(ns, {
            "metadata": {"name": "sa-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                          "name": f"system:serviceaccounts:{ns}"}]})
        yield ns


def core(api: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api)


def review(api: k8s.ApiClient, token: str, audiences: list[str] | None = None) -> Obj:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, **({"audiences": audiences} if audiences else {})}}
    out = k8s.AuthenticationV1Api(api).create_token_review(body)
    return api.sanitize_for_serialization(out.status)  # type: ignore[no-any-return]


def claims(token: str) -> Obj:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def status_with(cluster: Server, token: str, path: str) -> int:
    with cluster.client(token=token) as c:
        return c.get(path).status_code


def make_sa(api: k8s.ApiClient, ns: str, name: str, **more: Any) -> Obj:
    sa = core(api).create_namespaced_service_account(ns, {"metadata": {"name": name}, **more})
    return {"name": name, "uid": sa.metadata.uid}


def test_kubectl_create_token_authenticates_as_the_service_account(
        kctl: Kubectl, api: k8s.ApiClient, cluster: Server, sns: str,
        tmp_path: Path) -> None:
    sa = make_sa(api, sns, "robot")
    token = kctl("create", "token", "robot", "-n", sns, "--audience", ISSUER,
                 "--audience", "vault", "--duration", "15m").strip()
    c = claims(token)
    assert c["iss"] == ISSUER and c["aud"] == [ISSUER, "vault"]
    assert c["sub"] == f"system:serviceaccount:{sns}:robot"
    assert c["exp"] - c["iat"] == 900 and c["nbf"] == c["iat"] and c["jti"]
    assert c["kubernetes.io"] == {"namespace": sns, "serviceaccount": sa}
    st = review(api, token)
    assert st["authenticated"] is True and st["audiences"] == [ISSUER]
    assert st["user"]["username"] == f"system:serviceaccount:{sns}:robot"
    assert st["user"]["uid"] == sa["uid"]
    assert st["user"]["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{sns}",
                                    "system:authenticated"]
    assert st["user"]["extra"]["authentication.kubernetes.io/credential-id"] == [
        f"JTI={c['jti']}"]
    assert review(api, token, ["vault"])["audiences"] == ["vault"]
    # the token is a credential kubectl can use
    kc = cluster.kubeconfig_for(tmp_path / "robot.kubeconfig", token=token)
    out = kctl("--kubeconfig", str(kc), "get", "serviceaccount", "robot", "-n", sns, "-o", "name")
    assert out.strip() == "serviceaccount/robot"
    with api_for(kc) as as_robot:  # and so can the Python client
        assert core(as_robot).read_namespaced_service_account("robot", sns).metadata.uid == \
            sa["uid"]
    # a token for another audience only is not for the API server
    other = kctl("create", "token", "robot", "-n", sns, "--audience", "vault").strip()
    assert status_with(cluster, other, f"/api/v1/namespaces/{sns}") == 401
    bad = review(api, other)
    assert bad["authenticated"] is False and "token audiences" in bad["error"]


def test_a_forged_or_garbled_token_gets_401(api: k8s.ApiClient, cluster: Server,
                                            sns: str) -> None:
    make_sa(api, sns, "robot")
    out = core(api).create_namespaced_service_account_token(
        "robot", sns, {"spec": {"expirationSeconds": 600}})
    token = out.status.token
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-6]}{'A' * 6 if not sig.endswith('AAAAAA') else 'B' * 6}"
    assert status_with(cluster, token, f"/api/v1/namespaces/{sns}/pods") == 200
    assert status_with(cluster, forged, f"/api/v1/namespaces/{sns}/pods") == 401
    with cluster.client(token=forged) as c:
        r = c.get(f"/api/v1/namespaces/{sns}/pods")
        assert r.json()["reason"] == "Unauthorized"
    st = review(api, forged)
    assert st["authenticated"] is False
    assert st["error"] == "[invalid bearer token, go-jose/go-jose: error in cryptographic " \
                          "primitive]"
    assert status_with(cluster, "not-a-jwt", "/api") == 401


def test_token_request_rules(kctl: Kubectl, api: k8s.ApiClient, sns: str) -> None:
    make_sa(api, sns, "robot")
    short = kctl.run("create", "token", "robot", "-n", sns, "--duration", "1m", check=False)
    assert short.returncode != 0
    assert 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: ' \
           "Invalid value: 60: may not specify a duration less than 10 minutes" in short.stderr
    missing = kctl.run("create", "token", "ghost", "-n", sns, check=False)
    assert 'serviceaccounts "ghost" not found' in missing.stderr
    default = core(api).create_namespaced_service_account_token("robot", sns, {"spec": {}})
    assert default.spec.expiration_seconds == 3600
    assert default.spec.audiences == [ISSUER]
    core(api).create_namespaced_pod(sns, {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}]}})
    other = kctl.run("create", "token", "robot", "-n", sns, "--bound-object-kind", "Pod",
                     "--bound-object-name", "p", check=False)
    assert 'cannot bind token for serviceaccount "robot" to pod running with different ' \
           "serviceaccount name." in other.stderr


def test_a_bound_token_dies_with_its_pod(kctl: Kubectl, api: k8s.ApiClient, cluster: Server,
                                         sns: str) -> None:
    make_sa(api, sns, "robot")
    pod = core(api).create_namespaced_pod(sns, {"metadata": {"name": "p"}, "spec": {
        "serviceAccountName": "robot", "containers": [{"name": "c", "image": "busybox"}]}})
    token = kctl("create", "token", "robot", "-n", sns, "--bound-object-kind", "Pod",
                 "--bound-object-name", "p").strip()
    assert claims(token)["kubernetes.io"]["pod"] == {"name": "p", "uid": pod.metadata.uid}
    st = review(api, token)
    assert st["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    assert st["user"]["extra"]["authentication.kubernetes.io/pod-uid"] == [pod.metadata.uid]
    path = f"/api/v1/namespaces/{sns}/serviceaccounts"
    assert status_with(cluster, token, path) == 200
    core(api).delete_namespaced_pod("p", sns, grace_period_seconds=0)
    wait_for(lambda: status_with(cluster, token, path) == 401, "the pod's token to die")
    assert review(api, token)["error"] == '[invalid bearer token, pods "p" not found]'


def test_a_bound_token_dies_with_its_secret(kctl: Kubectl, api: k8s.ApiClient,
                                            cluster: Server, sns: str) -> None:
    make_sa(api, sns, "robot")
    core(api).create_namespaced_secret(sns, {"metadata": {"name": "s"}, "data": {}})
    token = kctl("create", "token", "robot", "-n", sns, "--bound-object-kind", "Secret",
                 "--bound-object-name", "s").strip()
    path = f"/api/v1/namespaces/{sns}/configmaps"
    assert status_with(cluster, token, path) == 200
    core(api).delete_namespaced_secret("s", sns)
    wait_for(lambda: status_with(cluster, token, path) == 401, "the secret's token to die")


def test_a_token_dies_with_its_service_account(api: k8s.ApiClient, cluster: Server,
                                               sns: str) -> None:
    make_sa(api, sns, "robot")
    token = core(api).create_namespaced_service_account_token(
        "robot", sns, {"spec": {}}).status.token
    path = f"/api/v1/namespaces/{sns}/secrets"
    assert status_with(cluster, token, path) == 200
    core(api).delete_namespaced_service_account("robot", sns)
    make_sa(api, sns, "robot")  # the same name again is another account (another uid)
    wait_for(lambda: status_with(cluster, token, path) == 401, "the account's token to die")


def test_a_legacy_token_secret_is_filled_and_dies_with_it(
        kctl: Kubectl, api: k8s.ApiClient, cluster: Server, sns: str) -> None:
    sa = make_sa(api, sns, "legacy")
    kctl("apply", "-n", sns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "legacy-token",
                     "annotations": {"kubernetes.io/service-account.name": "legacy"}}}))

    def filled() -> Obj | None:
        s = core(api).read_namespaced_secret("legacy-token", sns)
        return s if s.data and "token" in s.data else None
    secret = wait_for(filled, "the token controller to fill the secret")
    assert set(secret.data) == {"token", "ca.crt", "namespace"}
    assert base64.b64decode(secret.data["namespace"]).decode() == sns
    assert b"BEGIN CERTIFICATE" in base64.b64decode(secret.data["ca.crt"])
    assert secret.metadata.annotations["kubernetes.io/service-account.uid"] == sa["uid"]
    token = base64.b64decode(secret.data["token"]).decode()
    c = claims(token)
    assert c["iss"] == "kubernetes/serviceaccount"
    assert c["kubernetes.io/serviceaccount/secret.name"] == "legacy-token"
    st = review(api, token)
    assert st["authenticated"] is True
    assert st["user"]["username"] == f"system:serviceaccount:{sns}:legacy"
    path = f"/api/v1/namespaces/{sns}/pods"
    assert status_with(cluster, token, path) == 200
    kctl("delete", "secret", "legacy-token", "-n", sns)
    wait_for(lambda: status_with(cluster, token, path) == 401, "the legacy token to die")


def _mounts(pod: Any) -> list[tuple[str, str, bool]]:
    return [(m.name, m.mount_path, bool(m.read_only))
            for c in (pod.spec.init_containers or []) + pod.spec.containers
            for m in c.volume_mounts or []]


def test_service_account_admission(api: k8s.ApiClient, sns: str) -> None:
    wait_for(lambda: core(api).list_namespaced_service_account(
        sns, field_selector="metadata.name=default").items, "the default service account")
    pod = core(api).create_namespaced_pod(sns, {"metadata": {"name": "p"}, "spec": {
        "initContainers": [{"name": "i", "image": "busybox"}],
        "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}})
    assert pod.spec.service_account_name == "default"
    vols = [v for v in pod.spec.volumes if v.name.startswith("kube-api-access-")]
    assert len(vols) == 1 and len(vols[0].name) == len("kube-api-access-") + 5
    doc = api.sanitize_for_serialization(vols[0].projected)
    assert doc == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt",
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    path = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert _mounts(pod) == [(vols[0].name, path, True)] * 3
    # automountServiceAccountToken: the account says no, the pod may still say yes
    make_sa(api, sns, "quiet", automountServiceAccountToken=False)
    quiet = core(api).create_namespaced_pod(sns, {"metadata": {"name": "q"}, "spec": {
        "serviceAccountName": "quiet", "containers": [{"name": "a", "image": "busybox"}]}})
    assert not quiet.spec.volumes and _mounts(quiet) == []
    loud = core(api).create_namespaced_pod(sns, {"metadata": {"name": "l"}, "spec": {
        "serviceAccountName": "quiet", "automountServiceAccountToken": True,
        "containers": [{"name": "a", "image": "busybox"}]}})
    assert len(_mounts(loud)) == 1
    with pytest.raises(ApiException) as e:
        core(api).create_namespaced_pod(sns, {"metadata": {"name": "x"}, "spec": {
            "serviceAccountName": "ghost", "containers": [{"name": "a", "image": "busybox"}]}})
    assert e.value.status == 403
    assert json.loads(e.value.body)["message"] == (
        f'pods "x" is forbidden: error looking up service account {sns}/ghost: '
        'serviceaccount "ghost" not found')


def test_oidc_discovery_documents(api: k8s.ApiClient, cluster: Server, sns: str) -> None:
    with cluster.client() as c:
        disco = c.get("/.well-known/openid-configuration")
        jwks = c.get("/openid/v1/jwks")
    assert disco.headers["content-type"] == "application/json"
    doc = disco.json()
    assert doc["issuer"] == ISSUER and doc["jwks_uri"].endswith("/openid/v1/jwks")
    assert doc["response_types_supported"] == ["id_token"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert jwks.headers["content-type"] == "application/jwk-set+json"
    keys = jwks.json()["keys"]
    make_sa(api, sns, "robot")
    token = core(api).create_namespaced_service_account_token(
        "robot", sns, {"spec": {}}).status.token
    head = token.split(".")[0]
    kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    assert [(k["kid"], k["alg"], k["use"], k["kty"], k["e"]) for k in keys] == [
        (kid, "RS256", "sig", "RSA", "AQAB")]
