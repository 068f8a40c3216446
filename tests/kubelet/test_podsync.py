"""The Docker kubelet's pure core: what to start, restart or wait for given the containers
that exist (init containers in order, restart policies, upstream's crash back-off of 10 s
doubling to 5 min), and the status reported from them (phase, conditions, states)."""

from __future__ import annotations

from typing import Any

from runtime.kubelet.backoff import Backoff, duration
from runtime.kubelet.cri import ContainerInfo
from runtime.kubelet.podreport import Observed, pod_status
from runtime.kubelet.podsync import plan

Obj = dict[str, Any]


def pod(policy: str = "Always", inits: int = 0, apps: int = 1) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"restartPolicy": policy,
                     "initContainers": [{"name": f"i{n}", "image": "busybox"}
                                        for n in range(inits)],
                     "containers": [{"name": f"c{n}", "image": "busybox"}
                                    for n in range(apps)]}}


def box(state: str = "running", attempt: int = 0) -> ContainerInfo:
    return ContainerInfo(id=f"sb{attempt}", name="POD", pod_uid="u", pod_namespace="ns",
                         pod_name="p", attempt=attempt, state=state, ip="172.17.0.5")


def ctr(name: str, state: str = "running", attempt: int = 0, code: int = 0,
        finished: float = 0.0, init: bool = False) -> ContainerInfo:
    return ContainerInfo(id=f"{name}-{attempt}", name=name, pod_uid="u", pod_namespace="ns",
                         pod_name="p", attempt=attempt, state=state, exit_code=code,
                         started_at="2026-01-01T00:00:00Z",
                         finished_at="2026-01-01T00:00:01Z" if state == "exited" else "",
                         finished_ts=finished, init=init)


def names(p: Any) -> list[tuple[str, int, bool]]:
    return [(c["name"], attempt, init) for c, attempt, init in p.start]


def test_sandbox_first_then_init_containers_one_at_a_time() -> None:
    b = Backoff()
    assert plan(pod(inits=2), [], b, 0).start_sandbox == 0
    assert names(plan(pod(inits=2), [box()], b, 0)) == [("i0", 0, True)]
    assert names(plan(pod(inits=2), [box(), ctr("i0", init=True)], b, 0)) == []
    done = [box(), ctr("i0", "exited", init=True)]
    assert names(plan(pod(inits=2), done, b, 0)) == [("i1", 0, True)]
    done.append(ctr("i1", "exited", init=True))
    assert names(plan(pod(inits=2, apps=2), done, b, 0)) == [("c0", 0, False), ("c1", 0, False)]


def test_crash_back_off_doubles() -> None:
    b = Backoff()
    first = plan(pod(), [box(), ctr("c0", "exited", code=1, finished=100)], b, 100.5)
    assert names(first) == [("c0", 1, False)]        # the first restart is immediate
    second = plan(pod(), [box(), ctr("c0", "exited", 1, 1, finished=101)], b, 102)
    assert names(second) == [] and second.resync_at == 111
    assert second.waiting["c0"] == ("CrashLoopBackOff", "back-off 10s restarting failed "
                                    "container=c0 pod=p_ns(u)")
    assert names(plan(pod(), [box(), ctr("c0", "exited", 1, 1, finished=101)], b, 111)) == \
        [("c0", 2, False)]
    third = plan(pod(), [box(), ctr("c0", "exited", 2, 1, finished=112)], b, 113)
    assert third.resync_at == 132 and "back-off 20s" in third.waiting["c0"][1]
    assert duration(300) == "5m0s" and duration(160) == "2m40s"


def test_crash_back_off_starts_over_after_ten_minutes_of_running() -> None:
    b = Backoff()
    b.entries["u/c0"] = (160.0, 1000.0)              # restarted at 1000 after a 160 s wait
    short = plan(pod(), [box(), ctr("c0", "exited", 3, 1, finished=1500)], b, 1501)
    assert "back-off 2m40s" in short.waiting["c0"][1]  # ran 500 s: still backing off
    b.entries["u/c0"] = (160.0, 1000.0)
    long = plan(pod(), [box(), ctr("c0", "exited", 3, 1, finished=1601)], b, 1602)
    assert names(long) == [("c0", 4, False)]          # ran > 600 s: restarted at once
    assert b.entries["u/c0"] == (10.0, 1602)          # and the next delay is 10 s again


def test_restart_policies() -> None:
    ok, failed = ctr("c0", "exited", code=0, finished=1), ctr("c0", "exited", code=2, finished=1)
    assert names(plan(pod("Never"), [box(), failed], Backoff(), 2)) == []
    assert names(plan(pod("OnFailure"), [box(), ok], Backoff(), 2)) == []
    assert names(plan(pod("OnFailure"), [box(), failed], Backoff(), 2)) == [("c0", 1, False)]
    assert names(plan(pod("Always"), [box(), ok], Backoff(), 2)) == [("c0", 1, False)]


def test_terminal_pods_stop_what_runs_and_old_instances_are_removed() -> None:
    p = pod("Never")
    p["status"] = {"phase": "Succeeded"}
    done = plan(p, [box(), ctr("c0", "exited")], Backoff(), 0)
    assert [c.id for c in done.stop] == ["sb0"] and done.start_sandbox is None
    many = [box(), *(ctr("c0", "exited", attempt=a, code=1) for a in range(4))]
    assert sorted(c.id for c in plan(pod(), many, Backoff(), 0).remove) == ["c0-0", "c0-1"]


def obs(**kw: Any) -> Observed:
    return Observed(host_ip="172.17.0.1", now="2026-01-01T00:00:09Z", **kw)


def test_status_of_a_running_ready_pod() -> None:
    s = pod_status(pod(inits=1), [box(), ctr("i0", "exited", init=True), ctr("c0")],
                   obs(ready=frozenset({"c0-0"})))
    assert s["phase"] == "Running" and s["podIP"] == "172.17.0.5"
    assert {c["type"]: c["status"] for c in s["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
        "ContainersReady": "True", "PodScheduled": "True"}
    st = s["containerStatuses"][0]
    assert st["ready"] and st["containerID"] == "docker://c0-0" and "running" in st["state"]
    assert s["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_status_phases_and_reasons() -> None:
    failed = pod_status(pod("Never"), [box("exited"), ctr("c0", "exited", code=3)], obs())
    term = failed["containerStatuses"][0]["state"]["terminated"]
    assert failed["phase"] == "Failed" and term["exitCode"] == 3 and term["reason"] == "Error"
    done = pod_status(pod("OnFailure"), [box("exited"), ctr("c0", "exited")], obs())
    assert done["phase"] == "Succeeded"
    crash = pod_status(pod(), [box(), ctr("c0", "exited", 1, 1)],
                       obs(waiting={"c0": ("CrashLoopBackOff", "back-off 10s")}))
    st = crash["containerStatuses"][0]
    assert crash["phase"] == "Running" and st["restartCount"] == 1
    assert st["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert st["lastState"]["terminated"]["exitCode"] == 1
    pulling = pod_status(pod(), [box()], obs(waiting={"c0": ("ErrImagePull", "no")}))
    assert pulling["phase"] == "Pending"
    initing = pod_status(pod(inits=1), [box(), ctr("i0", init=True)], obs())
    assert initing["phase"] == "Pending"
    assert initing["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    init_failed = pod_status(pod("Never", inits=1),
                             [box(), ctr("i0", "exited", code=1, init=True)], obs())
    assert init_failed["phase"] == "Failed"
