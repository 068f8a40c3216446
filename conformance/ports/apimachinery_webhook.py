"""Ports of test/e2e/apimachinery/webhook.go (AdmissionWebhook): the webhook runs as
conformance/images/webhook.py behind the Service upstream deploys (webhook_common.py)."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error
from conformance.ports.apps_common import retry_on_conflict
from conformance.ports.webhook_common import (
    BASENAME,
    Env,
    W,
    non_compliant,
    to_be_mutated,
    until_allowed,
    until_denied,
    until_mutated,
    with_webhook,
)

GROUP = "admissionregistration.k8s.io"


@conformance(W + "should include webhook resources in discovery documents [Conformance]",
             basename=BASENAME)
def discovery(c: Ctx) -> None:
    groups = client.ApisApi(c.api).get_api_versions().groups
    group = next((g for g in groups if g.name == GROUP), None)
    assert group is not None, "admissionregistration.k8s.io API group not found in /apis"
    assert any(v.version == "v1" for v in group.versions)
    got = client.AdmissionregistrationApi(c.api).get_api_group()
    assert got.name == GROUP and any(v.version == "v1" for v in got.versions)
    rl = client.AdmissionregistrationV1Api(c.api).get_api_resources()
    assert rl.group_version == f"{GROUP}/v1"
    names = {r.name for r in rl.resources}
    assert {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} <= names


def _with_conditions(env: Env, mutating: bool, conditions: list[dict[str, str]]) -> Any:
    if mutating:
        hook = env.hook("adding-configmap-data.k8s.io", "/mutating-configmaps",
                        matchConditions=conditions)
        return env.mutating(env.unique, [hook, env.is_ready_hook()])
    hook = env.hook("validation-webhook-with-match-conditions.k8s.io", "/always-deny",
                    matchPolicy="Equivalent", matchConditions=conditions)
    hook["admissionReviewVersions"] = ["v1"]
    return env.validating(env.unique, [hook, env.is_ready_hook()])


def _reject_invalid_conditions(env: Env, mutating: bool) -> None:
    err = expect_api_error(lambda: _with_conditions(env, mutating, [
        {"name": "invalid-expression-1", "expression": "... [] bad expression"}]))
    assert "compilation failed" in (err.body or ""), err.body


def _create_update_conditions(env: Env, mutating: bool) -> None:
    kind = "mutating" if mutating else "validating"
    read = getattr(env.adm, f"read_{kind}_webhook_configuration")
    replace = getattr(env.adm, f"replace_{kind}_webhook_configuration")
    delete = getattr(env.adm, f"delete_{kind}_webhook_configuration")
    first = [{"name": "expression-1", "expression": "object.metadata.namespace == 'production'"}]
    _with_conditions(env, mutating, first)
    try:
        got = read(env.unique)
        assert env.c.api.sanitize_for_serialization(got.webhooks[0].match_conditions) == first
        updated = first + [{"name": "expression-2",
                            "expression": "object.metadata.namespace == 'staging'"}]
        got.webhooks[0].match_conditions = updated
        replace(env.unique, got)
        got = read(env.unique)
        assert env.c.api.sanitize_for_serialization(got.webhooks[0].match_conditions) == updated
    finally:
        delete(env.unique)


for _kind, _mutating in (("validating", False), ("mutating", True)):
    # upstream has each of these twice, once per kind of configuration
    conformance(W + f"should reject {_kind} webhook configurations with invalid match "
                "conditions [Conformance]", basename=BASENAME)(
        with_webhook(partial(_reject_invalid_conditions, mutating=_mutating)))
    conformance(W + f"should be able to create and update {_kind} webhook configurations "
                "with match conditions [Conformance]", basename=BASENAME)(
        with_webhook(partial(_create_update_conditions, mutating=_mutating)))


@conformance(W + "listing validating webhooks should work [Conformance]", basename=BASENAME)
@with_webhook
def listing_validating(env: Env) -> None:
    label = {"e2e-list-test-uuid": str(uuid.uuid4())}
    for i in range(10):
        env.validating(f"{env.unique}-{i}", [env.deny_configmap_hook(), env.is_ready_hook()],
                       labels=label)
    selector = f"e2e-list-test-uuid={label['e2e-list-test-uuid']}"
    assert len(env.adm.list_validating_webhook_configuration(
        label_selector=selector).items) == 10
    env.wait_ready()
    until_denied(env)
    env.adm.delete_collection_validating_webhook_configuration(label_selector=selector)
    until_allowed(env)


@conformance(W + "listing mutating webhooks should work [Conformance]", basename=BASENAME)
@with_webhook
def listing_mutating(env: Env) -> None:
    label = {"e2e-list-test-uuid": str(uuid.uuid4())}
    for i in range(10):
        env.mutating(f"{env.unique}-{i}", [env.mutate_configmap_hook(1), env.is_ready_hook()],
                     labels=label)
    selector = f"e2e-list-test-uuid={label['e2e-list-test-uuid']}"
    assert len(env.adm.list_mutating_webhook_configuration(
        label_selector=selector).items) == 10
    env.wait_ready()
    until_mutated(env, True)
    env.adm.delete_collection_mutating_webhook_configuration(label_selector=selector)
    until_mutated(env, False)


_TO_CREATE = [{"op": "replace", "path": "/webhooks/0/rules/0/operations", "value": ["CREATE"]}]


@conformance(W + "patching/updating a validating webhook should work [Conformance]",
             basename=BASENAME)
@with_webhook
def patch_validating(env: Env) -> None:
    env.validating(env.unique, [env.deny_configmap_hook(), env.is_ready_hook()])
    try:
        env.wait_ready()
        until_denied(env)

        def update() -> Any:
            h = env.adm.read_validating_webhook_configuration(env.unique)
            h.webhooks[0].rules[0].operations = ["UPDATE"]
            return env.adm.replace_validating_webhook_configuration(env.unique, h)
        retry_on_conflict(update)
        until_allowed(env)
        env.adm.patch_validating_webhook_configuration(env.unique, _TO_CREATE)
        until_denied(env)
    finally:
        env.adm.delete_validating_webhook_configuration(env.unique)


@conformance(W + "patching/updating a mutating webhook should work [Conformance]",
             basename=BASENAME)
@with_webhook
def patch_mutating(env: Env) -> None:
    env.mutating(env.unique, [env.mutate_configmap_hook(1), env.is_ready_hook()])
    try:
        env.wait_ready()
        h = env.adm.read_mutating_webhook_configuration(env.unique)
        h.webhooks[0].rules[0].operations = ["UPDATE"]
        env.adm.replace_mutating_webhook_configuration(env.unique, h)
        until_mutated(env, False)
        env.adm.patch_mutating_webhook_configuration(env.unique, _TO_CREATE)
        until_mutated(env, True)
    finally:
        env.adm.delete_mutating_webhook_configuration(env.unique)


@conformance(W + "should mutate configmap [Conformance]", basename=BASENAME)
@with_webhook
def mutate_configmap(env: Env) -> None:
    env.mutating(env.unique, [env.mutate_configmap_hook(1), env.mutate_configmap_hook(2),
                              env.is_ready_hook()])
    env.wait_ready()
    got = env.c.core.create_namespaced_config_map(env.unique, to_be_mutated("to-be-mutated"))
    assert got.data == {"mutation-start": "yes", "mutation-stage-1": "yes",
                        "mutation-stage-2": "yes"}, got.data


@conformance(W + "should mutate everything except 'skip-me' configmaps [Conformance]",
             basename=BASENAME)
@with_webhook
def skip_me(env: Env) -> None:
    hook = env.mutate_configmap_hook(1)
    hook["matchConditions"] = [{"name": "skip-me",
                                "expression": "object.metadata.name != 'skip-me'"}]
    env.mutating(env.unique, [hook, env.is_ready_hook()])
    env.wait_ready()
    got = env.c.core.create_namespaced_config_map(env.unique, to_be_mutated(str(uuid.uuid4())))
    assert got.data == {"mutation-start": "yes", "mutation-stage-1": "yes"}, got.data
    got = env.c.core.create_namespaced_config_map(env.unique, to_be_mutated("skip-me"))
    assert got.data == {"mutation-start": "yes"}, got.data


@conformance(W + "should unconditionally reject operations on fail closed webhook "
             "[Conformance]", basename=BASENAME)
@with_webhook
def fail_closed(env: Env) -> None:
    hook = env.hook("fail-closed.k8s.io", "/configmaps", ca=False, failurePolicy="Fail",
                    selector={"matchLabels": {env.unique: "true"}, "matchExpressions": [{
                        "key": "fail-closed-webhook", "operator": "In", "values": ["yes"]}]})
    env.validating(env.unique, [hook, env.is_ready_hook()])
    env.wait_ready()
    ns = env.c.create_namespace("fail-closed-namespace", labels={
        "fail-closed-webhook": "yes", env.unique: "true"}, wait_sa=False)
    err = expect_api_error(lambda: env.c.core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="foo"))))
    assert err.status == 500 and '"reason":"InternalError"' in (err.body or "").replace(
        " ", ""), err.body


def _dummy(env: Env, name: str) -> dict[str, Any]:
    """A webhook matching nothing real, on a path the server does not serve."""
    return env.hook(name, "", resources=("invalid",), ca=False, failurePolicy="Ignore")


@conformance(W + "should not be able to mutate or prevent deletion of webhook configuration "
             "objects [Conformance]", basename=BASENAME)
@with_webhook
def configuration_objects_exempt(env: Env) -> None:
    resources = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")
    blocking = env.unique + "blocking"
    env.validating(blocking, [env.hook(
        "deny-webhook-configuration-deletions.k8s.io", "/always-deny", ops=("DELETE",),
        group=GROUP, versions=("*",), resources=resources, failurePolicy="Fail"),
        env.is_ready_hook()])
    env.wait_ready()
    env.mutating(blocking, [env.hook(
        "add-label-to-webhook-configurations.k8s.io", "/add-label", group=GROUP,
        versions=("*",), resources=resources, failurePolicy="Fail"), env.is_ready_hook()])
    env.wait_ready()
    try:
        made = env.validating(env.unique, [_dummy(env, "dummy-validating-webhook.k8s.io"),
                                           env.is_ready_hook()])
        assert (made.metadata.labels or {}).get("added-label") != "yes", "mutated"
        env.wait_ready()
        env.adm.delete_validating_webhook_configuration(env.unique)
        made = env.mutating(env.unique, [_dummy(env, "dummy-mutating-webhook.k8s.io"),
                                         env.is_ready_hook()])
        assert (made.metadata.labels or {}).get("added-label") != "yes", "mutated"
        env.wait_ready()
        env.adm.delete_mutating_webhook_configuration(env.unique)
    finally:
        env.adm.delete_validating_webhook_configuration(blocking)
        env.adm.delete_mutating_webhook_configuration(blocking)


def _slow(env: Env, policy: str, timeout: int | None) -> None:
    extra: dict[str, Any] = {"failurePolicy": policy}
    if timeout is not None:
        extra["timeoutSeconds"] = timeout
    env.validating(env.unique, [env.hook("allow-configmap-with-delay-webhook.k8s.io",
                                         "/always-allow-delay-5s", **extra),
                                env.is_ready_hook()])
    env.wait_ready()


def _slow_create(env: Env) -> None:
    name = "e2e-test-slow-webhook-configmap"
    env.c.core.create_namespaced_config_map(env.unique, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name)))
    env.c.core.delete_namespaced_config_map(name, env.unique)


@conformance(W + "should honor timeout [Conformance]", basename=BASENAME)
@with_webhook
def honor_timeout(env: Env) -> None:
    _slow(env, "Fail", 1)
    err = expect_api_error(lambda: _slow_create(env))
    body = err.body or ""
    assert ("context deadline exceeded" in body or "timeout" in body) and \
        "/always-allow-delay-5s?timeout=1s" in body, body
    for policy, timeout in (("Ignore", 1), ("Fail", 10), ("Fail", None)):
        env.adm.delete_validating_webhook_configuration(env.unique)
        _slow(env, policy, timeout)
        _slow_create(env)
    env.adm.delete_validating_webhook_configuration(env.unique)


def _pod(name: str, labels: dict[str, str], container: str) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels),
                        spec=client.V1PodSpec(containers=[client.V1Container(
                            name=container, image="registry.k8s.io/pause:3.10")]))


@conformance(W + "should be able to deny pod and configmap creation [Conformance]",
             basename=BASENAME)
@with_webhook
def deny_pod_and_configmap(env: Env) -> None:
    c, ns = env.c, env.unique
    fail_open = env.hook("fail-open.k8s.io", "/configmaps", ca=False, failurePolicy="Ignore")
    env.validating(ns, [env.hook("deny-unwanted-pod-container-name-and-label.k8s.io", "/pods",
                                 resources=("pods",)),
                        env.deny_configmap_hook(), fail_open, env.is_ready_hook()])
    try:
        env.wait_ready()
        err = expect_api_error(lambda: c.core.create_namespaced_pod(ns, _pod(
            "disallowed-pod", {"webhook-e2e-test": "webhook-disallow"}, "webhook-disallow")))
        for want in ("the pod contains unwanted container name",
                     "the pod contains unwanted label"):
            assert want in (err.body or ""), err.body
        err = expect_api_error(lambda: c.core.create_namespaced_pod(ns, _pod(
            "hanging-pod", {"webhook-e2e-test": "wait-forever"}, "wait-forever")))
        assert "webhook" in (err.body or "") and "deadline" in (err.body or ""), err.body
        expect_api_error(lambda: c.core.read_namespaced_pod("hanging-pod", ns), 404)
        unwanted = "the configmap contains unwanted key and value"
        err = expect_api_error(lambda: c.core.create_namespaced_config_map(
            ns, non_compliant("disallowed-configmap")))
        assert unwanted in (err.body or ""), err.body
        c.core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="allowed-configmap"), data={"admit": "this"}))

        def to_non_compliant() -> Any:
            cm = c.core.read_namespaced_config_map("allowed-configmap", ns)
            cm.data = (cm.data or {}) | {"webhook-e2e-test": "webhook-disallow"}
            return c.core.replace_namespaced_config_map("allowed-configmap", ns, cm)
        err = expect_api_error(to_non_compliant)
        assert unwanted in (err.body or ""), err.body
        err = expect_api_error(lambda: c.core.patch_namespaced_config_map(
            "allowed-configmap", ns, {"data": {"webhook-e2e-test": "webhook-disallow"}}))
        assert unwanted in (err.body or ""), err.body
        skip = c.create_namespace("exempted-namespace", labels={
            "skip-webhook-admission": "yes", ns: "true"}, wait_sa=False)
        c.core.create_namespaced_config_map(skip, non_compliant("disallowed-configmap"))
    finally:
        env.adm.delete_validating_webhook_configuration(ns)


@conformance(W + "should mutate pod and apply defaults after mutation [Conformance]",
             basename=BASENAME)
@with_webhook
def mutate_pod(env: Env) -> None:
    env.mutating(env.unique, [env.hook("adding-init-container.k8s.io", "/mutating-pods",
                                       resources=("pods",)), env.is_ready_hook()])
    try:
        env.wait_ready()
        pod = env.c.core.create_namespaced_pod(env.unique, _pod(
            "webhook-to-be-mutated", {}, "example"))
        inits = pod.spec.init_containers or []
        assert len(inits) == 1, inits
        assert inits[0].name == "webhook-added-init-container", inits[0].name
        assert inits[0].termination_message_policy == "File", inits[0]
    finally:
        env.adm.delete_mutating_webhook_configuration(env.unique)
