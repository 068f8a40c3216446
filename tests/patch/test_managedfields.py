"""managedFields of Update operations and FieldsV1, checked against what upstream writes
(the kubectl-create entry below is the one `kubectl create deployment nginx --image=nginx`
leaves on a 1.2x/1.3x cluster)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kapi.meta.resources import Resource
from kapi.meta.schema import load_definitions
from kapi.patch.managedfields import Tracker, cap_update_managers, decode, encode
from kapi.patch.managedfields_set import from_fields_v1, path_string, to_fields_v1
from kapi.registry.kinds import SCHEME
from kapi.validation.typeinfo import Types

DEPLOYMENTS = SCHEME.get("apps", "v1", "deployments")
CONFIGMAPS = SCHEME.get("", "v1", "configmaps")
T0, T1 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"

KUBECTL_CREATE = json.loads("""{"kind":"Deployment","apiVersion":"apps/v1","metadata":{
 "name":"nginx","creationTimestamp":null,"labels":{"app":"nginx"}},"spec":{"replicas":1,
 "selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"creationTimestamp":null,
 "labels":{"app":"nginx"}},"spec":{"containers":[{"name":"nginx","image":"nginx",
 "resources":{}}]}},"strategy":{}},"status":{}}""")

UPSTREAM_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
        "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                       "f:type": {}},
        "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {'k:{"name":"nginx"}': {
                    ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                    "f:resources": {}, "f:terminationMessagePath": {},
                    "f:terminationMessagePolicy": {}}},
                "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {},
                "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}}}


def default(r: Resource | None, obj: Any) -> None:
    """Default obj as the kind's strategy does."""
    assert r is not None
    r.strategy.default(r, obj)


@pytest.fixture(scope="module")
def tracker() -> Tracker:
    return Tracker(Types(load_definitions()))


def created(tracker: Tracker) -> dict[str, Any]:
    obj = copy.deepcopy(KUBECTL_CREATE)
    default(DEPLOYMENTS, obj)
    tracker.update(DEPLOYMENTS, obj, None, manager="kubectl-create", subresource="", now=T0)
    return obj


def test_kubectl_create_entry_is_upstreams(tracker: Tracker) -> None:
    (entry,) = created(tracker)["metadata"]["managedFields"]
    assert entry == {"manager": "kubectl-create", "operation": "Update",
                     "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
                     "fieldsV1": UPSTREAM_FIELDS}
    assert list(entry["fieldsV1"]["f:spec"]) == sorted(entry["fieldsV1"]["f:spec"])


def test_an_update_moves_ownership_and_a_noop_changes_nothing(tracker: Tracker) -> None:
    old = created(tracker)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    tracker.update(DEPLOYMENTS, new, old, manager="kubectl-scale", subresource="scale", now=T1)
    by = {e["manager"]: e for e in new["metadata"]["managedFields"]}
    assert by["kubectl-scale"]["subresource"] == "scale"
    assert by["kubectl-scale"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in by["kubectl-create"]["fieldsV1"]["f:spec"]
    same = copy.deepcopy(new)
    tracker.update(DEPLOYMENTS, same, new, manager="other", subresource="", now=T1)
    assert same == new  # nothing changed: no entry, no new time


def test_status_is_owned_only_through_status(tracker: Tracker) -> None:
    old = created(tracker)
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1}
    tracker.update(DEPLOYMENTS, new, old, manager="kubectl-edit", subresource="", now=T1)
    assert all(e["manager"] != "kubectl-edit" for e in new["metadata"]["managedFields"])
    tracker.update(DEPLOYMENTS, new, old, manager="controller", subresource="status", now=T1)
    entry = new["metadata"]["managedFields"][-1]
    assert entry["manager"] == "controller" and entry["fieldsV1"] == {
        "f:status": {"f:replicas": {}}}


def test_removed_fields_leave_every_manager(tracker: Tracker) -> None:
    old: dict[str, Any] = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    tracker.update(CONFIGMAPS, old, None, manager="m1", subresource="", now=T0)
    new = copy.deepcopy(old)
    del new["data"]["b"]
    tracker.update(CONFIGMAPS, new, old, manager="m2", subresource="", now=T1)
    (entry,) = new["metadata"]["managedFields"]
    assert entry["manager"] == "m1" and entry["fieldsV1"] == {
        "f:data": {".": {}, "f:a": {}}}


def test_sent_managed_fields_reset_or_replace(tracker: Tracker) -> None:
    old = created(tracker)
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = []
    tracker.update(DEPLOYMENTS, new, old, manager="x", subresource="", now=T1)
    assert "managedFields" not in new["metadata"]


def test_fields_v1_round_trip_and_paths() -> None:
    fields = {"f:metadata": {"f:finalizers": {".": {}, 'v:"a/b"': {}}},
              "f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {},
                                                                       "f:port": {}}}}}
    s = from_fields_v1(fields)
    assert to_fields_v1(s) == fields
    assert sorted(path_string(p) for p in s) == [
        '.metadata.finalizers', '.metadata.finalizers[="a/b"]',
        '.spec.ports[port=80,protocol="TCP"]', '.spec.ports[port=80,protocol="TCP"].port']


def test_encode_orders_entries_like_upstream() -> None:
    entries = [
        {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": T1,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}},
        {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": T1,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}},
        {"manager": "z", "operation": "Apply", "apiVersion": "v1", "time": T0,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}},
    ]
    assert [e["manager"] for e in encode(decode(entries))] == ["z", "a", "b"]


def test_more_than_ten_updaters_are_merged_into_ancient_changes() -> None:
    entries = [{"manager": f"m{i:02}", "operation": "Update", "apiVersion": "v1",
                "time": f"2024-01-01T00:00:{i:02}Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {f"f:k{i}": {}}}} for i in range(12)]
    managers = decode(entries)
    cap_update_managers(managers)
    names = sorted(e.manager for e in managers.values())
    assert len(names) == 10 and "ancient-changes" in names
    ancient = next(e for e in managers.values() if e.manager == "ancient-changes")
    assert len(ancient.fields) == 3  # m00, m01, m02 merged


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
       "spec": {"containers": [
           {"name": "c", "image": "x", "ports": [{"containerPort": 80},
                                                 {"containerPort": 81, "protocol": "UDP"}],
            "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
            "args": ["a", "b"], "resources": {"limits": {"cpu": "1"}}}],
           "volumes": [{"name": "v", "emptyDir": {}}], "nodeSelector": {"k": "v"}},
       "status": {"phase": "Pending"}}


@pytest.mark.parametrize("resource,obj", [
    (DEPLOYMENTS, KUBECTL_CREATE), (SCHEME.get("", "v1", "pods"), POD),
    (CONFIGMAPS, {"metadata": {"name": "c", "finalizers": ["a/b"]}, "data": {"x": "1"}})])
def test_the_create_shortcut_equals_the_comparison(tracker: Tracker, resource: Any,
                                                   obj: dict[str, Any]) -> None:
    """A create's entry is built in one walk; it must equal compare({}, obj)'s."""
    from kapi.patch.managedfields import owned_paths, without_managed_fields
    from kapi.patch.managedfields_walk import compare

    fast = copy.deepcopy(obj)
    tracker.update(resource, fast, None, manager="m", subresource="", now=T0)
    node = tracker.node(resource.definition)
    c = compare(node, {}, without_managed_fields(obj))
    slow = owned_paths(frozenset(c.added | c.modified), "",
                       resource.subresource("status") is not None)
    assert fast["metadata"]["managedFields"][0]["fieldsV1"] == to_fields_v1(slow)
