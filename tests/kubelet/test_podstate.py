"""The pure pod state machine of a simulated node: events in, actions out."""

from __future__ import annotations

from typing import Any

from runtime.kubelet.podstate import (
    DeletePod,
    PodGone,
    PodSeen,
    PodStateMachine,
    SetTimer,
    TimerFired,
    Timing,
    WriteStatus,
)

Obj = dict[str, Any]
T0 = 1_800_000_000.0


def machine() -> PodStateMachine:
    return PodStateMachine("node-1", "127.0.1.1", "10.128.0.",
                           Timing(start_delay=0.5, complete_after=2.0))


def pod(name: str = "p", *, uid: str = "u1", owner: str | None = None,
        annotations: dict[str, str] | None = None, restart: str = "Always",
        phase: str = "Pending", deleting: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": uid,
                 "annotations": annotations or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "o", "uid": "x", "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": "node-1", "restartPolicy": restart,
                                       "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": phase, "qosClass": "BestEffort"}}


def start(m: PodStateMachine, p: Obj) -> list[Any]:
    [timer] = m.handle(PodSeen(p, T0))
    assert timer == SetTimer("ns/" + p["metadata"]["name"], T0 + 0.5)
    return m.handle(TimerFired(timer.key, timer.at, timer.at))


def test_bound_pod_runs_and_becomes_ready() -> None:
    m = machine()
    [write] = start(m, pod())
    assert isinstance(write, WriteStatus) and (write.namespace, write.name) == ("ns", "p")
    st = write.status
    assert st["phase"] == "Running" and st["podIP"] == "10.128.0.2"
    assert st["hostIP"] == "127.0.1.1" and st["podIPs"] == [{"ip": "10.128.0.2"}]
    assert st["qosClass"] == "BestEffort" and st["startTime"]
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True",
                     "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}
    [cs] = st["containerStatuses"]
    assert cs["ready"] and cs["started"] and "running" in cs["state"]
    assert all(c["lastTransitionTime"] for c in st["conditions"])


def test_own_status_echo_and_second_pod_ip() -> None:
    m = machine()
    [write] = start(m, pod())
    assert m.handle(PodSeen(dict(pod(), status=write.status), T0 + 1)) == []
    [w2] = start(m, pod("q", uid="u2"))
    assert w2.status["podIP"] == "10.128.0.3"


def test_job_pod_succeeds() -> None:
    m = machine()
    running, timer = start(m, pod(owner="Job", restart="Never"))
    assert timer == SetTimer("ns/p", T0 + 0.5 + 2.0)
    [done] = m.handle(TimerFired("ns/p", timer.at, timer.at))
    st = done.status
    assert st["phase"] == "Succeeded"
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert {c["type"]: c.get("reason") for c in st["conditions"]}["Ready"] == "PodCompleted"


def test_annotation_completes_and_fails() -> None:
    m = machine()
    p = pod(restart="Never", annotations={"sim.kapi.dev/complete-after": "5",
                                          "sim.kapi.dev/exit-code": "3"})
    _, timer = start(m, p)
    assert timer.at == T0 + 0.5 + 5
    [done] = m.handle(TimerFired("ns/p", timer.at, timer.at))
    assert done.status["phase"] == "Failed"
    assert done.status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def test_annotation_ignored_for_restart_always_and_on_failure_restarts() -> None:
    m = machine()
    assert len(start(m, pod(annotations={"sim.kapi.dev/complete-after": "1"}))) == 1
    m2 = machine()
    p = pod(restart="OnFailure", annotations={"sim.kapi.dev/complete-after": "1",
                                               "sim.kapi.dev/exit-code": "1"})
    _, timer = start(m2, p)
    write, again = m2.handle(TimerFired("ns/p", timer.at, timer.at))
    assert write.status["phase"] == "Running"
    assert write.status["containerStatuses"][0]["restartCount"] == 1
    assert isinstance(again, SetTimer)


def test_not_ready_annotation() -> None:
    [write] = start(machine(), pod(annotations={"sim.kapi.dev/ready": "false"}))
    ready = next(c for c in write.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"


def test_graceful_delete_terminates_then_deletes_with_uid() -> None:
    m = machine()
    start(m, pod())
    write, delete = m.handle(PodSeen(pod(deleting=True, phase="Running"), T0 + 3))
    assert isinstance(write, WriteStatus)
    assert "terminated" in write.status["containerStatuses"][0]["state"]
    assert delete == DeletePod("ns", "p", "u1")
    assert m.handle(PodSeen(pod(deleting=True, phase="Running"), T0 + 4)) == []
    m.handle(PodGone("ns/p"))
    assert m.records == {}


def test_delete_before_start_and_stale_timers() -> None:
    m = machine()
    [timer] = m.handle(PodSeen(pod(), T0))
    assert m.handle(PodSeen(pod(deleting=True), T0 + 0.1)) == [DeletePod("ns", "p", "u1")]
    assert m.handle(TimerFired("ns/p", timer.at, timer.at)) == []


def test_a_new_pod_under_an_old_name_starts_over() -> None:
    m = machine()
    start(m, pod())
    m.handle(PodGone("ns/p"))
    [timer] = m.handle(PodSeen(pod(uid="u2"), T0 + 10))
    [write] = m.handle(TimerFired("ns/p", timer.at, timer.at))
    assert write.status["podIP"] == "10.128.0.2"  # the IP was released


def test_running_pod_is_adopted_after_a_restart() -> None:
    m = machine()
    p = pod(phase="Running")
    p["status"]["podIP"] = "10.128.0.7"
    assert m.handle(PodSeen(p, T0)) == []
    [write] = start(m, pod("q", uid="u2"))
    assert write.status["podIP"] == "10.128.0.2"


def test_active_deadline_fails_the_pod_and_may_be_shortened() -> None:
    m = machine()
    p = pod()
    p["spec"]["activeDeadlineSeconds"] = 30
    [write, timer] = start(m, p)
    assert write.status["phase"] == "Running" and timer == SetTimer("ns/p", T0 + 0.5 + 30)
    shorter = dict(p, spec=dict(p["spec"], activeDeadlineSeconds=5), status=write.status)
    [timer2] = m.handle(PodSeen(shorter, T0 + 2))
    assert timer2 == SetTimer("ns/p", T0 + 0.5 + 5)
    assert m.handle(PodSeen(shorter, T0 + 3)) == []  # unchanged: no second timer
    assert m.handle(TimerFired("ns/p", timer.at, timer.at)) == []  # the stale, longer one
    [failed] = m.handle(TimerFired("ns/p", timer2.at, timer2.at))
    st = failed.status
    assert (st["phase"], st["reason"]) == ("Failed", "DeadlineExceeded")
    assert st["message"] == "Pod was active on the node longer than the specified deadline"
    assert "terminated" in st["containerStatuses"][0]["state"]
