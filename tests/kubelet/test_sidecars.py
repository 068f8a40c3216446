"""Sidecars (init containers with restartPolicy Always) in the Docker kubelet's pure core:
started in their turn and waited for until started, restarted on exit with back-off
whatever the pod's policy, stopped last-first once a Job's containers are done; and the
status upstream reports for them (phase, Initialized, ContainersReady, their own entry)."""

from __future__ import annotations

from typing import Any

from runtime.kubelet.backoff import Backoff
from runtime.kubelet.podreport import Observed, pod_status
from runtime.kubelet.podsync import plan
from tests.kubelet.test_podsync import box, ctr, names

Obj = dict[str, Any]


def pod(policy: str = "Always") -> Obj:
    """init: sidecar s0, regular i1, sidecar s2; one app container c0."""
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"restartPolicy": policy, "initContainers": [
                {"name": "s0", "image": "busybox", "restartPolicy": "Always"},
                {"name": "i1", "image": "busybox"},
                {"name": "s2", "image": "busybox", "restartPolicy": "Always"}],
                "containers": [{"name": "c0", "image": "busybox"}]}}


def initialized() -> list[Any]:
    return [box(), ctr("s0", init=True), ctr("i1", "exited", init=True),
            ctr("s2", init=True)]


def test_sidecars_start_in_order_each_once_started() -> None:
    b = Backoff()
    assert names(plan(pod(), [box()], b, 0)) == [("s0", 0, True)]
    running = [box(), ctr("s0", init=True)]
    # its startup probe has not passed: nothing else starts yet
    assert names(plan(pod(), running, b, 0, frozenset({"s0-0"}))) == []
    assert names(plan(pod(), running, b, 0)) == [("i1", 0, True)]
    running.append(ctr("i1", "exited", init=True))
    assert names(plan(pod(), running, b, 0)) == [("s2", 0, True)]
    running.append(ctr("s2", init=True))
    assert names(plan(pod(), running, b, 0)) == [("c0", 0, False)]


def test_an_exited_sidecar_restarts_with_back_off_whatever_the_policy() -> None:
    b = Backoff()
    apps = [box(), ctr("s0", "exited", code=0, finished=100, init=True),
            ctr("i1", "exited", init=True), ctr("s2", init=True), ctr("c0")]
    assert names(plan(pod("Never"), apps, b, 100.5)) == [("s0", 1, True)]
    again = [c for c in apps if c.name != "s0"] + [
        ctr("s0", "exited", attempt=1, finished=101, init=True)]
    later = plan(pod("Never"), again, b, 102)
    assert names(later) == [] and "s0" in later.waiting  # CrashLoopBackOff, app untouched
    assert later.waiting["s0"][0] == "CrashLoopBackOff"


def test_a_finished_jobs_sidecars_are_stopped_last_first() -> None:
    done = [*initialized(), ctr("c0", "exited", code=0)]
    p = plan(pod("Never"), done, Backoff(), 0)
    assert [c.name for c in p.stop] == ["s2", "s0"] and not p.start
    # policy Always: the app restarts instead, the sidecars keep running
    assert names(plan(pod("Always"), done, Backoff(), 0)) == [("c0", 1, False)]


def _status(p: Obj, containers: list[Any], **obs: Any) -> Obj:
    return pod_status(p, containers, Observed(host_ip="10.0.0.1", now="t", **obs))


def _cond(status: Obj, type_: str) -> Obj:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_status_while_a_sidecar_starts() -> None:
    st = _status(pod(), [box(), ctr("s0", init=True)], unstarted=frozenset({"s0-0"}))
    assert st["phase"] == "Pending"
    s0 = st["initContainerStatuses"][0]
    assert "running" in s0["state"] and s0["started"] is False and s0["ready"] is False
    assert _cond(st, "Initialized")["message"] == \
        "containers with incomplete status: [s0 i1 s2]"


def test_status_of_a_running_pod_with_sidecars() -> None:
    containers = [*initialized(), ctr("c0")]
    st = _status(pod(), containers, ready=frozenset({"s0-0", "c0-0"}))
    assert st["phase"] == "Running"
    s0, i1, s2 = st["initContainerStatuses"]
    assert (s0["started"], s0["ready"]) == (True, True)
    assert "terminated" in i1["state"] and i1["ready"] is True
    assert (s2["started"], s2["ready"]) == (True, False)
    assert _cond(st, "Initialized")["status"] == "True"
    ready = _cond(st, "ContainersReady")
    assert ready["status"] == "False"
    assert ready["message"] == "containers with unready status: [s2]"


def test_a_jobs_pod_succeeds_once_its_sidecars_are_stopped() -> None:
    running = [*initialized(), ctr("c0", "exited", code=0)]
    assert _status(pod("Never"), running)["phase"] == "Running"  # sidecars still run
    stopped = [box(), ctr("s0", "exited", code=143, init=True),
               ctr("i1", "exited", init=True), ctr("s2", "exited", code=137, init=True),
               ctr("c0", "exited", code=0)]
    st = _status(pod("Never"), stopped)
    assert st["phase"] == "Succeeded"
    assert st["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
