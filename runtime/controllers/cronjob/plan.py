"""CronJob semantics as pure functions (upstream cronjob_controllerv2.go and utils.go):
the schedule in the CronJob's time zone, the most recent missed start time (bounded,
with startingDeadlineSeconds), when to look again, the Job made from the template
(`<cronjob>-<minutes since epoch>`, the scheduled-timestamp annotation), the active
list and which finished Jobs the history limits remove.

Must never do I/O or read a clock (`now` is a parameter); never mutates its inputs.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Mapping

from runtime.controllers.cronjob import cron
from runtime.util.meta import meta
from runtime.util.times import format_go_rfc3339, format_time, parse_time

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_DELTA = 0.1  # seconds past the scheduled time to wake up, as upstream
MANY_MISSED = 100


def spec(cj: Mapping[str, Any]) -> Mapping[str, Any]:
    return cj.get("spec") or {}


def zone_of(cj: Mapping[str, Any]) -> dt.tzinfo:
    """spec.timeZone (raises CronError when unknown), else UTC."""
    return cron.load_zone(spec(cj).get("timeZone") or "")


def schedule_of(cj: Mapping[str, Any]) -> cron.Schedule:
    """The parsed schedule in the CronJob's zone; a TZ= prefix in the schedule wins."""
    return cron.parse(str(spec(cj).get("schedule") or ""), zone_of(cj))


def most_recent(cj: Mapping[str, Any], now: dt.datetime, sched: cron.Schedule,
                with_deadline: bool) -> tuple[dt.datetime, dt.datetime | None, str]:
    """(earliest time considered, the most recent start time <= now if any, how many
    were missed: "none" | "few" | "many") — upstream mostRecentScheduleTime."""
    status = cj.get("status") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
        meta(cj).get("creationTimestamp")) or now
    sds = spec(cj).get("startingDeadlineSeconds")
    if with_deadline and sds is not None:
        earliest = max(earliest, now - dt.timedelta(seconds=int(sds)))
    t1 = sched.next(earliest)
    if t1 is None or now < t1:
        return earliest, None, "none"
    t2 = sched.next(t1)
    if t2 is None or now < t2:
        return earliest, t1, "none"
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise cron.CronError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    latest: dt.datetime | None = None
    t: dt.datetime | None = sched.next(t1 + dt.timedelta(seconds=(missed - 2) * between))
    for _ in range(10_000):  # bounded: the estimate above starts a few periods back
        if t is None or t > now:
            break
        latest, t = t, sched.next(t)
    return earliest, latest, "many" if missed > MANY_MISSED else "few"


def requeue_after(cj: Mapping[str, Any], now: dt.datetime, sched: cron.Schedule) -> float | None:
    """Seconds until the next start (upstream nextScheduleTimeDuration)."""
    try:
        earliest, latest, missed = most_recent(cj, now, sched, False)
        base = latest or (earliest if missed == "none" else now)
    except cron.CronError:
        base = now
    nxt = sched.next(base)
    if nxt is None:
        return None
    return (nxt - now).total_seconds() + NEXT_DELTA


def job_name(cj: Mapping[str, Any], scheduled: dt.datetime) -> str:
    return f"{meta(cj)['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Mapping[str, Any], scheduled: dt.datetime, owner_ref: Obj) -> Obj:
    template = spec(cj).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = format_go_rfc3339(scheduled.astimezone(zone_of(cj)))
    md: Obj = {"name": job_name(cj, scheduled), "namespace": meta(cj).get("namespace"),
               "annotations": annotations, "ownerReferences": [copy.deepcopy(owner_ref)]}
    if tmeta.get("labels"):
        md["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}


def job_ref(job: Mapping[str, Any]) -> Obj:
    """The ObjectReference kept in status.active."""
    return {"kind": "Job", "namespace": meta(job).get("namespace"), "name": meta(job)["name"],
            "uid": meta(job).get("uid"), "apiVersion": "batch/v1",
            "resourceVersion": meta(job).get("resourceVersion")}


def finished_type(job: Mapping[str, Any]) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def _start_order(job: Mapping[str, Any]) -> tuple[int, str, str]:
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, start or "", meta(job)["name"])


def jobs_to_clean(cj: Mapping[str, Any], jobs: list[Obj]) -> list[Obj]:
    """Finished Jobs beyond successfulJobsHistoryLimit (3) / failedJobsHistoryLimit (1),
    oldest first (by startTime, jobs never started last)."""
    out: list[Obj] = []
    for kind, field_, default in (("Complete", "successfulJobsHistoryLimit", 3),
                                  ("Failed", "failedJobsHistoryLimit", 1)):
        limit = spec(cj).get(field_)
        if limit is None:  # the API server defaults these; a server that did not gets them here
            limit = default
        done = sorted((j for j in jobs if finished_type(j) == kind), key=_start_order)
        out += done[:max(0, len(done) - int(limit))]
    return out


def last_successful(cj: Mapping[str, Any], jobs: list[Obj]) -> str | None:
    """The latest completionTime among succeeded Jobs, if later than the recorded one."""
    best = parse_time((cj.get("status") or {}).get("lastSuccessfulTime"))
    for j in jobs:
        done = parse_time((j.get("status") or {}).get("completionTime"))
        if finished_type(j) == "Complete" and done is not None and (best is None or done > best):
            best = done
    return None if best is None else format_time(best)
