"""The garbage collector's pure graph and decisions: objects in, work and plans out."""

from __future__ import annotations

from typing import Any

from runtime.controllers.garbagecollector.graph import (
    FOREGROUND,
    ORPHAN,
    Action,
    Graph,
    OwnerState,
    owner_state,
    plan_dependent,
    plan_foreground_owner,
    unblocked_owner_refs,
    without_finalizer,
    without_owner_refs,
)

Obj = dict[str, Any]


def obj(kind: str, name: str, uid: str, *owners: Obj, ns: str = "ns", deleting: bool = False,
        finalizers: tuple[str, ...] = ()) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "uid": uid}
    if owners:
        meta["ownerReferences"] = list(owners)
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta}


def ref(owner: Obj, *, block: bool = True, controller: bool = True) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": controller, "blockOwnerDeletion": block}


DEPLOY = obj("Deployment", "web", "d1")
RS = obj("ReplicaSet", "web-1", "r1", ref(DEPLOY))
POD_A = obj("Pod", "web-1-a", "p1", ref(RS))
POD_B = obj("Pod", "web-1-b", "p2", ref(RS, block=False))


def graph_of(*objs: Obj) -> Graph:
    g = Graph()
    for o in objs:
        g.observe(o)
    return g


# -- the graph ---------------------------------------------------------------------------
def test_edges_follow_owner_references_by_uid() -> None:
    g = graph_of(DEPLOY, RS, POD_A, POD_B)
    assert g.get("d1").dependents == {"r1"}  # type: ignore[union-attr]
    assert g.get("r1").dependents == {"p1", "p2"}  # type: ignore[union-attr]
    assert [d.identity.uid for d in g.blocking_dependents("r1")] == ["p1"]


def test_a_dependent_seen_before_its_owner_makes_a_virtual_owner_and_is_checked() -> None:
    g = Graph()
    work = g.observe(POD_A)
    owner = g.get("r1")
    assert owner is not None and not owner.observed and owner.identity.kind == "ReplicaSet"
    assert work.attempt_delete == {"p1"}  # verify the owner exists, live
    work = g.observe(RS)
    assert g.get("r1").observed  # type: ignore[union-attr]
    assert "p1" in work.attempt_delete


def test_deleting_an_owner_enqueues_its_dependents() -> None:
    g = graph_of(DEPLOY, RS, POD_A)
    work = g.forget(RS)
    assert work.attempt_delete == {"p1"}
    assert g.get("r1") is None or not g.get("r1").observed  # type: ignore[union-attr]
    assert g.get("d1").dependents == set()  # type: ignore[union-attr]


def test_virtual_owner_is_dropped_when_its_last_dependent_goes() -> None:
    g = Graph()
    g.observe(POD_A)
    g.forget(POD_A)
    assert len(g) == 0


def test_foreground_owner_enqueues_itself_and_its_dependents() -> None:
    g = graph_of(DEPLOY, RS, POD_A, POD_B)
    work = g.observe(obj("ReplicaSet", "web-1", "r1", ref(DEPLOY), deleting=True,
                         finalizers=(FOREGROUND,)))
    assert work.attempt_delete == {"r1", "p1", "p2"}
    assert g.get("r1").deleting_dependents  # type: ignore[union-attr]


def test_deleting_a_blocking_dependent_enqueues_the_waiting_owner() -> None:
    g = graph_of(DEPLOY, POD_A)
    g.observe(obj("ReplicaSet", "web-1", "r1", ref(DEPLOY), deleting=True,
                  finalizers=(FOREGROUND,)))
    assert g.forget(POD_A).attempt_delete == {"r1"}


def test_unblocking_a_reference_enqueues_the_waiting_owner() -> None:
    g = graph_of(RS, POD_A)
    g.observe(obj("ReplicaSet", "web-1", "r1", deleting=True, finalizers=(FOREGROUND,)))
    work = g.observe(obj("Pod", "web-1-a", "p1", ref(RS, block=False)))
    assert "r1" in work.attempt_delete


def test_orphan_finalizer_enqueues_orphaning() -> None:
    g = graph_of(RS, POD_A)
    work = g.observe(obj("ReplicaSet", "web-1", "r1", deleting=True, finalizers=(ORPHAN,)))
    assert work.attempt_orphan == {"r1"}


def test_removing_a_reference_moves_the_edge() -> None:
    g = graph_of(DEPLOY, RS)
    g.observe(obj("ReplicaSet", "web-1", "r1"))
    assert g.get("d1").dependents == set()  # type: ignore[union-attr]


# -- decisions ---------------------------------------------------------------------------
def test_owner_state() -> None:
    r = ref(RS)
    assert owner_state(r, None) is OwnerState.ABSENT
    assert owner_state(r, obj("ReplicaSet", "web-1", "other")) is OwnerState.ABSENT
    assert owner_state(r, RS) is OwnerState.SOLID
    assert owner_state(r, obj("ReplicaSet", "web-1", "r1", deleting=True,
                              finalizers=(FOREGROUND,))) is OwnerState.WAITING
    assert owner_state(r, obj("ReplicaSet", "web-1", "r1", deleting=True,
                              finalizers=(ORPHAN,))) is OwnerState.SOLID


def test_plan_background_when_every_owner_is_gone() -> None:
    plan = plan_dependent(POD_A, {"r1": OwnerState.ABSENT}, has_dependents=False)
    assert (plan.action, plan.policy) == (Action.DELETE, "Background")


def test_plan_keeps_an_object_with_a_solid_owner_and_drops_dangling_refs() -> None:
    pod = obj("Pod", "p", "p9", ref(RS), ref(DEPLOY))
    assert plan_dependent(pod, {"r1": OwnerState.SOLID, "d1": OwnerState.SOLID},
                          False).action is Action.NONE
    plan = plan_dependent(pod, {"r1": OwnerState.SOLID, "d1": OwnerState.ABSENT}, False)
    assert (plan.action, plan.uids) == (Action.REMOVE_REFS, ["d1"])
    plan = plan_dependent(pod, {"r1": OwnerState.SOLID, "d1": OwnerState.WAITING}, False)
    assert (plan.action, plan.uids) == (Action.REMOVE_REFS, ["d1"])


def test_plan_foreground_cascades_to_dependents_with_dependents() -> None:
    plan = plan_dependent(RS, {"d1": OwnerState.WAITING}, has_dependents=True)
    assert (plan.action, plan.policy) == (Action.DELETE, "Foreground")
    plan = plan_dependent(POD_A, {"r1": OwnerState.WAITING}, has_dependents=False)
    assert (plan.action, plan.policy) == (Action.DELETE, "Background")


def test_plan_unblocks_references_when_a_dependent_also_waits_in_the_foreground() -> None:
    # a cycle: RS waits for its dependents, one of which waits for RS (through its own)
    plan = plan_dependent(RS, {"d1": OwnerState.WAITING}, True, dependent_deleting_dependents=True)
    assert (plan.action, plan.policy, plan.unblock) == (Action.DELETE, "Foreground", True)
    assert not plan_dependent(RS, {"d1": OwnerState.WAITING}, True).unblock
    pod = obj("Pod", "p", "p9", ref(RS), ref(DEPLOY, block=False))
    assert [r["blockOwnerDeletion"] for r in unblocked_owner_refs(pod) or []] == [False, False]
    assert pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    assert unblocked_owner_refs(POD_B) is None


def test_plan_keeps_the_policy_the_object_already_asked_for() -> None:
    rs = obj("ReplicaSet", "web-1", "r1", ref(DEPLOY), finalizers=(ORPHAN,))
    assert plan_dependent(rs, {"d1": OwnerState.ABSENT}, True).policy == "Orphan"


def test_plan_unknown_owner_kind_counts_as_solid() -> None:
    assert plan_dependent(POD_A, {}, False).action is Action.NONE
    assert plan_dependent(obj("Pod", "bare", "p0"), {}, False).action is Action.NONE


def test_foreground_owner_waits_for_blocking_dependents_only() -> None:
    g = graph_of(RS, POD_A, POD_B)
    plan = plan_foreground_owner(g, "r1")
    assert (plan.action, plan.uids) == (Action.WAIT, ["p1"])
    g.forget(POD_A)
    assert plan_foreground_owner(g, "r1").action is Action.REMOVE_FINALIZER


def test_edits_return_new_lists_and_leave_the_object_alone() -> None:
    pod = obj("Pod", "p", "p9", ref(RS), ref(DEPLOY), finalizers=(ORPHAN, "x"))
    assert [r["uid"] for r in without_owner_refs(pod, {"r1"})] == ["d1"]
    assert without_finalizer(pod, ORPHAN) == ["x"]
    assert len(pod["metadata"]["ownerReferences"]) == 2
    assert pod["metadata"]["finalizers"] == [ORPHAN, "x"]
