"""A pod on a real Docker-backed node gets its service account's projected token: the
kubelet fills the kube-api-access volume through TokenRequest (bound to the pod), the
files are read with real kubectl exec (1.27 and 1.33), and the mounted token
authenticates from the host as the pod's service account, bound to that pod."""

from __future__ import annotations

import base64
import json
from typing import Any

from kubernetes import client as k8s

from tests.conftest import Kubectl, kubectls
from tests.e2e import dockerpods
from tests.e2e.dockerpods import core, pod_doc, sh, status
from tests.helpers import wait_for

engine, cluster, api, ns = (dockerpods.engine, dockerpods.cluster, dockerpods.api,
                            dockerpods.ns)
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def test_a_pods_mounted_token_authenticates_as_its_service_account(
        api: k8s.ApiClient, cluster: Any, ns: str) -> None:
    core(api).create_namespaced_service_account(ns, {"metadata": {"name": "runner"}})
    k8s.RbacAuthorizationV1Api(api).create_namespaced_role_binding(ns, {  # RBAC: may read
        "metadata": {"name": "runner-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": ns}]})
    core(api).create_namespaced_pod(ns, pod_doc(
        "tok", sh("c", "sleep 3600"), policy="Always", serviceAccountName="runner"))
    wait_for(lambda: status(api, ns, "tok").get("phase") == "Running", "the pod to run",
             timeout=90)
    pod = core(api).read_namespaced_pod("tok", ns)
    found = list(kubectls().items())
    assert found, "no kubectl installed"
    for version, binary in found:
        kubectl = Kubectl(version, binary, cluster.kubeconfig)
        files = kubectl("exec", "-n", ns, "tok", "--", "ls", MOUNT).split()
        assert files == ["ca.crt", "namespace", "token"]
        assert kubectl("exec", "-n", ns, "tok", "--", "cat", f"{MOUNT}/namespace") == ns
        assert "BEGIN CERTIFICATE" in kubectl("exec", "-n", ns, "tok", "--", "cat",
                                              f"{MOUNT}/ca.crt")
    token = Kubectl(*found[0], cluster.kubeconfig)(
        "exec", "-n", ns, "tok", "--", "cat", f"{MOUNT}/token")
    part = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert claims["kubernetes.io"]["pod"] == {"name": "tok", "uid": pod.metadata.uid}
    assert claims["kubernetes.io"]["node"]["name"] == dockerpods.NODE
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    with cluster.client(token=token) as c:
        r = c.get(f"/api/v1/namespaces/{ns}/serviceaccounts/runner")
        assert r.status_code == 200 and r.json()["metadata"]["uid"] == \
            claims["kubernetes.io"]["serviceaccount"]["uid"]
    review = k8s.AuthenticationV1Api(api).create_token_review(
        {"spec": {"token": token}}).status
    assert review.authenticated
    assert review.user.username == f"system:serviceaccount:{ns}:runner"
    assert review.user.extra["authentication.kubernetes.io/pod-name"] == ["tok"]
    assert review.user.extra["authentication.kubernetes.io/node-name"] == [dockerpods.NODE]
    core(api).delete_namespaced_pod("tok", ns, grace_period_seconds=0)
    with cluster.client(token=token) as c:
        wait_for(lambda: c.get(f"/api/v1/namespaces/{ns}/pods").status_code == 401,
                 "the pod's token to die with it")
