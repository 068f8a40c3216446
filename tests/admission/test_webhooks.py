"""Admission webhooks end to end: a kapi server in a subprocess calls a test HTTPS
server (loopback, a URL clientConfig trusting its caBundle) for kubectl and Python
client writes; failurePolicy with the server down; dry run; warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client

from tests.admission.hookserver import HookServer, make_certs
from tests.conftest import Kubectl, Server, free_port
from tests.helpers import api_for, wait_for

GROUP = "admissionregistration.k8s.io"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def hooks(certs: tuple[Path, Path, str]) -> Iterator[HookServer]:
    with HookServer(certs[0], certs[1]) as s:
        yield s


def webhook(name: str, url: str, ca: str, *, ns: str, **extra: Any) -> dict[str, Any]:
    """One webhook on configmaps CREATE/UPDATE in namespace `ns` (by its name label)."""
    return {"name": name, "clientConfig": {"url": url, "caBundle": ca},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""],
                       "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"]} | extra


def configure(server: Server, kind: str, name: str, hooks: list[dict[str, Any]]) -> None:
    plural = kind.lower() + "s"
    with server.client() as c:
        r = c.post(f"/apis/{GROUP}/v1/{plural}", json={
            "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": hooks})
        assert r.status_code == 201, r.text


def remove(server: Server, kind: str, name: str) -> None:
    with server.client() as c:
        c.delete(f"/apis/{GROUP}/v1/{kind.lower()}s/{name}")


def create_cm(server: Server, ns: str, name: str, **params: str) -> Any:
    with server.client() as c:
        return c.post(f"/api/v1/namespaces/{ns}/configmaps", params=params, json={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"a": "b"}})


def until_effective(server: Server, ns: str, code: int) -> Any:
    """Configurations reach the admission chain through the watch cache: wait until a
    probe write gets `code`, as upstream's e2e tests wait for their marker."""
    names = iter(range(10_000))

    def probe() -> Any:
        r = create_cm(server, ns, f"probe-{next(names)}", dryRun="All")
        return r if r.status_code == code else None
    return wait_for(probe, f"a probe write answered {code}", timeout=10)


def test_configuration_defaults_and_validation(server: Server, ns: str) -> None:
    with server.client() as c:
        r = c.post(f"/apis/{GROUP}/v1/validatingwebhookconfigurations", json={
            "apiVersion": f"{GROUP}/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "bad"}, "webhooks": [{
                "name": "short", "clientConfig": {"url": "http://x"},
                "admissionReviewVersions": ["v1"]}]})
        assert r.status_code == 422, r.text
        msg = r.json()["message"]
        assert 'webhooks[0].name: Invalid value: "short": should be a domain with at least ' \
               "three segments separated by dots" in msg
        assert "webhooks[0].sideEffects: Required value: must specify one of None, " \
               "NoneOnDryRun" in msg
        assert "webhooks[0].clientConfig.url: Invalid value: \"http://x\": 'https' is the " \
               "only allowed URL scheme" in msg
    configure(server, "MutatingWebhookConfiguration", f"defaults-{ns}",
              [webhook("a.example.com", "https://127.0.0.1:1/", "", ns=ns)])
    try:
        with server.client() as c:
            got = c.get(f"/apis/{GROUP}/v1/mutatingwebhookconfigurations/defaults-{ns}").json()
        hook = got["webhooks"][0]
        assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"],
                hook["reinvocationPolicy"], hook["objectSelector"],
                hook["rules"][0]["scope"]) == ("Fail", "Equivalent", 10, "Never", {}, "*")
    finally:
        remove(server, "MutatingWebhookConfiguration", f"defaults-{ns}")


def test_validating_webhook_denies_with_upstream_message(
        server: Server, ns: str, hooks: HookServer, certs: tuple[Path, Path, str],
        kubectl: Kubectl) -> None:
    name = f"deny-{ns}"
    configure(server, "ValidatingWebhookConfiguration", name,
              [webhook("deny.example.com", hooks.url + "/deny", certs[2], ns=ns)])
    try:
        r = until_effective(server, ns, 403)
        assert r.json()["message"] == ('admission webhook "deny.example.com" denied the '
                                       "request: this webhook denies everything")
        p = kubectl.run("create", "configmap", "x", "-n", ns, "--from-literal=a=b",
                        check=False)
        assert p.returncode != 0
        assert 'admission webhook "deny.example.com" denied the request: this webhook ' \
               "denies everything" in p.stderr
        path, headers, review = hooks.reviews[-1]
        req = review["request"]
        assert review["apiVersion"] == "admission.k8s.io/v1" and path == "/deny"
        assert (req["operation"], req["namespace"], req["name"], req["resource"],
                req["kind"]) == ("CREATE", ns, "x", {"group": "", "version": "v1",
                                                     "resource": "configmaps"},
                                 {"group": "", "version": "v1", "kind": "ConfigMap"})
        assert req["object"]["data"] == {"a": "b"} and req["oldObject"] is None
        assert req["userInfo"]["username"] == "kubernetes-admin" and req["dryRun"] is False
        assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
    finally:
        remove(server, "ValidatingWebhookConfiguration", name)


def test_mutating_webhook_patches_and_warns(server: Server, ns: str, hooks: HookServer,
                                            certs: tuple[Path, Path, str]) -> None:
    name = f"mutate-{ns}"
    configure(server, "MutatingWebhookConfiguration", name,
              [webhook("mutate.example.com", hooks.url + "/mutate", certs[2], ns=ns),
               webhook("warn.example.com", hooks.url + "/warn", certs[2], ns=ns)])
    try:
        until_effective(server, ns, 201)  # dry run creates answer 201 too

        def labelled() -> Any:
            r = create_cm(server, ns, f"cm-{len(hooks.reviews)}", dryRun="All")
            return r if r.json()["metadata"].get("labels") == {"mutated": "yes"} else None
        wait_for(labelled, "the mutating webhook's label", timeout=10)
        with api_for(server.kubeconfig) as api:
            core = client.CoreV1Api(api)
            cm = core.create_namespaced_config_map(ns, client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="real"), data={"x": "y"}))
            assert cm.metadata.labels == {"mutated": "yes"}
            assert core.read_namespaced_config_map("real", ns).metadata.labels == \
                {"mutated": "yes"}
        r = create_cm(server, ns, "warned")
        assert r.status_code == 201 and 'hook says hello' in r.headers["warning"]
        dry = [rv for _, _, rv in hooks.reviews if rv["request"].get("name") == "probe-0"]
        assert all(rv["request"]["dryRun"] is True for rv in dry)
    finally:
        remove(server, "MutatingWebhookConfiguration", name)


@pytest.mark.parametrize("policy,code", [("Ignore", 201), ("Fail", 500)])
def test_failure_policy_with_the_server_down(server: Server, ns: str, policy: str,
                                             code: int, certs: tuple[Path, Path, str]) -> None:
    down = f"https://127.0.0.1:{free_port()}/"
    name = f"down-{policy.lower()}-{ns}"
    configure(server, "ValidatingWebhookConfiguration", name,
              [webhook("down.example.com", down, certs[2], ns=ns, failurePolicy=policy)])
    try:
        if policy == "Fail":
            r = until_effective(server, ns, 500)
            body = r.json()
            assert body["reason"] == "InternalError"
            assert body["message"].startswith(
                'Internal error occurred: failed calling webhook "down.example.com": '
                f'failed to call webhook: Post "{down}?timeout=10s": ')
        else:
            r = create_cm(server, ns, "through")
            assert r.status_code == code, r.text
    finally:
        remove(server, "ValidatingWebhookConfiguration", name)


def test_match_conditions_select_the_calls(
        server: Server, ns: str, hooks: HookServer, certs: tuple[Path, Path, str]) -> None:
    name = f"conditions-{ns}"
    configure(server, "ValidatingWebhookConfiguration", name,
              [webhook("effects.example.com", hooks.url + "/allow", certs[2], ns=ns,
                       sideEffects="NoneOnDryRun"),
               webhook("some.example.com", hooks.url + "/allow", certs[2], ns=ns,
                       sideEffects="None", matchConditions=[
                           {"name": "only-x", "expression": "object.metadata.name == 'x'"}])])
    try:
        until_effective(server, ns, 201)
        before = len(hooks.reviews)
        assert create_cm(server, ns, "y").status_code == 201
        called = [rv["request"]["name"] for p, _, rv in hooks.reviews[before:]]
        assert called == ["y"]  # the matchCondition kept the second hook out
    finally:
        remove(server, "ValidatingWebhookConfiguration", name)
