"""A pod's phase as the Docker kubelet reports it: never out of a terminal phase, and
Failed with DeadlineExceeded past spec.activeDeadlineSeconds."""

from __future__ import annotations

from runtime.kubelet.podreport import Observed, final_phase
from runtime.kubelet.podworker import active_deadline

OBS = Observed(host_ip="10.0.0.1", now="2026-01-01T00:00:10Z")


def test_terminal_phases_stick_with_their_reason() -> None:
    old = {"phase": "Failed", "reason": "DeadlineExceeded", "message": "m"}
    assert final_phase(old, "Running", OBS) == ("Failed", {"reason": "DeadlineExceeded",
                                                            "message": "m"})
    assert final_phase({"phase": "Succeeded"}, "Running", OBS) == ("Succeeded", {})


def test_past_the_deadline_is_failed() -> None:
    late = Observed(host_ip="10.0.0.1", now="x", deadline_exceeded=True)
    ph, why = final_phase({"phase": "Running"}, "Running", late)
    assert ph == "Failed" and why["reason"] == "DeadlineExceeded"
    assert final_phase({"phase": "Running"}, "Running", OBS) == ("Running", {})


def test_active_deadline_counts_from_start_time() -> None:
    pod = {"spec": {"activeDeadlineSeconds": 30},
           "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"}}
    assert active_deadline(pod) == 1767225600 + 30
    assert active_deadline({"spec": {}, "status": pod["status"]}) is None
    assert active_deadline({"spec": pod["spec"], "status": {"phase": "Pending"}}) is None
    assert active_deadline({"spec": pod["spec"],
                            "status": dict(pod["status"], phase="Failed")}) is None


def test_a_pod_failed_in_its_init_containers_is_not_initialized() -> None:
    from runtime.kubelet.podreport import conditions
    term = {"terminated": {"exitCode": 1}}
    inits = [{"name": "init1", "ready": True, "state": {"terminated": {"exitCode": 0}},
              "lastState": {}},
             {"name": "init2", "ready": False, "state": term, "lastState": {}}]
    apps = [{"name": "run1", "ready": False, "state": {"waiting": {"reason": "PodInitializing"}},
             "lastState": {}}]
    conds = {c["type"]: c for c in conditions({}, "Failed", inits, apps, False, "now")}
    assert (conds["Initialized"]["status"], conds["Initialized"]["reason"],
            conds["Initialized"]["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [init2]")
    started = [dict(apps[0], state={"running": {}})]
    conds = {c["type"]: c for c in conditions({}, "Running", inits, started, True, "now")}
    assert conds["Initialized"]["status"] == "True"  # a regular container already started
