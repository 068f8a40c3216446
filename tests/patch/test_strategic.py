"""Strategic merge patch against the 1.33 definitions.

Expected results are worked out by hand from apimachinery's strategicpatch algorithm
(mergeMap / mergeSlice / normalizeElementOrder) and the examples of the Kubernetes task
"Update API Objects in Place Using kubectl patch" (new containers land first, tolerations
are replaced, $retainKeys on a Deployment strategy).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kapi.meta.schema import Definitions, load_definitions
from kapi.patch import PatchError, apply_strategic_merge_patch

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
WEB = {"name": "web", "image": "nginx:1",
       "ports": [{"containerPort": 80, "protocol": "TCP"}],
       "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
SIDECAR = {"name": "sidecar", "image": "envoy:1"}
DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default",
                 "labels": {"app": "web", "tier": "front"},
                 "finalizers": ["a.example/x", "b.example/y"]},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [WEB, SIDECAR],
                "tolerations": [{"key": "dedicated", "operator": "Equal",
                                 "value": "test-team", "effect": "NoSchedule"}],
                "volumes": [{"name": "data", "emptyDir": {}},
                            {"name": "cfg", "configMap": {"name": "cfg"}}],
            },
        },
    },
    "status": {"conditions": [{"type": "Available", "status": "True"},
                              {"type": "Progressing", "status": "True"}]},
}


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions()


def smp(defs: Definitions, patch: dict[str, Any], obj: dict[str, Any] | None = None,
        definition: str | None = DEPLOYMENT) -> dict[str, Any]:
    return apply_strategic_merge_patch(DEPLOY if obj is None else obj, patch, defs, definition)


def pod_spec(patch: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": patch}}}


def containers(out: dict[str, Any]) -> list[dict[str, Any]]:
    return out["spec"]["template"]["spec"]["containers"]


# -- lists merged by key ----------------------------------------------------------------------
def test_container_patched_by_name_keeps_the_others(defs: Definitions) -> None:
    out = smp(defs, pod_spec({"containers": [{"name": "sidecar", "image": "envoy:2"}]}))
    assert containers(out) == [WEB, {"name": "sidecar", "image": "envoy:2"}]


def test_new_container_lands_before_unmentioned_ones(defs: Definitions) -> None:
    out = smp(defs, pod_spec({"containers": [{"name": "redis", "image": "redis"}]}))
    assert containers(out) == [{"name": "redis", "image": "redis"}, WEB, SIDECAR]


def test_patch_delete_removes_one_container(defs: Definitions) -> None:
    out = smp(defs, pod_spec({"containers": [{"name": "web", "$patch": "delete"}]}))
    assert containers(out) == [SIDECAR]


def test_env_merged_by_name(defs: Definitions) -> None:
    patch = pod_spec({"containers": [{"name": "web", "env": [{"name": "B", "value": "20"},
                                                             {"name": "C", "value": "3"}]}]})
    web = containers(smp(defs, patch))[0]
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                          {"name": "C", "value": "3"}]
    assert web["image"] == "nginx:1" and web["ports"] == WEB["ports"]


def test_null_inside_a_merged_element_deletes_the_field(defs: Definitions) -> None:
    patch = pod_spec({"containers": [{"name": "web", "env": [{"name": "A", "value": None}]}]})
    assert containers(smp(defs, patch))[0]["env"] == [{"name": "A"}, {"name": "B", "value": "2"}]


def test_ports_merged_by_container_port(defs: Definitions) -> None:
    named = pod_spec({"containers": [{"name": "web", "ports": [{"containerPort": 80,
                                                                "name": "http"}]}]})
    assert containers(smp(defs, named))[0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"}]
    added = pod_spec({"containers": [{"name": "web", "ports": [{"containerPort": 443}]}]})
    assert containers(smp(defs, added))[0]["ports"] == [
        {"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}]


def test_volumes_merged_by_name_and_retain_keys(defs: Definitions) -> None:
    out = smp(defs, pod_spec({"volumes": [{"name": "cfg", "configMap": {"name": "cfg2"}}]}))
    assert out["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg2"}}]
    swap = pod_spec({"volumes": [{"name": "data", "$retainKeys": ["name", "secret"],
                                  "secret": {"secretName": "s"}}]})
    assert smp(defs, swap)["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "secret": {"secretName": "s"}},
        {"name": "cfg", "configMap": {"name": "cfg"}}]


def test_status_conditions_merged_by_type(defs: Definitions) -> None:
    out = smp(defs, {"status": {"conditions": [{"type": "Available", "status": "False",
                                                "reason": "MinimumReplicasUnavailable"}]}})
    assert out["status"]["conditions"] == [
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        {"type": "Progressing", "status": "True"}]


def test_service_ports_merged_by_port(defs: Definitions) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"},
                              {"port": 443, "targetPort": 8443, "protocol": "TCP"}]}}
    out = apply_strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
                                      defs, "io.k8s.api.core.v1.Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "protocol": "TCP"},
                                    {"port": 443, "targetPort": 8443, "protocol": "TCP"}]


# -- primitive lists ------------------------------------------------------------------------------
def test_finalizers_merged_as_a_set(defs: Definitions) -> None:
    out = smp(defs, {"metadata": {"finalizers": ["b.example/y", "c.example/z"]}})
    assert out["metadata"]["finalizers"] == ["a.example/x", "b.example/y", "c.example/z"]
    out = smp(defs, {"metadata": {"finalizers": ["c.example/z"]}})
    assert out["metadata"]["finalizers"] == ["c.example/z", "a.example/x", "b.example/y"]


def test_delete_from_primitive_list(defs: Definitions) -> None:
    out = smp(defs, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"]}})
    assert out["metadata"]["finalizers"] == ["b.example/y"]
    out = smp(defs, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"],
                                  "finalizers": ["c.example/z"]}})
    assert out["metadata"]["finalizers"] == ["c.example/z", "b.example/y"]


# -- replaced lists and maps ----------------------------------------------------------------------
def test_tolerations_without_strategy_are_replaced(defs: Definitions) -> None:
    new = [{"key": "disktype", "operator": "Equal", "value": "ssd", "effect": "NoSchedule"}]
    out = smp(defs, pod_spec({"tolerations": new}))
    assert out["spec"]["template"]["spec"]["tolerations"] == new


def test_patch_replace_element_replaces_a_merge_list(defs: Definitions) -> None:
    only = {"name": "only", "image": "busybox"}
    out = smp(defs, pod_spec({"containers": [only, {"$patch": "replace"}]}))
    assert containers(out) == [only]


def test_replace_strategy_field_is_replaced(defs: Definitions) -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}
    selector = {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}
    out = apply_strategic_merge_patch(pdb, {"spec": {"selector": selector}}, defs,
                                      "io.k8s.api.policy.v1.PodDisruptionBudget")
    assert out["spec"] == {"minAvailable": 1, "selector": selector}


def test_map_directives(defs: Definitions) -> None:
    out = smp(defs, {"metadata": {"labels": {"$patch": "replace", "new": "1"}}})
    assert out["metadata"]["labels"] == {"new": "1"}
    out = smp(defs, {"spec": {"strategy": {"$patch": "delete"}}})
    assert out["spec"]["strategy"] == {}
    assert smp(defs, {"$patch": "replace", "kind": "Deployment"}) == {"kind": "Deployment"}


def test_null_deletes_keys(defs: Definitions) -> None:
    out = smp(defs, {"metadata": {"labels": {"tier": None, "missing": None}},
                     "spec": {"replicas": None}})
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "replicas" not in out["spec"]


def test_nulls_dropped_from_new_fields(defs: Definitions) -> None:
    out = smp(defs, pod_spec({"securityContext": {"runAsUser": 1000, "fsGroup": None}}))
    assert out["spec"]["template"]["spec"]["securityContext"] == {"runAsUser": 1000}


# -- $retainKeys and $setElementOrder -------------------------------------------------------------
def test_retain_keys_on_deployment_strategy(defs: Definitions) -> None:
    plain = smp(defs, {"spec": {"strategy": {"type": "Recreate"}}})
    assert plain["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    out = smp(defs, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_set_element_order_on_maps(defs: Definitions) -> None:
    patch = pod_spec({"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                      "containers": [{"name": "web", "image": "nginx:2"}]})
    assert containers(smp(defs, patch)) == [SIDECAR, dict(WEB, image="nginx:2")]


def test_set_element_order_places_new_env_last(defs: Definitions) -> None:
    # What kubectl apply sends when a variable is appended to the manifest.
    patch = pod_spec({"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                      "containers": [{"name": "web", "$setElementOrder/env": [
                          {"name": "A"}, {"name": "B"}, {"name": "C"}],
                          "env": [{"name": "C", "value": "3"}]}]})
    out = containers(smp(defs, patch))
    assert [e["name"] for e in out[0]["env"]] == ["A", "B", "C"]
    assert out[1] == SIDECAR


def test_set_element_order_on_primitives(defs: Definitions) -> None:
    out = smp(defs, {"metadata": {"$setElementOrder/finalizers": ["b.example/y",
                                                                   "a.example/x"]}})
    assert out["metadata"]["finalizers"] == ["b.example/y", "a.example/x"]


def test_directive_keys_never_leak_into_the_result(defs: Definitions) -> None:
    new = {"name": "new", "image": "x", "$setElementOrder/env": [{"name": "X"}],
           "env": [{"name": "X", "value": "1"}]}
    out = smp(defs, pod_spec({"containers": [new]}))
    assert containers(out)[0] == {"name": "new", "image": "x", "env": [{"name": "X", "value": "1"}]}


# -- fallbacks, immutability, errors ------------------------------------------------------------
def test_unknown_kind_falls_back_to_merge_patch(defs: Definitions) -> None:
    obj = {"spec": {"items": [1, 2], "m": {"a": 1, "b": 2}}}
    patch = {"spec": {"items": [3], "m": {"b": None, "c": 3}}}
    expected = {"spec": {"items": [3], "m": {"a": 1, "c": 3}}}
    assert apply_strategic_merge_patch(obj, patch, defs, "com.example.v1.Widget") == expected
    assert apply_strategic_merge_patch(obj, patch, defs, None) == expected


def test_scale_subresource(defs: Definitions) -> None:
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
             "spec": {"replicas": 2}, "status": {"replicas": 2, "selector": "app=web"}}
    out = apply_strategic_merge_patch(scale, {"spec": {"replicas": 5}}, defs,
                                      "io.k8s.api.autoscaling.v1.Scale")
    assert out["spec"] == {"replicas": 5} and out["status"] == scale["status"]


def test_inputs_are_never_mutated(defs: Definitions) -> None:
    obj, before = copy.deepcopy(DEPLOY), copy.deepcopy(DEPLOY)
    patch = pod_spec({"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                      "containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}]},
                                     {"name": "sidecar", "$retainKeys": ["name"]}],
                      "volumes": [{"name": "new", "emptyDir": {}}]})
    patch_before = copy.deepcopy(patch)
    out = smp(defs, patch, obj)
    assert obj == before and patch == patch_before
    containers(out)[0]["image"] = "changed"
    out["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["medium"] = "Memory"
    assert obj == before and patch == patch_before
    assert containers(out)[1] == {"name": "sidecar"}


@pytest.mark.parametrize("patch", [
    pod_spec({"containers": [{"image": "no-name"}]}),  # merge key missing
    pod_spec({"containers": [{"name": "web", "$patch": "merge"}]}),
    pod_spec({"containers": [{"name": "web", "$patch": "bogus"}]}),
    {"spec": {"strategy": {"$patch": "merge"}}},
    {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}},
    {"spec": {"strategy": {"$retainKeys": "type"}}},
    {"metadata": {"finalizers": ["x", 1]}},
    pod_spec({"$setElementOrder/containers": [{"name": "web"}],
              "containers": [{"name": "sidecar", "image": "envoy:2"}]}),
    pod_spec({"$setElementOrder/containers": {"name": "web"}}),
])
def test_bad_patches_raise(defs: Definitions, patch: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as e:
        smp(defs, patch)
    assert e.value.status == 400 and str(e.value)


def test_patch_generated_by_kubectl_apply(defs: Definitions) -> None:
    """The three-way patch kubectl 1.32 `apply` sent (from the v3 document's patch
    metadata) after dropping the sidecar and appending env B to the manifest."""
    live = copy.deepcopy(DEPLOY)
    live["spec"]["template"]["spec"]["containers"] = [
        {"name": "web", "image": "nginx:1", "imagePullPolicy": "IfNotPresent",
         "env": [{"name": "A", "value": "1"}]}, SIDECAR]
    patch = pod_spec({
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                        "env": [{"name": "B", "value": "2"}], "image": "nginx:2",
                        "name": "web"},
                       {"$patch": "delete", "name": "sidecar"}]})
    assert containers(smp(defs, patch, live)) == [
        {"name": "web", "image": "nginx:2", "imagePullPolicy": "IfNotPresent",
         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]
