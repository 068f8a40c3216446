"""Job semantics as pure functions: completion indexes, how many pods to want, which
to remove first, pod construction, conditions, back-off and TTL, with fixed times."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runtime.controllers.job import indexes as jx
from runtime.controllers.job import plan as jp

NOW = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
REF = {"kind": "Job", "name": "pi", "uid": "job-uid", "controller": True}


def job(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "ns", "uid": "job-uid"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}},
                                  "spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "i"}]}},
                     **spec},
            "status": {}}


def pod(name: str, *, phase: str = "Running", ready: bool = False, node: str = "n1",
        created: str = "2024-01-01T00:00:00Z", index: int | None = None,
        restarts: int = 0) -> dict[str, Any]:
    p: dict[str, Any] = {"metadata": {"name": name, "uid": name, "creationTimestamp": created},
                         "spec": {"nodeName": node} if node else {},
                         "status": {"phase": phase, "containerStatuses": [
                             {"restartCount": restarts}],
                             "conditions": [{"type": "Ready", "status": str(ready)}]}}
    if ready:
        p["status"]["conditions"][0]["status"] = "True"
    if index is not None:
        p["metadata"]["annotations"] = {jx.INDEX_ANNOTATION: str(index)}
    return p


# -- indexes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,n,expect", [
    ("", 5, set()), ("0-2,4", 5, {0, 1, 2, 4}), ("1,3-7", 5, {1, 3, 4}), ("x,2", 5, {2}),
])
def test_parse_indexes(text: str, n: int, expect: set[int]):
    assert jx.parse_indexes(text, n) == expect


def test_format_indexes():
    assert jx.format_indexes([]) == ""
    assert jx.format_indexes([4, 0, 1, 2, 7, 8]) == "0-2,4,7-8"
    assert jx.format_indexes([3]) == "3"


def test_first_pending_and_surplus():
    active = [pod("a", index=1), pod("b", index=3)]
    assert jx.first_pending(6, {0, 2}, active, 2) == [4, 5]
    dup = [pod("a", index=1, created="2024-01-01T00:00:00Z"),
           pod("b", index=1, created="2024-01-01T00:01:00Z", ready=True), pod("c", index=9),
           pod("d")]
    rm, keep = jx.surplus_pods(dup, 5, jp.removal_order)
    assert sorted(p["metadata"]["name"] for p in rm) == ["a", "c", "d"]
    assert [p["metadata"]["name"] for p in keep] == ["b"]


# -- counts -----------------------------------------------------------------------------------
def test_want_active_and_complete():
    assert jp.want_active(job(completions=5, parallelism=2), 0, 0) == 2
    assert jp.want_active(job(completions=5, parallelism=2), 4, 1) == 1
    assert jp.want_active(job(completions=5, parallelism=2), 5, 0) == 0
    work_queue = job(parallelism=3)  # no completions: until the first success
    assert jp.want_active(work_queue, 0, 1) == 3
    assert jp.want_active(work_queue, 1, 2) == 2
    assert jp.is_complete(work_queue, 1, 0) and not jp.is_complete(work_queue, 1, 1)
    assert jp.is_complete(job(completions=2), 2, 0) and not jp.is_complete(job(completions=2), 1, 0)


def test_removal_order_prefers_the_least_established():
    pods = [pod("running-ready", ready=True), pod("pending", phase="Pending"),
            pod("unscheduled", phase="Pending", node=""), pod("running")]
    assert [p["metadata"]["name"] for p in sorted(pods, key=jp.removal_order)] == [
        "unscheduled", "pending", "running", "running-ready"]
    newer = [pod("old", created="2024-01-01T00:00:00Z"), pod("new", created="2024-01-02T00:00:00Z")]
    assert sorted(newer, key=jp.removal_order)[0]["metadata"]["name"] == "new"
    assert jp.pods_for_removal(job(), newer, 1)[0]["metadata"]["name"] == "new"


def test_failed_pods():
    assert jp.is_pod_failed(pod("a", phase="Failed"))
    deleted = pod("b")
    deleted["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert jp.is_pod_failed(deleted)
    deleted["status"]["phase"] = "Succeeded"
    assert not jp.is_pod_failed(deleted)


def test_backoff_limit_on_failure_counts_restarts():
    j = job(backoffLimit=2)
    j["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert not jp.past_backoff_limit_on_failure(j, [pod("a", restarts=1)])
    assert jp.past_backoff_limit_on_failure(j, [pod("a", restarts=1), pod("b", restarts=1)])
    assert not jp.past_backoff_limit_on_failure(job(backoffLimit=0), [pod("a", restarts=5)])


# -- pods -------------------------------------------------------------------------------------
def test_new_pod_labels_finalizer_and_index():
    p = jp.new_pod(job(), None, REF)
    md = p["metadata"]
    assert md["generateName"] == "pi-" and md["finalizers"] == [jp.TRACKING_FINALIZER]
    assert md["labels"] == {"app": "pi", jp.CONTROLLER_UID_LABEL: "job-uid",
                            jp.JOB_NAME_LABEL: "pi", "controller-uid": "job-uid",
                            "job-name": "pi"}
    ix = jp.new_pod(job(completions=3, completionMode="Indexed"), 2, REF)
    assert ix["metadata"]["generateName"] == "pi-2-"
    assert ix["metadata"]["annotations"] == {jx.INDEX_ANNOTATION: "2"}
    assert ix["metadata"]["labels"][jx.INDEX_LABEL] == "2"
    assert ix["spec"]["hostname"] == "pi-2"
    env = ix["spec"]["containers"][0]["env"]
    assert env[0]["name"] == "JOB_COMPLETION_INDEX"
    manual = jp.new_pod(job(manualSelector=True), None, REF)
    assert manual["metadata"]["labels"] == {"app": "pi"}


# -- conditions and time ------------------------------------------------------------------------
def test_ensure_condition():
    conds, changed = jp.ensure_condition([], "Suspended", "False", "JobResumed", "r", NOW)
    assert (conds, changed) == ([], False)
    conds, changed = jp.ensure_condition([], "Suspended", "True", "JobSuspended", "s", NOW)
    assert changed and conds[0]["lastTransitionTime"] == "2024-01-01T12:00:00Z"
    again, changed = jp.ensure_condition(conds, "Suspended", "True", "JobSuspended", "s", NOW)
    assert not changed and again == conds
    resumed, changed = jp.ensure_condition(conds, "Suspended", "False", "JobResumed", "r", NOW)
    assert changed and resumed[0]["status"] == "False"


def test_deadline_and_ttl():
    j = job(activeDeadlineSeconds=30, ttlSecondsAfterFinished=100)
    assert jp.deadline(j) is None
    j["status"]["startTime"] = "2024-01-01T11:59:50Z"
    assert jp.deadline(j) == NOW + dt.timedelta(seconds=20)
    j["spec"]["suspend"] = True
    assert jp.deadline(j) is None
    assert jp.ttl_expiry(j) is None  # not finished
    j["status"]["conditions"] = [{"type": "Complete", "status": "True",
                                  "lastTransitionTime": "2024-01-01T12:00:00Z"}]
    assert jp.ttl_expiry(j) == NOW + dt.timedelta(seconds=100)
    j["status"]["completionTime"] = "2024-01-01T12:00:10Z"
    assert jp.ttl_expiry(j) == NOW + dt.timedelta(seconds=110)


def test_backoff():
    b = jp.Backoff()
    assert b.remaining(NOW, 10, 600) == 0
    b = b.after([], [NOW - dt.timedelta(seconds=4)])
    assert b.failures == 1 and b.remaining(NOW, 10, 600) == 6
    b = b.after([], [NOW, NOW])
    assert b.failures == 3 and b.remaining(NOW, 10, 600) == 40
    assert b.after([NOW], []).failures == 0
    later = b.after([NOW - dt.timedelta(seconds=5)], [NOW])
    assert (later.failures, later.last_failure) == (1, NOW)
    assert jp.Backoff(20, NOW).remaining(NOW, 10, 600) == 600
