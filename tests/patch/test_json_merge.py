"""JSON patch (RFC 6902) and JSON merge patch (RFC 7386)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kapi.patch import PatchError, apply_json_patch, apply_merge_patch

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["a"]},
    "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
}


# -- JSON merge patch: every example of RFC 7386 appendix A -----------------------------------
RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target,patch,expected", RFC7386)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(target, patch) == expected


def test_merge_patch_replaces_lists_and_merges_maps() -> None:
    patch = {"metadata": {"labels": {"tier": "front", "app": None}, "finalizers": ["b"]},
             "spec": {"containers": [{"name": "d", "image": "redis"}]}}
    out = apply_merge_patch(POD, patch)
    assert out["metadata"] == {"name": "p", "labels": {"tier": "front"}, "finalizers": ["b"]}
    assert out["spec"]["containers"] == [{"name": "d", "image": "redis"}]


def test_merge_patch_does_not_mutate_or_share() -> None:
    pod, patch = copy.deepcopy(POD), {"metadata": {"labels": {"x": "1"}}, "spec": {"a": [1]}}
    before_patch = copy.deepcopy(patch)
    out = apply_merge_patch(pod, patch)
    assert pod == POD and patch == before_patch
    out["metadata"]["labels"]["y"] = "2"
    out["spec"]["a"].append(2)
    out["spec"]["containers"][0]["image"] = "changed"
    assert pod == POD and patch == before_patch


# -- JSON patch ---------------------------------------------------------------------------------
def test_json_patch_operations() -> None:
    ops = [
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "d", "image": "redis"}},
        {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copy"},
        {"op": "move", "from": "/metadata/labels/copy", "path": "/metadata/labels/moved"},
        {"op": "test", "path": "/metadata/name", "value": "p"},
    ]
    out = apply_json_patch(POD, ops)
    assert out["metadata"] == {"name": "p", "finalizers": [],
                               "labels": {"app": "web", "tier": "front", "moved": "web"}}
    assert out["spec"]["containers"] == [{"name": "c", "image": "nginx:2"},
                                         {"name": "d", "image": "redis"}]
    assert POD["metadata"]["finalizers"] == ["a"]  # input untouched


def test_json_patch_escaped_pointer() -> None:
    obj = {"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}}
    out = apply_json_patch(obj, [{"op": "remove", "path": "/metadata/annotations/a~1b"},
                                 {"op": "replace", "path": "/metadata/annotations/c~0d",
                                  "value": "3"}])
    assert out == {"metadata": {"annotations": {"c~d": "3"}}}


def test_json_patch_result_shares_nothing_with_patch() -> None:
    value = {"name": "d", "image": "redis"}
    out = apply_json_patch(POD, [{"op": "add", "path": "/spec/containers/-", "value": value}])
    out["spec"]["containers"][1]["image"] = "changed"
    assert value == {"name": "d", "image": "redis"}


@pytest.mark.parametrize("ops", [
    {"op": "add", "path": "/a", "value": 1},  # not a list
    [{"op": "bogus", "path": "/a"}],
    [{"op": "add", "path": "/a"}],  # no value
    [{"path": "/a", "value": 1}],  # no op
    [{"op": "move", "path": "/a"}],  # no from
    ["add"],
    [{"op": "add", "path": "no-slash", "value": 1}],
])
def test_json_patch_malformed_is_400(ops: Any) -> None:
    with pytest.raises(PatchError) as e:
        apply_json_patch(POD, ops)
    assert e.value.status == 400


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/metadata/name", "value": "other"}],
    [{"op": "remove", "path": "/metadata/missing"}],
    [{"op": "replace", "path": "/metadata/missing", "value": 1}],
    [{"op": "add", "path": "/missing/parent", "value": 1}],
    [{"op": "add", "path": "/spec/containers/5", "value": {}}],
])
def test_json_patch_that_cannot_apply_is_422(ops: Any) -> None:
    with pytest.raises(PatchError) as e:
        apply_json_patch(POD, ops)
    assert e.value.status == 422
    assert str(e.value)


def test_json_patch_operation_limit() -> None:
    ops = [{"op": "test", "path": "/kind", "value": "Pod"}] * 10001
    with pytest.raises(PatchError) as e:
        apply_json_patch(POD, ops)
    assert e.value.status == 413
