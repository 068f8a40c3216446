"""Ports of test/e2e/apimachinery/validatingadmissionpolicy.go (ValidatingAdmissionPolicy):
policies bound to the test's labelled namespace deny Deployments, and the policy and
binding APIs support every verb."""

from __future__ import annotations

import random
import string
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance, expect_api_error, poll
from conformance.ports.apps_common import retry_on_conflict
from conformance.watching import Watch

V = "[sig-api-machinery] ValidatingAdmissionPolicy [Privileged:ClusterAdmin] "
GROUP = "admissionregistration.k8s.io"
BASENAME = "validating-admission-policy"


def _adm(c: Ctx) -> client.AdmissionregistrationV1Api:
    return client.AdmissionregistrationV1Api(c.api)


def _unique_ns(c: Ctx) -> str:
    """The test namespace, labelled `<name>: "true"` so bindings select only it
    (upstream's labelNamespace); its name doubles as the framework's UniqueName."""
    c.core.patch_namespace(c.ns, {"metadata": {"labels": {c.ns: "true"}}})
    return c.ns


def _policy(name: str, unique: str, validations: list[dict[str, Any]],
            variables: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "matchConstraints": {
            "namespaceSelector": {"matchLabels": {unique: "true"}},
            "resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                               "operations": ["CREATE", "UPDATE"],
                               "resources": ["deployments"]}]},
        "validations": validations}
    if variables:
        spec["variables"] = variables
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name}, "spec": spec}


def _binding(name: str, unique: str, policy: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name}, "spec": {
                "policyName": policy, "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {unique: "true"}}}}}


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "containers": [{"name": "nginx", "image": "nginx:latest"}]}}}}


def _replica_set(name: str, replicas: int) -> dict[str, Any]:
    body = _deployment(name, replicas)
    body["kind"] = "ReplicaSet"
    return body


def _install(c: Ctx, policy: dict[str, Any], unique: str) -> Callable[[], None]:
    adm = _adm(c)
    created = adm.create_validating_admission_policy(policy)
    binding = adm.create_validating_admission_policy_binding(
        _binding(f"{unique}.binding.example.com", unique, created.metadata.name))

    def remove() -> None:
        adm.delete_validating_admission_policy_binding(binding.metadata.name)
        adm.delete_validating_admission_policy(created.metadata.name)
    return remove


def _wait_marker_denied(c: Ctx) -> None:
    """Create a 1-replica marker Deployment until the policy denies it (Invalid)."""
    def denied() -> bool:
        try:
            c.apps.create_namespaced_deployment(c.ns, _deployment("marker-deployment", 1))
        except ApiException as e:
            if e.status == 422:
                return True
            raise
        c.apps.delete_namespaced_deployment("marker-deployment", c.ns)
        return False
    poll(denied, 30, "the marker Deployment to be denied", interval=0.1)


def _allowed_and_not_matched(c: Ctx, replicas: int) -> None:
    c.apps.create_namespaced_deployment(c.ns, _deployment("replicated", replicas))
    c.apps.delete_namespaced_deployment("replicated", c.ns)
    c.apps.create_namespaced_replica_set(c.ns, _replica_set("non-replicated", 1))
    c.apps.delete_namespaced_replica_set("non-replicated", c.ns)


@conformance(V + "should validate against a Deployment [Conformance]", basename=BASENAME)
def validate_deployment(c: Ctx) -> None:
    unique = _unique_ns(c)
    remove = _install(c, _policy(f"{unique}.policy.example.com", unique, [
        {"expression": "object.spec.replicas > 1",
         "messageExpression": "'wants replicas > 1, got ' + object.spec.replicas"},
        {"expression": f"namespaceObject.metadata.name == '{unique}'",
         "message": "Internal error! Other namespace should not be allowed."}]), unique)
    try:
        _wait_marker_denied(c)
        _allowed_and_not_matched(c, 2)
    finally:
        remove()


@conformance(V + "should allow expressions to refer variables. [Conformance]",
             basename=BASENAME)
def variables(c: Ctx) -> None:
    unique = _unique_ns(c)
    remove = _install(c, _policy(f"{unique}.policy.example.com", unique, [
        {"expression": "variables.replicas > 1"}, {"expression": "variables.oddReplicas"}],
        [{"name": "replicas", "expression": "object.spec.replicas"},
         {"name": "oddReplicas", "expression": "variables.replicas % 2 == 1"}]), unique)
    try:
        _wait_marker_denied(c)
        _allowed_and_not_matched(c, 3)
    finally:
        remove()


def _check_discovery(c: Ctx, resources: tuple[str, ...]) -> None:
    groups = client.ApisApi(c.api).get_api_versions().groups
    assert any(g.name == GROUP and any(v.version == "v1" for v in g.versions)
               for g in groups), "expected admissionregistration.k8s.io/v1 in /apis"
    group = client.AdmissionregistrationApi(c.api).get_api_group()
    assert any(v.version == "v1" for v in group.versions)
    names = {r.name for r in _adm(c).get_api_resources().resources}
    for r in resources:
        assert r in names, f"expected {r}, got {sorted(names)}"


class _Verbs:
    """One cluster-scoped admissionregistration resource's client calls, by suffix."""

    def __init__(self, c: Ctx, suffix: str) -> None:
        adm = _adm(c)
        self.create = getattr(adm, f"create_{suffix}")
        self.read = getattr(adm, f"read_{suffix}")
        self.list = getattr(adm, f"list_{suffix}")
        self.patch = getattr(adm, f"patch_{suffix}")
        self.replace = getattr(adm, f"replace_{suffix}")
        self.delete = getattr(adm, f"delete_{suffix}")
        self.delete_collection = getattr(adm, f"delete_collection_{suffix}")


def _crud(c: Ctx, suffix: str, model: str, template: dict[str, Any],
          patch_spec: dict[str, Any], update: Callable[[Any], None],
          check: Callable[[Any, str], None]) -> Any:
    """upstream's create x3, get, list, watch, patch, update, (status), delete,
    deletecollection sequence; returns the third object (for status checks)."""
    verbs = _Verbs(c, suffix)
    key, value = template["metadata"]["labels"].popitem()
    template["metadata"]["labels"] = {key: value}
    label = f"{key}={value}"
    try:
        verbs.create(template)
        verbs.create(template)
        created = verbs.create(template)
        assert verbs.read(created.metadata.name).metadata.uid == created.metadata.uid
        listed = verbs.list(label_selector=label)
        watch = Watch(c.api, verbs.list, model, resource_version=listed.metadata.resource_version,
                      label_selector=label)
        patched = verbs.patch(created.metadata.name, {
            "metadata": {"annotations": {"patched": "true"}}, "spec": patch_spec})
        assert patched.metadata.annotations.get("patched") == "true"
        check(patched, "patched")

        def do_update() -> Any:
            obj = verbs.read(created.metadata.name)
            obj.metadata.annotations["updated"] = "true"
            update(obj)
            return verbs.replace(created.metadata.name, obj)
        updated = retry_on_conflict(do_update)
        assert updated.metadata.annotations.get("updated") == "true"
        check(updated, "updated")
        assert watch.wait_for("MODIFIED", None, 30) is not None, "no MODIFIED event"
        watch.stop()
        yield_status(c, suffix, created)
        verbs.delete(created.metadata.name)
        expect_api_error(lambda: verbs.read(created.metadata.name), 404)
        assert len(verbs.list(label_selector=label).items) == 2
        verbs.delete_collection(label_selector=label)
        assert verbs.list(label_selector=label).items == []
    finally:
        verbs.delete_collection(label_selector=label)
    return created


def yield_status(c: Ctx, suffix: str, created: Any) -> None:
    """getting, patching and updating /status (policies only)."""
    if suffix != "validating_admission_policy":
        return
    adm = _adm(c)
    read = adm.read_validating_admission_policy_status(created.metadata.name)
    assert read.kind == "ValidatingAdmissionPolicy" and read.metadata.uid == created.metadata.uid
    patched = adm.patch_validating_admission_policy_status(created.metadata.name, {
        "status": {"conditions": [{"type": "PatchStatusFailed", "status": "False",
                                   "reason": "e2e", "message": "Set from an e2e test",
                                   "lastTransitionTime": "2024-01-01T00:00:00Z"}]}})
    assert any(cd.type == "PatchStatusFailed" for cd in patched.status.conditions)

    def update() -> Any:
        obj = adm.read_validating_admission_policy(created.metadata.name)
        obj.status.conditions = (obj.status.conditions or []) + [client.V1Condition(
            type="StatusUpdateFailed", status="False", reason="E2E",
            message="Set from an e2e test", last_transition_time="2024-01-01T00:00:00Z")]
        return adm.replace_validating_admission_policy_status(created.metadata.name, obj)
    updated = retry_on_conflict(update)
    assert any(cd.type == "StatusUpdateFailed" for cd in updated.status.conditions)


def _label() -> dict[str, str]:
    return {"example-e2e-vap-label": "".join(random.choices(string.ascii_lowercase, k=8))}


@conformance(V + "should support ValidatingAdmissionPolicy API operations [Conformance]",
             basename=BASENAME)
def policy_api(c: Ctx) -> None:
    _check_discovery(c, ("validatingadmissionpolicies", "validatingadmissionpolicies/status"))
    template = {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicy",
                "metadata": {"generateName": "e2e-example-vap-", "labels": _label()},
                "spec": {"validations": [{"expression": "object.spec.replicas <= 100"}],
                         "matchConstraints": {"resourceRules": [{
                             "operations": ["CREATE"], "apiGroups": ["apps"],
                             "apiVersions": ["v1"], "resources": ["deployments"]}]}}}

    def set_fail(obj: Any) -> None:
        obj.spec.failure_policy = "Fail"

    def check(obj: Any, step: str) -> None:
        assert obj.spec.failure_policy == ("Ignore" if step == "patched" else "Fail")
    _crud(c, "validating_admission_policy", "V1ValidatingAdmissionPolicy", template,
          {"failurePolicy": "Ignore"}, set_fail, check)


@conformance(V + "should support ValidatingAdmissionPolicyBinding API operations "
             "[Conformance]", basename=BASENAME)
def binding_api(c: Ctx) -> None:
    _check_discovery(c, ("validatingadmissionpolicybindings",))
    template = {"apiVersion": f"{GROUP}/v1", "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"generateName": "e2e-example-vapb-", "labels": _label()},
                "spec": {"policyName": "replicalimit-policy.example.com",
                         "validationActions": ["Deny"]}}

    def set_deny(obj: Any) -> None:
        obj.spec.validation_actions = ["Deny"]

    def check(obj: Any, step: str) -> None:
        assert obj.spec.validation_actions == (["Warn"] if step == "patched" else ["Deny"])
    _crud(c, "validating_admission_policy_binding", "V1ValidatingAdmissionPolicyBinding",
          template, {"validationActions": ["Warn"]}, set_deny, check)
