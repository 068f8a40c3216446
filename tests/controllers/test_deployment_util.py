"""Hashes, revisions, annotations and new/old ReplicaSet finding."""

from __future__ import annotations

import copy

from runtime.controllers.deployment.util import (
    HASH_LABEL,
    REVISION,
    REVISION_HISTORY,
    copy_deployment_annotations,
    equal_ignore_hash,
    find_new_replica_set,
    find_old_replica_sets,
    max_revision,
    pod_template_hash,
    set_new_rs_annotations,
    sorted_by_size,
)
from tests.controllers.deployment_fakes import deployment, replica_set

TEMPLATE = deployment()["spec"]["template"]


def test_hash_is_stable_and_upstream_shaped():
    h = pod_template_hash(TEMPLATE)
    assert h == pod_template_hash(copy.deepcopy(TEMPLATE))
    assert 1 <= len(h) <= 10 and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    other = deployment(image="img:2")["spec"]["template"]
    assert pod_template_hash(other) != h
    # key order, nulls and empty maps do not matter; collisionCount does
    shuffled = {"spec": TEMPLATE["spec"], "metadata": dict(TEMPLATE["metadata"],
                                                           creationTimestamp=None)}
    assert pod_template_hash(shuffled) == h
    assert pod_template_hash(TEMPLATE, 1) not in (h, pod_template_hash(TEMPLATE, 2))


def test_equal_ignore_hash():
    with_hash = copy.deepcopy(TEMPLATE)
    with_hash["metadata"]["labels"][HASH_LABEL] = "abc"
    assert equal_ignore_hash(with_hash, TEMPLATE)
    assert not equal_ignore_hash(with_hash, deployment(image="x")["spec"]["template"])


def test_find_new_and_old_replica_sets():
    d = deployment()
    same = copy.deepcopy(TEMPLATE)
    same["metadata"]["labels"][HASH_LABEL] = "h1"
    new_older = replica_set("a", 1, template=same, created="2024-01-01T00:00:00Z")
    new_newer = replica_set("b", 1, template=same, created="2024-01-02T00:00:00Z")
    old = replica_set("c", 0, template=deployment(image="old")["spec"]["template"])
    old_active = replica_set("d", 2, template=deployment(image="older")["spec"]["template"])
    assert find_new_replica_set(d, [new_newer, old, new_older]) is new_older
    with_pods, everything = find_old_replica_sets(d, [new_older, old, old_active])
    assert with_pods == [old_active] and everything == [old, old_active]
    assert find_new_replica_set(d, [old]) is None


def test_revisions_and_history_on_rollback():
    d = deployment()
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "v2",
                                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                    REVISION: "7"}
    assert max_revision([replica_set("a", 0, revision=3), replica_set("b", 0, revision=12),
                         replica_set("c", 0)]) == 12
    rs = replica_set("a", 1, revision=1)
    assert set_new_rs_annotations(d, rs, "3", True, 10, 13)
    ann = rs["metadata"]["annotations"]
    assert ann[REVISION] == "3" and ann[REVISION_HISTORY] == "1"
    assert ann["kubernetes.io/change-cause"] == "v2"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in ann
    assert "deployment.kubernetes.io/desired-replicas" not in ann  # only on creation
    assert set_new_rs_annotations(d, rs, "5", True, 10, 13)
    assert rs["metadata"]["annotations"][REVISION_HISTORY] == "1,3"
    assert not set_new_rs_annotations(d, rs, "4", True, 10, 13)  # never lowered


def test_new_replica_set_annotations_on_creation_and_history_limit():
    rs = replica_set("a", 0)
    set_new_rs_annotations(deployment(), rs, "1", False, 10, 13)
    ann = rs["metadata"]["annotations"]
    assert ann["deployment.kubernetes.io/desired-replicas"] == "10"
    assert ann["deployment.kubernetes.io/max-replicas"] == "13"
    long = replica_set("b", 0, revision=9, **{REVISION_HISTORY: "1,2,3,4"})
    set_new_rs_annotations(deployment(), long, "10", True, 1, 1, limit=8)
    assert long["metadata"]["annotations"][REVISION_HISTORY] == "2,3,4,9"


def test_copy_annotations_reports_changes():
    d = deployment()
    d["metadata"]["annotations"] = {"a": "1"}
    rs = replica_set("a", 0)
    assert copy_deployment_annotations(d, rs) and not copy_deployment_annotations(d, rs)


def test_sort_by_size():
    a = replica_set("a", 2, created="2024-01-01T00:00:00Z")
    b = replica_set("b", 2, created="2024-01-02T00:00:00Z")
    c = replica_set("c", 5, created="2024-01-03T00:00:00Z")
    assert [r["metadata"]["name"] for r in sorted_by_size([a, b, c], newer_first=True)] == \
        ["c", "b", "a"]
    assert [r["metadata"]["name"] for r in sorted_by_size([a, b, c], newer_first=False)] == \
        ["c", "a", "b"]
