"""StatefulSet decisions as pure functions: ordinals and identity, claims, OrderedReady
vs Parallel, scale-down order, RollingUpdate with a partition, OnDelete, status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from runtime.controllers.common.revisions import new_revision
from runtime.controllers.statefulset import pods as sp
from runtime.controllers.statefulset.plan import (
    Revisions,
    apply_revision,
    compute_status,
    next_check,
    plan,
    versioned_pod,
)

NOW = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
REF = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "sts-uid",
       "controller": True, "blockOwnerDeletion": True}


def sts(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "sts-uid", "generation": 4},
            "spec": {"replicas": replicas, "serviceName": "web-svc",
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "img:1"}],
                                           "volumes": [{"name": "data", "emptyDir": {}}]}},
                     **spec}}


def revs(s: dict[str, Any], current: str = "web-1", update: str = "web-1",
         current_set: dict[str, Any] | None = None) -> Revisions:
    return Revisions(current_set or s, s, current, update, REF)


def pod(ordinal: int, phase: str = "Running", ready: bool = True, rev: str = "web-1",
        terminating: bool = False, name: str = "web") -> dict[str, Any]:
    p: dict[str, Any] = {
        "metadata": {"name": f"{name}-{ordinal}", "namespace": "ns", "uid": f"uid-{ordinal}",
                     "labels": {"app": "web", "controller-revision-hash": rev,
                                sp.POD_NAME_LABEL: f"{name}-{ordinal}",
                                sp.POD_INDEX_LABEL: str(ordinal)}},
        "status": {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": "2024-01-01T11:00:00Z"}]}}
    if terminating:
        p["metadata"]["deletionTimestamp"] = "2024-01-01T12:00:00Z"
    return p


def verbs(actions) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a.verb, a.pod["metadata"]["name"]) for a in actions]


# -- identity ---------------------------------------------------------------------------------
def test_ordinals_from_names():
    assert sp.parent_and_ordinal("web-12") == ("web", 12)
    assert sp.parent_and_ordinal("my-app-0") == ("my-app", 0)
    assert sp.parent_and_ordinal("web") == ("", -1)
    assert sp.is_member(sts(), pod(1)) and not sp.is_member(sts(), pod(1, name="webx"))


def test_new_pod_identity_and_claims():
    s = sts(volumeClaimTemplates=[{"metadata": {"name": "data", "labels": {"tier": "db"}},
                                   "spec": {"resources": {"requests": {"storage": "1Gi"}}}}])
    p = sp.new_pod(s, 2, "web-abc", REF)
    md = p["metadata"]
    assert md["name"] == "web-2" and md["namespace"] == "ns"
    assert md["labels"] == {"app": "web", sp.POD_NAME_LABEL: "web-2", sp.POD_INDEX_LABEL: "2",
                            "controller-revision-hash": "web-abc"}
    assert md["ownerReferences"] == [REF]
    assert p["spec"]["hostname"] == "web-2" and p["spec"]["subdomain"] == "web-svc"
    # the claim replaces the template's volume of the same name
    assert p["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {
        "claimName": "data-web-2"}}]
    claims = sp.new_claims(s, 2)
    assert [c["metadata"]["name"] for c in claims] == ["data-web-2"]
    assert claims[0]["metadata"]["labels"] == {"tier": "db", "app": "web"}
    assert s["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]


def test_start_ordinal():
    s = sts(2, ordinals={"start": 5})
    assert [a.pod["metadata"]["name"] for a in plan(s, [], revs(s), NOW)] == ["web-5"]
    assert sp.in_ordinal_range(s, 6) and not sp.in_ordinal_range(s, 7)


def test_retention_policy_owners():
    pod_ref = {"uid": "pod-uid"}
    keep = sts()
    assert sp.wanted_claim_owners(keep, pod(1), REF, pod_ref) == []
    both = sts(1, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                        "whenScaled": "Delete"})
    assert sp.wanted_claim_owners(both, pod(0), REF, pod_ref) == [REF]
    assert sp.wanted_claim_owners(both, pod(3), REF, pod_ref) == [pod_ref]
    claim = {"metadata": {"ownerReferences": [{"uid": "other"}, REF]}}
    assert sp.claim_owner_patch(claim, [pod_ref], {"sts-uid", "pod-uid"}) == [{"uid": "other"},
                                                                             pod_ref]
    assert sp.claim_owner_patch(claim, [REF], {"sts-uid", "pod-uid"}) is None


# -- OrderedReady -----------------------------------------------------------------------------
def test_ordered_ready_creates_one_at_a_time():
    s = sts()
    assert verbs(plan(s, [], revs(s), NOW)) == [("create", "web-0")]
    assert plan(s, [pod(0, "Pending", ready=False)], revs(s), NOW) == []  # waits for web-0
    assert plan(s, [pod(0, ready=False)], revs(s), NOW) == []
    assert verbs(plan(s, [pod(0)], revs(s), NOW)) == [("create", "web-1")]
    assert verbs(plan(s, [pod(0), pod(1)], revs(s), NOW)) == [("create", "web-2")]


def test_ordered_ready_waits_for_min_ready_seconds():
    s = sts(minReadySeconds=7200)  # ready since 11:00, now 12:00: not yet available
    assert plan(s, [pod(0)], revs(s), NOW) == []
    assert next_check(s, [pod(0)], NOW) == 3600.0


def test_ordered_ready_scales_down_from_the_top_one_at_a_time():
    s = sts(1)
    pods = [pod(0), pod(1), pod(2)]
    assert verbs(plan(s, pods, revs(s), NOW)) == [("delete", "web-2")]
    assert plan(s, [pod(0), pod(1), pod(2, terminating=True)], revs(s), NOW) == []
    assert verbs(plan(s, [pod(0), pod(1)], revs(s), NOW)) == [("delete", "web-1")]


def test_ordered_ready_scale_down_blocks_behind_the_first_unhealthy_pod():
    s = sts(1)
    # web-2 is not ready, and web-1 (lower) is the first unhealthy pod: wait
    assert plan(s, [pod(0), pod(1, ready=False), pod(2, ready=False)], revs(s), NOW) == []
    # the first unhealthy pod itself may go; so may a ready one
    assert verbs(plan(s, [pod(0), pod(1, ready=False)], revs(s), NOW)) == [("delete", "web-1")]
    assert verbs(plan(s, [pod(0), pod(1, ready=False), pod(2)], revs(s), NOW)) == [
        ("delete", "web-2")]
    # an unready pod in range blocks every scale-down
    assert plan(sts(2), [pod(0, ready=False), pod(1), pod(2)], revs(sts(2)), NOW) == []


def test_failed_pod_is_recreated():
    s = sts(2)
    acts = plan(s, [pod(0, "Failed", ready=False), pod(1)], revs(s), NOW)
    assert [(a.verb, a.pod["metadata"]["name"], a.reason) for a in acts] == [
        ("delete", "web-0", "failed"), ("create", "web-0", "")]


def test_missing_identity_labels_are_restored():
    s = sts(1)
    p = pod(0)
    del p["metadata"]["labels"][sp.POD_INDEX_LABEL]
    assert verbs(plan(s, [p], revs(s), NOW)) == [("relabel", "web-0")]
    assert sp.identity_patch(s, p) == {"metadata": {"labels": {
        sp.POD_NAME_LABEL: "web-0", sp.POD_INDEX_LABEL: "0"}}}


def test_deleting_set_does_nothing():
    s = sts()
    s["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert plan(s, [], revs(s), NOW) == []


# -- Parallel ---------------------------------------------------------------------------------
def test_parallel_creates_and_deletes_everything_at_once():
    s = sts(3, podManagementPolicy="Parallel")
    assert verbs(plan(s, [], revs(s), NOW)) == [("create", "web-0"), ("create", "web-1"),
                                                 ("create", "web-2")]
    s1 = sts(1, podManagementPolicy="Parallel")
    got = verbs(plan(s1, [pod(0, ready=False), pod(1), pod(2, "Pending", ready=False)],
                     revs(s1), NOW))
    assert got == [("delete", "web-2"), ("delete", "web-1")]


# -- updates ----------------------------------------------------------------------------------
def test_rolling_update_goes_from_the_highest_ordinal_one_at_a_time():
    s = sts(3)
    r = revs(s, current="web-1", update="web-2")
    old = [pod(0), pod(1), pod(2)]
    assert verbs(plan(s, old, r, NOW)) == [("delete", "web-2")]
    # web-2 recreated at the update revision, not ready yet: wait
    assert plan(s, [pod(0), pod(1), pod(2, ready=False, rev="web-2")], r, NOW) == []
    assert verbs(plan(s, [pod(0), pod(1), pod(2, rev="web-2")], r, NOW)) == [("delete", "web-1")]


def test_rolling_update_respects_the_partition():
    s = sts(4, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    r = revs(s, current="web-1", update="web-2")
    pods = [pod(0), pod(1), pod(2, rev="web-2"), pod(3, rev="web-2")]
    assert plan(s, pods, r, NOW) == []  # ordinals below 2 keep the current revision
    assert verbs(plan(s, [pod(0), pod(1), pod(2), pod(3, rev="web-2")], r, NOW)) == [
        ("delete", "web-2")]


def test_new_pods_below_the_partition_get_the_current_revision():
    old = sts(4, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    new = sts(4, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    r = Revisions(old, new, "web-1", "web-2", REF)
    low, high = versioned_pod(new, r, 1), versioned_pod(new, r, 3)
    assert low["metadata"]["labels"]["controller-revision-hash"] == "web-1"
    assert low["spec"]["containers"][0]["image"] == "img:1"
    assert high["metadata"]["labels"]["controller-revision-hash"] == "web-2"
    assert high["spec"]["containers"][0]["image"] == "img:2"


def test_on_delete_never_deletes_for_an_update():
    s = sts(2, updateStrategy={"type": "OnDelete"})
    r = revs(s, current="web-1", update="web-2")
    assert plan(s, [pod(0), pod(1)], r, NOW) == []
    # a pod deleted by the user comes back at the update revision
    created = plan(s, [pod(0)], r, NOW)[0].pod
    assert created["metadata"]["labels"]["controller-revision-hash"] == "web-2"


def test_apply_revision_restores_the_template():
    old = sts()
    rev = new_revision(old, REF, 1)
    new = sts()
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "img:9"
    assert apply_revision(new, rev)["spec"]["template"] == old["spec"]["template"]
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "img:9"


# -- status -----------------------------------------------------------------------------------
def test_status_counts_and_completes_the_rollout():
    s = sts(3)
    r = revs(s, current="web-1", update="web-2")
    pods = [pod(0), pod(1, ready=False, rev="web-2"), pod(2, rev="web-2", terminating=True)]
    st = compute_status(s, pods, r, 0, NOW)
    assert st == {"observedGeneration": 4, "replicas": 3, "readyReplicas": 2,
                  "currentReplicas": 1, "updatedReplicas": 1, "availableReplicas": 2,
                  "currentRevision": "web-1", "updateRevision": "web-2", "collisionCount": 0}
    done = compute_status(s, [pod(i, rev="web-2") for i in range(3)], r, 0, NOW)
    assert done["currentRevision"] == "web-2" and done["currentReplicas"] == 3
    on_delete = sts(3, updateStrategy={"type": "OnDelete"})
    still = compute_status(on_delete, [pod(i, rev="web-2") for i in range(3)], r, 0, NOW)
    assert still["currentRevision"] == "web-1"
