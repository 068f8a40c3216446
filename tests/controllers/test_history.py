"""ControllerRevision history as pure functions: data, hash, name, equality, truncation."""

from __future__ import annotations

import copy
from typing import Any

from runtime.controllers.common import revisions as h

REF = {"kind": "StatefulSet", "name": "web", "uid": "u", "controller": True}


def parent(image: str = "img:1") -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u",
                         "annotations": {"note": "x"}},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def test_revision_shape_and_stable_hash():
    rev = h.new_revision(parent(), REF, 3)
    hash_ = h.hash_of(rev)
    assert rev["metadata"]["name"] == f"web-{hash_}" and rev["revision"] == 3
    assert rev["metadata"]["labels"] == {"app": "web", h.REVISION_HASH_LABEL: hash_}
    assert rev["metadata"]["annotations"] == {"note": "x"}
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert set(hash_) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert h.hash_of(h.new_revision(parent(), REF, 9)) == hash_  # the number is not hashed
    assert h.hash_of(h.new_revision(parent("img:2"), REF, 3)) != hash_
    assert h.hash_of(h.new_revision(parent(), REF, 3, collision_count=1)) != hash_


def test_equal_revisions_ignore_key_order():
    a = h.new_revision(parent(), REF, 1)
    b = copy.deepcopy(a)
    b["data"] = {"spec": dict(reversed(list(b["data"]["spec"].items())))}
    assert h.equal_revisions([b], a) == [b]
    assert h.equal_revisions([h.new_revision(parent("other"), REF, 2)], a) == []
    assert h.next_number([a, h.new_revision(parent("other"), REF, 7)]) == 8


def test_truncate_keeps_live_and_the_newest():
    revs = [h.new_revision(parent(f"img:{i}"), REF, i) for i in range(1, 6)]
    names = [r["metadata"]["name"] for r in revs]
    doomed = h.revisions_to_truncate(revs, {names[0], names[4]}, 2)
    assert [r["metadata"]["name"] for r in doomed] == [names[1]]
    assert h.revisions_to_truncate(revs, set(), 10) == []
    assert len(h.revisions_to_truncate(revs, set(), 0)) == 5
