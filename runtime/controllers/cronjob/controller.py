"""The CronJob controller: creates a Job from the template at each scheduled time
(upstream cronjob_controllerv2.go) — time zones, concurrencyPolicy Allow/Forbid/Replace,
startingDeadlineSeconds, suspend, the active list, lastScheduleTime and
lastSuccessfulTime, and the successful/failed history limits.

Time comes only from ControllerContext.clock, so tests drive it with a fake clock; the
controller wakes itself for the next start through the work queue. This module is the
I/O shell (schedule maths: cron.py, plan.py); it must never
mutate cached objects or import kapi/, and only deletes Jobs it controls.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any

from runtime.client.resources import CRONJOBS, JOBS
from runtime.client.rest import ApiError
from runtime.controllers.common import podcontrol as pc
from runtime.controllers.common import wiring
from runtime.controllers.context import ControllerContext
from runtime.controllers.cronjob import cron
from runtime.controllers.cronjob import plan as cp
from runtime.util.meta import meta, owner_reference
from runtime.util.times import format_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KIND = "CronJob"


class CronJobController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.cronjobs = self.own_kind(ctx, CRONJOBS, "cronjob",
                                          ctx.options.cronjob_workers)
        self.jobs = wiring.dependents(ctx.informers, JOBS)
        wiring.enqueue_owners(self.jobs, self.controller, KIND)

    # -- reconcile -------------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        cached = self.cronjobs.get(key)
        if cached is None:
            return None
        cj = copy.deepcopy(cached)
        jobs = list(pc.owned_by(self.jobs, cj))
        changed = await self._cleanup(cj, jobs)
        changed = await self._observe_jobs(cj, jobs) or changed
        again, synced = await self._sync(cj, self.ctx.clock())
        if changed or synced:
            await self._write_status(cached, cj)
        return again

    async def _observe_jobs(self, cj: Obj, jobs: list[Obj]) -> bool:
        """Reconcile status.active with the Jobs that exist; record lastSuccessfulTime."""
        status = cj.setdefault("status", {})
        active = list(status.get("active") or [])
        active_uids = {r.get("uid") for r in active}
        changed = False
        for j in jobs:
            uid, done = meta(j).get("uid"), cp.finished_type(j)
            if uid not in active_uids and done is None and await self._fresh_active(cj, uid):
                status, active = cj["status"], list(cj["status"].get("active") or [])
                active_uids = {r.get("uid") for r in active}
            elif uid not in active_uids and done is None:
                await self.recorder.warning(cj, "UnexpectedJob", "Saw a job that the controller "
                                            f"did not create or forgot: {meta(j)['name']}")
            elif uid in active_uids and done is not None:
                active = [r for r in active if r.get("uid") != uid]
                await self.recorder.normal(cj, "SawCompletedJob", f"Saw completed job: "
                                           f"{meta(j)['name']}, status: {done}")
                changed = True
        last = cp.last_successful(cj, jobs)
        if last != status.get("lastSuccessfulTime") and last is not None:
            status["lastSuccessfulTime"], changed = last, True
        existing = {meta(j).get("uid") for j in jobs}
        for ref in list(active):
            if ref.get("uid") not in existing and not await self._job_exists(ref):
                await self.recorder.normal(cj, "MissingJob", f"Active job went missing: "
                                           f"{ref.get('name')}")
                active.remove(ref)
                changed = True
        _set_active(status, active)
        return changed

    async def _fresh_active(self, cj: Obj, uid: str | None) -> bool:
        """Our cache may predate the status write that listed this Job: ask the API, and
        adopt the fresh status if it does list it (as upstream does)."""
        try:
            fresh = await self.client.get(CRONJOBS, meta(cj)["name"], meta(cj).get("namespace"))
        except ApiError as e:
            if e.not_found:
                return False
            raise
        if not any(r.get("uid") == uid for r in (fresh.get("status") or {}).get("active") or []):
            return False
        cj["metadata"], cj["status"] = fresh["metadata"], fresh.get("status") or {}
        return True

    async def _job_exists(self, ref: Obj) -> bool:
        try:
            await self.client.get(JOBS, ref["name"], ref.get("namespace"))
            return True
        except ApiError as e:
            if e.not_found:
                return False
            raise

    async def _schedule(self, cj: Obj) -> cron.Schedule | None:
        """The parsed schedule, or None after telling the user why there is none."""
        schedule = cp.spec(cj).get("schedule")
        try:
            sched = cp.schedule_of(cj)
        except cron.CronError as e:
            await self.recorder.warning(cj, "UnparseableSchedule",
                                        f"unparseable schedule: {schedule!r} : {e}")
            return None
        if "TZ" in str(schedule):
            await self.recorder.warning(
                cj, "UnsupportedSchedule", f"CRON_TZ or TZ used in schedule {schedule!r} is not "
                "officially supported, see https://kubernetes.io/docs/concepts/workloads/"
                "controllers/cron-jobs/ for more details")
        return sched

    async def _sync(self, cj: Obj, now: dt.datetime) -> tuple[float | None, bool]:
        """Start the Job for the most recent missed time, if due; (requeue, changed)."""
        if meta(cj).get("deletionTimestamp"):
            return None, False
        tz = cp.spec(cj).get("timeZone")
        try:
            cp.zone_of(cj)
        except cron.CronError as e:
            await self.recorder.warning(cj, "UnknownTimeZone", f"invalid timeZone: {tz!r}: {e}")
            return None, False
        if cp.spec(cj).get("suspend"):
            return None, False
        sched = await self._schedule(cj)
        if sched is None:
            return None, False
        try:
            _, scheduled, missed = cp.most_recent(cj, now, sched, True)
        except cron.CronError as e:
            await self.recorder.warning(cj, "InvalidSchedule", "invalid schedule: "
                                        f"{cp.spec(cj).get('schedule')} : {e}")
            return None, False
        if missed == "many":
            await self.recorder.warning(cj, "TooManyMissedTimes", "too many missed start times. "
                                        "Set or decrease .spec.startingDeadlineSeconds or check "
                                        "clock skew")
        if scheduled is None or scheduled > now:
            return cp.requeue_after(cj, now, sched), False
        changed = await self._start(cj, scheduled, now)
        return cp.requeue_after(cj, now, sched), changed

    async def _start(self, cj: Obj, scheduled: dt.datetime, now: dt.datetime) -> bool:
        status, sds = cj.setdefault("status", {}), cp.spec(cj).get("startingDeadlineSeconds")
        if sds is not None and scheduled + dt.timedelta(seconds=int(sds)) < now:
            when = scheduled.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            await self.recorder.warning(cj, "MissSchedule",
                                        f"Missed scheduled time to start a job: {when}")
            return False
        active = list(status.get("active") or [])
        name = cp.job_name(cj, scheduled)
        if any(r.get("name") == name for r in active) or status.get(
                "lastScheduleTime") == format_time(scheduled):
            return False
        policy = cp.spec(cj).get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            await self.recorder.normal(cj, "JobAlreadyActive", "Not starting job because prior "
                                       "execution is running and concurrency policy is Forbid")
            return False
        changed = False
        if policy == "Replace":
            for ref in active:
                await self._delete_job(cj, ref)
                changed = True
        job = await self._create(cj, scheduled)
        if job is None:
            return changed
        _set_active(status, list(status.get("active") or []) + [cp.job_ref(job)])
        status["lastScheduleTime"] = format_time(scheduled)
        return True

    async def _create(self, cj: Obj, scheduled: dt.datetime) -> Obj | None:
        req = cp.job_from_template(cj, scheduled, owner_reference(cj))
        ns = meta(cj).get("namespace")
        try:
            job = await self.client.create(JOBS, req, ns)
        except ApiError as e:
            if pc.namespace_terminating(e):
                return None
            if not e.already_exists:
                await self.recorder.warning(cj, "FailedCreate", f"Error creating job: {e.message}")
                raise
            job = await self.client.get(JOBS, req["metadata"]["name"], ns)
            ref = next((r for r in meta(job).get("ownerReferences") or [] if r.get("controller")),
                       None)
            if ref is None or ref.get("uid") != meta(cj).get("uid"):
                return None  # someone else's Job: it keeps its own books
            if any(r.get("uid") == meta(job).get("uid") for r in (cj.get("status") or {}).get(
                    "active") or []):
                return None
            return job
        await self.recorder.normal(cj, "SuccessfulCreate", f"Created job {meta(job)['name']}")
        return job

    async def _delete_job(self, cj: Obj, ref: Obj) -> None:
        try:
            await self.client.delete(JOBS, ref["name"], ref.get("namespace"),
                                     propagation_policy="Background")
        except ApiError as e:
            if not e.not_found:
                await self.recorder.warning(cj, "FailedDelete", f"Deleted job: {e.message}")
                raise
        status = cj.setdefault("status", {})
        _set_active(status, [r for r in status.get("active") or []
                             if r.get("uid") != ref.get("uid")])
        await self.recorder.normal(cj, "SuccessfulDelete", f"Deleted job {ref['name']}")

    async def _cleanup(self, cj: Obj, jobs: list[Obj]) -> bool:
        doomed = cp.jobs_to_clean(cj, jobs)
        for j in doomed:
            await self._delete_job(cj, cp.job_ref(j))
            jobs.remove(j)
        return bool(doomed)

    async def _write_status(self, cached: Obj, cj: Obj) -> None:
        """PUT the status with the resourceVersion we read (a conflict retries the sync)."""
        if (cj.get("status") or {}) == (cached.get("status") or {}):
            return
        await self.client.update_status(CRONJOBS, cj)


def _set_active(status: Obj, active: list[Obj]) -> None:
    """status.active, omitted when empty (as upstream serialises it)."""
    if active:
        status["active"] = active
    else:
        status.pop("active", None)
