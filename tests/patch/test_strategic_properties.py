"""Property tests of strategic merge patch, each property a rule of apimachinery's
strategicpatch that kubectl's client-side apply relies on: merge by key, new items before
untouched ones, `$setElementOrder` fixing the order, `$patch: replace|delete`,
`$retainKeys`, `$deleteFromPrimitiveList`, and maps of strings merging as JSON merge
patch does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kapi.meta.schema import load_definitions
from kapi.patch import apply_merge_patch, apply_strategic_merge_patch

DEFS = load_definitions()
POD = "io.k8s.api.core.v1.Pod"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"

names = st.lists(st.text(alphabet="abcdef", min_size=1, max_size=4), unique=True, max_size=6)
images = st.sampled_from(["img:1", "img:2", "img:3"])
labels = st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=2),
                         st.one_of(st.none(), st.text(alphabet="xyz", max_size=2)), max_size=4)


def pod(containers: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **meta},
            "spec": {"containers": containers}}


def smp(obj: dict[str, Any], patch: dict[str, Any], definition: str = POD) -> dict[str, Any]:
    return apply_strategic_merge_patch(obj, patch, DEFS, definition)


@settings(max_examples=200)
@given(names, names, images)
def test_containers_merge_by_name_new_ones_first(live: list[str], patched: list[str],
                                                  image: str) -> None:
    obj = pod([{"name": n, "image": "img:0"} for n in live])
    out = smp(obj, {"spec": {"containers": [{"name": n, "image": image} for n in patched]}})
    got = out["spec"]["containers"]
    order = [c["name"] for c in got]
    assert sorted(order) == sorted(set(live) | set(patched))
    # the patch's items keep the patch's order, the others the live order ...
    assert [n for n in order if n in patched] == patched
    assert [n for n in order if n not in patched] == [n for n in live if n not in patched]
    if not set(patched) & set(live):  # ... and brand-new items land first
        assert order == patched + live
    for c in got:
        assert c["image"] == (image if c["name"] in patched else "img:0")


@settings(max_examples=200)
@given(names, names)
def test_set_element_order_decides_the_order(live: list[str], order: list[str]) -> None:
    obj = pod([{"name": n, "image": "i"} for n in live])
    patch = {"spec": {"$setElementOrder/containers": [{"name": n} for n in order],
                      "containers": [{"name": n, "image": "j"} for n in order
                                     if n not in live]}}
    got = [c["name"] for c in smp(obj, patch)["spec"]["containers"]]
    kept = [n for n in order] + [n for n in live if n not in order]
    assert sorted(got) == sorted(set(kept))
    # everything the order names comes in that order
    assert [n for n in got if n in order] == order


@settings(max_examples=200)
@given(names, st.data())
def test_patch_delete_removes_exactly_one_item(live: list[str], data: st.DataObject) -> None:
    if not live:
        return
    victim = data.draw(st.sampled_from(live))
    obj = pod([{"name": n, "image": "i"} for n in live])
    out = smp(obj, {"spec": {"containers": [{"name": victim, "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == [n for n in live if n != victim]


@settings(max_examples=200)
@given(names, names)
def test_patch_replace_on_a_list_replaces_it(live: list[str], patched: list[str]) -> None:
    obj = pod([{"name": n, "image": "i"} for n in live])
    items = [{"name": n, "image": "j"} for n in patched]
    out = smp(obj, {"spec": {"containers": items + [{"$patch": "replace"}]}})
    assert out["spec"]["containers"] == items


@settings(max_examples=200)
@given(labels, labels)
def test_string_maps_merge_like_json_merge_patch(live: dict[str, Any],
                                                 patch: dict[str, Any]) -> None:
    live = {k: v for k, v in live.items() if v is not None}
    obj = pod([], labels=live)
    expected = apply_merge_patch(obj, {"metadata": {"labels": patch}})
    assert smp(obj, {"metadata": {"labels": patch}}) == expected


@settings(max_examples=200)
@given(labels)
def test_patch_replace_on_a_map_keeps_only_the_patch(patch: dict[str, Any]) -> None:
    patch = {k: v for k, v in patch.items() if v is not None}
    obj = pod([], labels={"old": "1"})
    out = smp(obj, {"metadata": {"labels": {**patch, "$patch": "replace"}}})
    assert out["metadata"].get("labels", {}) == patch


@settings(max_examples=200)
@given(st.lists(st.text(alphabet="abc", min_size=1, max_size=2), unique=True, max_size=5),
       st.lists(st.text(alphabet="abc", min_size=1, max_size=2), unique=True, max_size=5))
def test_delete_from_primitive_list(live: list[str], drop: list[str]) -> None:
    obj = pod([], finalizers=live)
    out = smp(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": drop}})
    assert out["metadata"].get("finalizers", []) == [f for f in live if f not in drop]


@settings(max_examples=100)
@given(st.sampled_from(["Recreate", "RollingUpdate"]))
def test_retain_keys_drops_what_it_does_not_list(kind: str) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": kind}}}
    assert smp(obj, patch, DEPLOYMENT)["spec"]["strategy"] == {"type": kind}


@settings(max_examples=100)
@given(names)
def test_empty_patch_is_the_identity(live: list[str]) -> None:
    obj = pod([{"name": n, "image": "i"} for n in live])
    assert smp(obj, {}) == obj
