"""The CronJob controller against a real API server, with a fake clock: Jobs appear at
their scheduled times (named by minute, annotated with the scheduled time), the active
list and lastScheduleTime/lastSuccessfulTime follow, concurrency policies, suspend,
startingDeadlineSeconds and history limits hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

from runtime.client.resources import CRONJOBS, JOBS
from runtime.controllers.cronjob.controller import CronJobController
from runtime.util.times import parse_time
from tests.controllers.workload_harness import Harness, run, until

SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def cronjob(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}},
                **spec}}


def next_slot(created: dt.datetime, k: int = 1) -> dt.datetime:
    """The k-th multiple of five minutes after created."""
    base = created.replace(second=0, microsecond=0)
    base -= dt.timedelta(minutes=base.minute % 5)
    return base + dt.timedelta(minutes=5 * k)


async def setup(h: Harness, ns: str, **spec: Any) -> tuple[dict[str, Any], dt.datetime]:
    cj = await h.client.create(CRONJOBS, cronjob("tick", **spec), ns)
    await h.synced(CRONJOBS, cj)
    created = parse_time(cj["metadata"]["creationTimestamp"])
    assert created is not None
    return cj, created


async def tick(h: Harness, ns: str, at: dt.datetime) -> float | None:
    """Move time, reconcile, and wait until the cache shows the status written."""
    h.clock.set(at)
    again = await h.reconcile(ns, "tick")
    fresh = await h.client.get(CRONJOBS, "tick", ns)
    await h.synced(CRONJOBS, fresh)
    return again


def jobs(h: Harness, ns: str) -> list[dict[str, Any]]:
    return sorted(h.informers.get(JOBS).list(ns), key=lambda j: j["metadata"]["name"])


async def finish(h: Harness, job: dict[str, Any], kind: str = "Complete") -> None:
    body = dict(job)
    body["status"] = {"startTime": job["metadata"]["creationTimestamp"],
                      "conditions": [{"type": kind, "status": "True"}]}
    if kind == "Complete":
        body["status"]["completionTime"] = job["metadata"]["creationTimestamp"]
    await h.synced(JOBS, await h.client.update_status(JOBS, body))


def test_jobs_start_at_scheduled_times(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, CronJobController) as h:
            _, created = await setup(h, ns)
            first = next_slot(created)
            again = await tick(h, ns, first - dt.timedelta(seconds=30))
            assert jobs(h, ns) == [] and 30 <= (again or 0) <= 31
            await tick(h, ns, first + dt.timedelta(seconds=2))
            (job,) = await until(lambda: jobs(h, ns), what="the first job")
            minutes = int(first.timestamp()) // 60
            assert job["metadata"]["name"] == f"tick-{minutes}"
            assert job["metadata"]["annotations"][SCHEDULED] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
            st = (await h.client.get(CRONJOBS, "tick", ns))["status"]
            assert st["lastScheduleTime"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert [r["name"] for r in st["active"]] == [job["metadata"]["name"]]
            # the same slot never starts twice
            await tick(h, ns, first + dt.timedelta(seconds=40))
            assert len(jobs(h, ns)) == 1
            # completion moves the job out of the active list
            await finish(h, job)
            await tick(h, ns, first + dt.timedelta(seconds=50))
            st = (await h.client.get(CRONJOBS, "tick", ns))["status"]
            assert "active" not in st and st["lastSuccessfulTime"]
            assert ("SuccessfulCreate", f"Created job tick-{minutes}") in await h.events(ns)
    run(go())


def test_forbid_and_replace(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, CronJobController) as h:
            _, created = await setup(h, ns, concurrencyPolicy="Forbid")
            await tick(h, ns, next_slot(created, 1))
            await until(lambda: jobs(h, ns), what="a job")
            await tick(h, ns, next_slot(created, 2))
            assert len(jobs(h, ns)) == 1  # the first is still running
            assert ("JobAlreadyActive", "Not starting job because prior execution is running "
                    "and concurrency policy is Forbid") in await h.events(ns)
            cj = await h.client.get(CRONJOBS, "tick", ns)
            cj["spec"]["concurrencyPolicy"] = "Replace"
            await h.synced(CRONJOBS, await h.client.update(CRONJOBS, cj))
            await tick(h, ns, next_slot(created, 3))
            names = await until(lambda: [j["metadata"]["name"] for j in jobs(h, ns)
                                         if not j["metadata"].get("deletionTimestamp")] == [
                f"tick-{int(next_slot(created, 3).timestamp()) // 60}"] or None, what="replace")
            assert names
            st = (await h.client.get(CRONJOBS, "tick", ns))["status"]
            assert len(st["active"]) == 1
    run(go())


def test_suspend_and_starting_deadline(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, CronJobController) as h:
            _, created = await setup(h, ns, suspend=True, startingDeadlineSeconds=60)
            assert await tick(h, ns, next_slot(created, 1) + dt.timedelta(seconds=5)) is None
            assert jobs(h, ns) == []
            cj = await h.client.get(CRONJOBS, "tick", ns)
            cj["spec"]["suspend"] = False
            await h.synced(CRONJOBS, await h.client.update(CRONJOBS, cj))
            # two minutes late: outside the 60 s starting deadline, nothing starts
            await tick(h, ns, next_slot(created, 1) + dt.timedelta(seconds=120))
            assert jobs(h, ns) == []
            await tick(h, ns, next_slot(created, 2) + dt.timedelta(seconds=30))
            await until(lambda: len(jobs(h, ns)) == 1, what="a job within the deadline")
    run(go())


def test_history_limits(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, CronJobController) as h:
            _, created = await setup(h, ns, successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
            for k in range(1, 6):
                await tick(h, ns, next_slot(created, k))
                newest = await until(lambda k=k: [j for j in jobs(h, ns) if j["metadata"][
                    "name"].endswith(str(int(next_slot(created, k).timestamp()) // 60))],
                    what=f"job {k}")
                await finish(h, newest[0], "Failed" if k in (1, 2) else "Complete")
            await tick(h, ns, next_slot(created, 5) + dt.timedelta(seconds=10))
            def three() -> set[str] | None:
                names = {j["metadata"]["name"] for j in jobs(h, ns)}
                return names if len(names) == 3 else None
            left = await until(three, what="history cleanup")
            minutes = [int(next_slot(created, k).timestamp()) // 60 for k in (2, 4, 5)]
            assert left == {f"tick-{m}" for m in minutes}
    run(go())


def test_time_zone_and_bad_schedules(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, CronJobController) as h:
            await h.synced(CRONJOBS, await h.client.create(CRONJOBS, cronjob(
                "tick", schedule="0 * * * *", timeZone="Asia/Kolkata"), ns))
            job_time = None
            now = dt.datetime.now(dt.UTC)
            for hours in range(1, 3):  # 30 minutes past the UTC hour is o'clock in Kolkata
                job_time = (now + dt.timedelta(hours=hours)).replace(minute=30, second=0,
                                                                    microsecond=0)
                await tick(h, ns, job_time)
            (job, *_) = await until(lambda: jobs(h, ns), what="a job")
            assert job["metadata"]["annotations"][SCHEDULED].endswith("+05:30")
            bad = await h.client.create(CRONJOBS, cronjob("bad", schedule="61 * * * *"), ns)
            await h.synced(CRONJOBS, bad)
            assert await h.reconcile(ns, "bad") is None
            zone = await h.client.create(CRONJOBS, cronjob("zone", timeZone="Mars/Base"), ns)
            await h.synced(CRONJOBS, zone)
            assert await h.reconcile(ns, "zone") is None
            reasons = {r for r, _ in await h.events(ns)}
            assert {"UnparseableSchedule", "UnknownTimeZone"} <= reasons
    run(go())
