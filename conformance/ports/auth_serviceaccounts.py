"""Ports of test/e2e/auth/service_accounts.go (ServiceAccounts) and
test/e2e/auth/subjectreviews.go (SubjectReview). The OIDC discovery test (stretch: it
needs a pod that reaches the API server by name) is not ported here."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from urllib3 import HTTPHeaderDict

from conformance.framework import (
    Ctx,
    conformance,
    expect_container_output,
    poll,
    rand_suffix,
    read_or_none,
)
from conformance.ports.apps_common import SMP, retry_on_conflict
from conformance.ports.node_common import BUSYBOX, create_sync, mounttest, mounttest_pod
from conformance.watching import Watch

S = "ServiceAccounts › "  # inventory codenames (upstream file: upstream_files.tsv)
BASENAME = "svcaccounts"
ROOT_CA = "kube-root-ca.crt"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # DefaultAPITokenMountPath
FOREVER = 30  # wait.ForeverTestTimeout
JWT = r"[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.?[A-Za-z0-9-_.+/=]*"


def _sa(name: str, automount: bool | None = None, **meta: Any) -> client.V1ServiceAccount:
    return client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name, **meta),
                                   automount_service_account_token=automount)


def _check_review_user(review: Any, ns: str, sa: str) -> None:
    st = review.status
    assert st.authenticated, "tokenReview is not authenticated"
    assert not st.error, f"tokenReview error: {st.error!r}"
    assert st.user.username == f"system:serviceaccount:{ns}:{sa}", st.user.username
    groups = set(st.user.groups or [])
    for g in ("system:authenticated", "system:serviceaccounts", f"system:serviceaccounts:{ns}"):
        assert g in groups, f"expected {g} group, had {sorted(groups)}"


@conformance(S + "mount an API token into pods", basename=BASENAME,
             needs=("containers",))
def mount_token(c: Ctx) -> None:
    sa = c.core.create_namespaced_service_account(c.ns, _sa("mount-test"))
    pod = create_sync(c, client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-service-account-{rand_suffix(8)}"),
        spec=client.V1PodSpec(service_account_name=sa.metadata.name,
                              termination_grace_period_seconds=0, restart_policy="Never",
                              containers=[client.V1Container(name="test", image=BUSYBOX,
                                                             command=["sleep", "100000"])])))

    def read(key: str) -> str:  # upstream's ReadFileViaContainer: kubectl exec ... cat
        return c.kubectl("exec", "-n", c.ns, pod.metadata.name, "-c", "test", "--",
                         "cat", f"{TOKEN_DIR}/{key}").stdout
    token, ca, ns = read("token"), read("ca.crt"), read("namespace")
    root = c.core.read_namespaced_config_map(ROOT_CA, c.ns)
    assert ca == root.data["ca.crt"], "the mounted ca.crt differs from kube-root-ca.crt"
    assert ns == c.ns, f"mounted namespace {ns!r}, expected {c.ns!r}"
    review = client.AuthenticationV1Api(c.api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token)))
    _check_review_user(review, c.ns, sa.metadata.name)


# (pod name, service account, pod's automountServiceAccountToken, token volume expected)
AUTOMOUNT_CASES = (
    ("pod-service-account-defaultsa", "default", None, True),
    ("pod-service-account-mountsa", "mount", None, True),
    ("pod-service-account-nomountsa", "nomount", None, False),
    ("pod-service-account-defaultsa-mountspec", "default", True, True),
    ("pod-service-account-mountsa-mountspec", "mount", True, True),
    ("pod-service-account-nomountsa-mountspec", "nomount", True, True),
    ("pod-service-account-defaultsa-nomountspec", "default", False, False),
    ("pod-service-account-mountsa-nomountspec", "mount", False, False),
    ("pod-service-account-nomountsa-nomountspec", "nomount", False, False),
)


@conformance(S + "allow opting out of API token automount",
             basename=BASENAME)
def automount_opt_out(c: Ctx) -> None:
    c.core.create_namespaced_service_account(c.ns, _sa("mount", True))
    c.core.create_namespaced_service_account(c.ns, _sa("nomount", False))
    for name, sa, automount, expected in AUTOMOUNT_CASES:
        created = c.core.create_namespaced_pod(c.ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(restart_policy="Never", service_account_name=sa,
                                  automount_service_account_token=automount,
                                  containers=[client.V1Container(name="token-test",
                                                                 image=BUSYBOX)])))
        has = any(m.mount_path == TOKEN_DIR for ctr in created.spec.containers
                  for m in ctr.volume_mounts or [])
        assert has == expected, f"{name}: expected volume={expected}, got {has}"


@conformance(S + "mount projected service account token",
             basename=BASENAME, needs=("containers",))
def projected_token(c: Ctx) -> None:
    path = "/test-volume/token"
    volume = client.V1Volume(name="test-volume", projected=client.V1ProjectedVolumeSource(
        sources=[client.V1VolumeProjection(service_account_token=client.V1ServiceAccountTokenProjection(
            path="token", expiration_seconds=3600))]))
    pod = mounttest_pod("test-pod", [volume], [client.V1VolumeMount(
        name="test-volume", mount_path="/test-volume", read_only=True)],
        mounttest(file_content=path))
    expect_container_output(c, "service account token: ", pod, 0,
                            [f'content of file "{path}": {JWT}'], regexp=True)


@conformance(S + "run through the lifecycle of a ServiceAccount",
             basename=BASENAME)
def lifecycle(c: Ctx) -> None:
    name, sel, ns = "testserviceaccount", "test-serviceaccount-static=true", c.ns
    created = c.core.create_namespaced_service_account(
        ns, _sa(name, labels={"test-serviceaccount-static": "true"}))
    got = c.core.read_namespaced_service_account(name, ns)
    assert got.metadata.uid == created.metadata.uid
    # upstream's watch starts after the create, with no resourceVersion: the ADDED event
    # is the initial state's
    with Watch(c.api, c.core.list_namespaced_service_account, "V1ServiceAccount", ns,
               label_selector=sel, timeout_seconds=180) as w:
        w.expect("ADDED", timeout=180)
        c.core.patch_namespaced_service_account(
            name, ns, {"automountServiceAccountToken": False}, _content_type=SMP)
        w.expect("MODIFIED", timeout=180)
        items = c.core.list_service_account_for_all_namespaces(label_selector=sel).items
        assert any(i.metadata.name == name and i.metadata.namespace == ns
                   and i.automount_service_account_token is False for i in items), \
            "failed to find the created ServiceAccount"
        c.core.delete_collection_namespaced_service_account(ns)
        w.expect("DELETED", timeout=180)


def _root_ca(c: Ctx) -> Any:
    return read_or_none(lambda: c.core.read_namespaced_config_map(ROOT_CA, c.ns))


@conformance(S + "guarantee kube-root-ca.crt exist in any namespace",
             basename=BASENAME)
def root_ca(c: Ctx) -> None:
    poll(lambda: _root_ca(c), FOREVER, "the root CA configmap", 0.5)
    c.core.delete_namespaced_config_map(ROOT_CA, c.ns, grace_period_seconds=0)
    poll(lambda: _root_ca(c), FOREVER, "a new root CA configmap", 0.5)
    c.core.replace_namespaced_config_map(ROOT_CA, c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=ROOT_CA), data={"ca.crt": ""}))

    def reconciled() -> bool:
        cm = _root_ca(c)
        return bool(cm is not None and (cm.data or {}).get("ca.crt"))
    poll(reconciled, FOREVER, "the root CA configmap to be reconciled", 0.5)


@conformance(S + "update a ServiceAccount", basename=BASENAME)
def update(c: Ctx) -> None:
    name = "e2e-sa-" + rand_suffix()
    created = c.core.create_namespaced_service_account(c.ns, _sa(name, False))
    assert created.automount_service_account_token is False, "Failed to set AutomountServiceAccountToken"

    def flip() -> Any:
        sa = c.core.read_namespaced_service_account(name, c.ns)
        sa.automount_service_account_token = True
        return c.core.replace_namespaced_service_account(name, c.ns, sa)
    updated = retry_on_conflict(flip)
    assert updated.automount_service_account_token is True, "Failed to set AutomountServiceAccountToken"


@conformance(S + "create a serviceAccountToken and ensure a successful TokenReview", basename=BASENAME)
def token_review(c: Ctx) -> None:
    name = "e2e-sa-" + rand_suffix()
    c.core.create_namespaced_service_account(c.ns, _sa(name))
    resp = c.core.create_namespaced_service_account_token(
        name, c.ns, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])))
    assert resp.status.token, "confirm that a Token has been created"
    review = client.AuthenticationV1Api(c.api).create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=resp.status.token)))
    assert review.status.authenticated, "expect that the TokenReview is authenticated"
    assert not review.status.error, f"TokenReview error: {review.status.error!r}"


# -- test/e2e/auth/subjectreviews.go ---------------------------------------------------------
def _list_configmaps_as(c: Ctx, user: str, groups: list[str], uid: str) -> int:
    """GET the namespace's ConfigMaps impersonating user/groups/uid (client-go's
    rest.ImpersonationConfig: one Impersonate-Group header per group); the HTTP code."""
    url = f"{c.api.configuration.host}/api/v1/namespaces/{c.ns}/configmaps"
    headers = HTTPHeaderDict({"Accept": "application/json", "Impersonate-User": user,
                              "Impersonate-Uid": uid})
    for g in groups:
        headers.add("Impersonate-Group", g)
    c.api.update_params_for_auth(headers, [], ["BearerToken"], url, "GET", None)
    return int(c.api.rest_client.request("GET", url, headers=headers).status)


@conformance("SubjectReview › support SubjectReview API operations",
             basename="subjectreview")
def subject_review(c: Ctx) -> None:
    ns = c.ns
    sa = c.core.create_namespaced_service_account(ns, _sa("e2e"))
    user = f"system:serviceaccount:{ns}:e2e"
    groups = ["system:authenticated", "system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    uid = sa.metadata.uid
    authz = client.AuthorizationV1Api(c.api)
    attrs = client.V1ResourceAttributes(verb="list", resource="configmaps", namespace=ns, version="v1")
    sar = authz.create_subject_access_review(client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(resource_attributes=attrs, user=user,
                                              groups=groups, uid=uid)))
    code = _list_configmaps_as(c, user, groups, uid)
    assert code in (200, 403), f"unexpected answer to the impersonated list: HTTP {code}"
    actually = code == 200
    assert bool(sar.status.allowed) == actually, \
        f"SubjectAccessReview allowed: {sar.status.allowed}, request allowed: {actually}"
    # upstream's LocalSubjectAccessReview names the user by the bare account name
    lsar = authz.create_namespaced_local_subject_access_review(ns, client.V1LocalSubjectAccessReview(
        metadata=client.V1ObjectMeta(namespace=ns),
        spec=client.V1SubjectAccessReviewSpec(resource_attributes=attrs, user="e2e",
                                              groups=groups, uid=uid)))
    assert bool(lsar.status.allowed) == actually, \
        f"LocalSubjectAccessReview allowed: {lsar.status.allowed}, request allowed: {actually}"
