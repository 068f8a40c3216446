"""The Job controller against a real API server, with a fake clock and the test playing
the kubelet: pods with the tracking finalizer, exact counting, Indexed jobs, backoffLimit
with back-off, activeDeadlineSeconds, suspend/resume and ttlSecondsAfterFinished."""

from __future__ import annotations

from typing import Any

from runtime.client.resources import JOBS, PODS
from runtime.controllers.job import plan as jp
from runtime.controllers.job.controller import JobController
from tests.controllers.workload_harness import Harness, caches_match, run, settle

GVRS = (JOBS, PODS)


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}},
                **spec}}


def pods(h: Harness, ns: str, *, active: bool = True) -> list[dict[str, Any]]:
    out = [p for p in h.informers.get(PODS).list(ns)
           if not active or (p["status"].get("phase") in ("Pending", "Running")
                             and not p["metadata"].get("deletionTimestamp"))]
    return sorted(out, key=lambda p: p["metadata"]["name"])


async def status(h: Harness, ns: str, name: str) -> dict[str, Any]:
    return (await h.client.get(JOBS, name, ns)).get("status") or {}


def conditions(st: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in st.get("conditions") or []]


def test_completions_and_parallelism(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, JobController) as h:
            await h.client.create(JOBS, job("pi", completions=3, parallelism=2), ns)
            await settle(h, ns, "pi", GVRS)
            running = pods(h, ns)
            assert len(running) == 2
            md = running[0]["metadata"]
            assert md["finalizers"] == [jp.TRACKING_FINALIZER]
            assert md["labels"]["batch.kubernetes.io/job-name"] == "pi"
            assert md["ownerReferences"][0]["kind"] == "Job"
            st = await status(h, ns, "pi")
            assert st["active"] == 2 and st["startTime"]
            await h.set_pod_phase(running[0], "Succeeded")
            await settle(h, ns, "pi", GVRS)
            st = await status(h, ns, "pi")
            assert (st["succeeded"], st["active"]) == (1, 2)
            assert st["uncountedTerminatedPods"] == {"succeeded": [], "failed": []}
            done = [p for p in pods(h, ns, active=False) if p["status"]["phase"] == "Succeeded"]
            assert done[0]["metadata"].get("finalizers") in (None, [])
            for p in pods(h, ns):
                await h.set_pod_phase(p, "Succeeded")
            await settle(h, ns, "pi", GVRS)
            st = await status(h, ns, "pi")
            assert st["succeeded"] == 3 and st["active"] == 0 and st["completionTime"]
            assert conditions(st) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                      ("Complete", "True", "CompletionsReached")]
            assert ("Completed", "Job completed") in await h.events(ns)
    run(go())


def test_indexed(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, JobController) as h:
            await h.client.create(JOBS, job("ix", completions=3, parallelism=3,
                                             completionMode="Indexed"), ns)
            await settle(h, ns, "ix", GVRS)
            by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p
                        for p in pods(h, ns)}
            assert sorted(by_index) == ["0", "1", "2"]
            assert by_index["1"]["metadata"]["name"].startswith("ix-1-")
            assert by_index["1"]["spec"]["hostname"] == "ix-1"
            for i in ("0", "2"):
                await h.set_pod_phase(by_index[i], "Succeeded")
            await settle(h, ns, "ix", GVRS)
            st = await status(h, ns, "ix")
            assert st["completedIndexes"] == "0,2" and st["succeeded"] == 2
            await h.set_pod_phase(by_index["1"], "Failed")
            await settle(h, ns, "ix", GVRS)
            st = await status(h, ns, "ix")
            assert st["failed"] == 1
            h.clock.advance(11)  # the pod-failure back-off
            await settle(h, ns, "ix", GVRS)
            (again,) = pods(h, ns)
            index = again["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            assert index == "1"
            await h.set_pod_phase(again, "Succeeded")
            await settle(h, ns, "ix", GVRS)
            st = await status(h, ns, "ix")
            assert st["completedIndexes"] == "0-2" and ("Complete", "True", "CompletionsReached") \
                in conditions(st)
    run(go())


def test_backoff_limit(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, JobController) as h:
            await h.client.create(JOBS, job("bad", backoffLimit=1), ns)
            await settle(h, ns, "bad", GVRS)
            await h.set_pod_phase(pods(h, ns)[0], "Failed")
            again = await settle(h, ns, "bad", GVRS)
            assert pods(h, ns) == [] and again is not None and 0 < again <= 10  # back-off
            h.clock.advance(10)
            await settle(h, ns, "bad", GVRS)
            await h.set_pod_phase(pods(h, ns)[0], "Failed")
            await settle(h, ns, "bad", GVRS)
            st = await status(h, ns, "bad")
            assert st["failed"] == 2 and st["active"] == 0
            assert conditions(st) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                      ("Failed", "True", "BackoffLimitExceeded")]
            assert "completionTime" not in st
            assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in \
                await h.events(ns)
    run(go())


def test_active_deadline(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, JobController) as h:
            await h.client.create(JOBS, job("slow", activeDeadlineSeconds=30, parallelism=2,
                                            completions=4), ns)
            again = await settle(h, ns, "slow", GVRS)
            assert len(pods(h, ns)) == 2 and again is not None and again <= 30
            h.clock.advance(31)
            await settle(h, ns, "slow", GVRS)
            await caches_match(h, ns, *GVRS)
            st = await status(h, ns, "slow")
            assert ("Failed", "True", "DeadlineExceeded") in conditions(st)
            assert st["active"] == 0 and st["failed"] == 2
            assert pods(h, ns, active=False) == []  # deleted, finalizers released
    run(go())


def test_suspend_resume_and_ttl(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, JobController) as h:
            await h.client.create(JOBS, job("later", suspend=True, ttlSecondsAfterFinished=60), ns)
            await settle(h, ns, "later", GVRS)
            st = await status(h, ns, "later")
            assert pods(h, ns) == [] and "startTime" not in st
            assert conditions(st) == [("Suspended", "True", "JobSuspended")]
            j = await h.client.get(JOBS, "later", ns)
            j["spec"]["suspend"] = False
            await h.client.update(JOBS, j)
            await settle(h, ns, "later", GVRS)
            st = await status(h, ns, "later")
            assert conditions(st) == [("Suspended", "False", "JobResumed")] and st["startTime"]
            (p,) = pods(h, ns)
            j = await h.client.get(JOBS, "later", ns)
            j["spec"]["suspend"] = True
            await h.client.update(JOBS, j)
            await settle(h, ns, "later", GVRS)
            assert pods(h, ns, active=False) == []  # deleted, and not counted as failed
            st = await status(h, ns, "later")
            assert st.get("failed", 0) == 0 and st["active"] == 0
            j = await h.client.get(JOBS, "later", ns)
            j["spec"]["suspend"] = False
            await h.client.update(JOBS, j)
            await settle(h, ns, "later", GVRS)
            await h.set_pod_phase(pods(h, ns)[0], "Succeeded")
            again = await settle(h, ns, "later", GVRS)
            assert ("Complete", "True", "CompletionsReached") in conditions(
                await status(h, ns, "later"))
            assert again is not None and 59 <= again <= 60  # the TTL
            h.clock.advance(61)
            await h.reconcile(ns, "later")
            assert (await h.client.list(JOBS, ns))["items"] == []
    run(go())
