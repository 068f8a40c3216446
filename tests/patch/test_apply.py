"""Server-side apply against hand-checked examples of structured-merge-diff and the
Kubernetes "Server-Side Apply" documentation (conflicts, shared ownership, pruning what
an applier stops applying, list merging, the client-side-apply upgrade path), plus
property tests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapi.meta.schema import load_definitions
from kapi.patch.apply import LAST_APPLIED, ApplyConflicts, Request, apply, merge
from kapi.patch.managedfields import Tracker
from kapi.registry.kinds import SCHEME
from kapi.validation.typeinfo import TypeNode, Types

Obj = dict[str, Any]
T0, T1 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"
TYPES = Types(load_definitions())
DEPLOYMENT: TypeNode = TYPES.of("io.k8s.api.apps.v1.Deployment")  # type: ignore[assignment]
CONFIGMAP: TypeNode = TYPES.of("io.k8s.api.core.v1.ConfigMap")  # type: ignore[assignment]


def req(manager: str, force: bool = False, now: str = T0, version: str = "apps/v1") -> Request:
    return Request(manager, version, force=force, has_status=True, now=now)


def deploy(replicas: int | None = 3, containers: list[Obj] | None = None,
           labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": containers or [
                                  {"name": "web", "image": "nginx:1"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    meta: Obj = {"name": "web", "namespace": "ns"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def managers(obj: Obj) -> dict[str, Obj]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def test_create_by_apply_owns_what_it_applied() -> None:
    out = apply(DEPLOYMENT, None, deploy(), req("kubectl"))
    assert out["spec"]["replicas"] == 3
    (entry,) = out["metadata"]["managedFields"]
    assert entry["operation"] == "Apply" and entry["time"] == T0
    assert entry["fieldsV1"] == {
        "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {'k:{"name":"web"}': {
                ".": {}, "f:image": {}, "f:name": {}}}}}}}


def test_reapplying_is_a_noop_and_keeps_the_time() -> None:
    first = apply(DEPLOYMENT, None, deploy(), req("kubectl"))
    again = apply(DEPLOYMENT, first, deploy(), req("kubectl", now=T1))
    assert again == first


def test_conflict_with_another_applier_then_force() -> None:
    live = apply(DEPLOYMENT, None, deploy(3), req("a"))
    with pytest.raises(ApplyConflicts) as e:
        apply(DEPLOYMENT, live, deploy(4), req("b"))
    assert e.value.message() == 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'
    assert e.value.causes() == [{"reason": "FieldManagerConflict",
                                 "message": 'conflict with "a"', "field": ".spec.replicas"}]
    out = apply(DEPLOYMENT, live, deploy(4), req("b", force=True))
    assert out["spec"]["replicas"] == 4
    assert "f:replicas" not in managers(out)["a"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in managers(out)["b"]["fieldsV1"]["f:spec"]


def test_same_value_is_shared_and_survives_one_owner_leaving() -> None:
    live = apply(DEPLOYMENT, None, deploy(3), req("a"))
    shared = apply(DEPLOYMENT, live, deploy(3), req("b"))
    assert "f:replicas" in managers(shared)["a"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in managers(shared)["b"]["fieldsV1"]["f:spec"]
    left = apply(DEPLOYMENT, shared, deploy(None), req("a"))
    assert left["spec"]["replicas"] == 3  # b still owns it


def test_fields_an_applier_stops_applying_are_removed() -> None:
    live = apply(DEPLOYMENT, None, deploy(labels={"a": "1", "b": "2"}), req("kubectl"))
    out = apply(DEPLOYMENT, live, deploy(labels={"a": "1"}), req("kubectl"))
    assert out["metadata"]["labels"] == {"a": "1"}
    two = [{"name": "web", "image": "nginx:1"}, {"name": "side", "image": "envoy"}]
    live = apply(DEPLOYMENT, None, deploy(containers=two), req("kubectl"))
    out = apply(DEPLOYMENT, live, deploy(), req("kubectl"))
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_update_manager_conflict_names_its_version() -> None:
    tracker = Tracker(TYPES)
    r = SCHEME.get("apps", "v1", "deployments")
    live = copy.deepcopy(deploy(2))
    tracker.update(r, live, None, manager="kubectl-client-side-apply", subresource="", now=T0)
    with pytest.raises(ApplyConflicts) as e:
        apply(DEPLOYMENT, live, deploy(5), req("someone"))
    assert e.value.message() == ('Apply failed with 1 conflict: conflict with '
                                 '"kubectl-client-side-apply" using apps/v1: .spec.replicas')


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = apply(DEPLOYMENT, None, deploy(3), req("a"))
    cfg = deploy(4, containers=[{"name": "web", "image": "nginx:2"}])
    with pytest.raises(ApplyConflicts) as e:
        apply(DEPLOYMENT, live, cfg, req("b"))
    assert e.value.message() == (
        'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="web"].image')


def test_client_side_apply_upgrade_by_kubectl() -> None:
    tracker = Tracker(TYPES)
    r = SCHEME.get("apps", "v1", "deployments")
    live = deploy(2)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(deploy(2)) + "\n"}
    tracker.update(r, live, None, manager="kubectl-client-side-apply", subresource="", now=T0)
    with pytest.raises(ApplyConflicts):
        apply(DEPLOYMENT, live, deploy(5), req("not-kubectl"))
    out = apply(DEPLOYMENT, live, deploy(5), req("kubectl"))
    assert out["spec"]["replicas"] == 5
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED]) == deploy(5)
    # a field set by someone else after the client-side apply still conflicts
    live["spec"]["replicas"] = 7
    tracker.update(r, live, copy.deepcopy(live) | {"spec": deploy(2)["spec"]},
                   manager="kubectl-scale", subresource="scale", now=T1)
    with pytest.raises(ApplyConflicts) as e:
        apply(DEPLOYMENT, live, deploy(5), req("kubectl"))
    assert '"kubectl-scale" with subresource "scale" using apps/v1' in e.value.message()


def test_lists_merge_by_kind() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]},
            "spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "1", "command": ["x", "y"]},
                               {"name": "b", "image": "1"}]}}}}
    cfg = {"metadata": {"finalizers": ["c"]},
           "spec": {"template": {"spec": {
               "containers": [{"name": "b", "image": "2"},
                              {"name": "a", "command": ["z"]}, {"name": "c", "image": "3"}]}}}}
    out = merge(DEPLOYMENT, live, cfg)
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]  # a set: union
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "b", "image": "2"},  # the applied order for shared items
        {"name": "a", "image": "1", "command": ["z"]},  # atomic list replaced
        {"name": "c", "image": "3"}]


def test_live_only_items_keep_their_place() -> None:
    live = {"spec": {"template": {"spec": {"containers": [
        {"name": "a"}, {"name": "x"}, {"name": "b"}]}}}}
    cfg = {"spec": {"template": {"spec": {"containers": [{"name": "b"}, {"name": "c"}]}}}}
    out = merge(DEPLOYMENT, live, cfg)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == [
        "a", "x", "b", "c"]


# -- properties ------------------------------------------------------------------------------
keys = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
label_maps = st.dictionaries(keys, st.text(alphabet="xyz", max_size=3), max_size=5)
# an applier that applied an empty map owns the map itself (as upstream): keep maps full
full_maps = st.dictionaries(keys, st.text(alphabet="xyz", max_size=3), min_size=1, max_size=5)


# each property is tried on 150 examples; the larger ones may be slow to generate
PROPERTY = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def apply_cm(manager: str, live: Obj | None, data: dict[str, str], force: bool = False) -> Obj:
    """`manager` applies a ConfigMap holding `data` over `live` (None: creates it)."""
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}
    return apply(CONFIGMAP, live, config, Request(manager, "v1", force=force, now=T0))


@PROPERTY
@given(label_maps)
def test_apply_to_nothing_gives_the_configuration(data: dict[str, str]) -> None:
    out = apply_cm("m", None, data)
    assert out.get("data", {}) == data


@PROPERTY
@given(label_maps, label_maps)
def test_apply_is_idempotent_and_converges(first: dict[str, str],
                                           second: dict[str, str]) -> None:
    live = apply_cm("m", None, first)
    once = apply_cm("m", live, second)
    assert apply_cm("m", once, second) == once
    # a sole owner's object is exactly its last configuration
    assert once.get("data", {}) == second


@PROPERTY
@given(full_maps, label_maps)
def test_disjoint_appliers_keep_their_fields(a: dict[str, str], b: dict[str, str]) -> None:
    b = {"z" + k: v for k, v in b.items()}  # disjoint keys
    live = apply_cm("a", None, a)
    both = apply_cm("b", live, b)
    assert both.get("data", {}) == a | b
    gone = apply_cm("b", both, {})
    assert gone.get("data", {}) == a


@PROPERTY
@given(full_maps, label_maps)
def test_conflicts_are_exactly_the_changed_foreign_fields(a: dict[str, str],
                                                          b: dict[str, str]) -> None:
    live = apply_cm("a", None, a)
    changed = sorted(f".data.{k}" for k in b if k in a and a[k] != b[k])
    try:
        apply_cm("b", live, b)
        found: list[str] = []
    except ApplyConflicts as e:
        found = sorted(c["field"] for c in e.causes())
    assert found == changed
    forced = apply_cm("b", live, b, force=True)
    assert forced.get("data", {}) == a | b
