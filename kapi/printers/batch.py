"""batch/v1 printers: jobs (with the STATUS column of 1.32+) and cronjobs.

Owns upstream's job STATUS precedence (Complete, Failed, Terminating, Suspended,
FailureTarget, else Running — 1.33 has no SuccessCriteriaMet status yet), COMPLETIONS
("0/1", "2/5", "1/1 of 3") and DURATION, and the cronjob columns.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers import common
from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, integer, name

JOB_SELECTOR = Column("Selector", "A label query over pods that should match the pod count.",
                      priority=1)

JOB_COLUMNS = (
    NAME,
    Column("Status", "Status of the job."),
    Column("Completions", "The number of pods which reached phase Succeeded."),
    Column("Duration", "Time required to complete the job."),
    AGE, common.CONTAINERS, common.IMAGES, JOB_SELECTOR,
)


def _has_condition(obj: Obj, ctype: str) -> bool:
    for c in get(obj, "status", "conditions", default=[]):
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def job_status(job: Obj) -> str:
    for ctype, status in (("Complete", "Complete"), ("Failed", "Failed")):
        if _has_condition(job, ctype):
            return status
    if get(job, "metadata", "deletionTimestamp") is not None:
        return "Terminating"
    for ctype in ("Suspended", "FailureTarget"):
        if _has_condition(job, ctype):
            return ctype
    return "Running"


def job_completions(job: Obj) -> str:
    succeeded = integer(job, "status", "succeeded")
    if get(job, "spec", "completions") is not None:
        return f"{succeeded}/{integer(job, 'spec', 'completions')}"
    parallelism = integer(job, "spec", "parallelism")
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration(job: Obj, ctx: Ctx) -> str:
    start = get(job, "status", "startTime")
    if start is None:
        return ""
    end = get(job, "status", "completionTime")
    if end is None:
        return common.since(start, ctx.now)
    return common.duration_between(start, end)


def job_row(job: Obj, ctx: Ctx) -> list[Any]:
    return [name(job), job_status(job), job_completions(job), job_duration(job, ctx),
            age(job, ctx), *common.template_containers(job),
            common.format_label_selector(get(job, "spec", "selector"))]


CRON_JOB_COLUMNS = (
    NAME,
    Column("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    Column("Timezone", "The time zone name for the given schedule, see "
                       "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    Column("Suspend", "This flag tells the controller to suspend subsequent executions, it does "
                      "not apply to already started executions.", type="boolean"),
    Column("Active", "A list of pointers to currently running jobs.", type="integer"),
    Column("Last Schedule", "Information when was the last time the job was successfully "
                            "scheduled."),
    AGE, common.CONTAINERS, common.IMAGES, JOB_SELECTOR,
)


def cron_job_row(cj: Obj, ctx: Ctx) -> list[Any]:
    last = get(cj, "status", "lastScheduleTime")
    return [name(cj), get(cj, "spec", "schedule", default=""),
            get(cj, "spec", "timeZone", default="<none>"),
            common.bool_ptr(get(cj, "spec", "suspend")),
            len(get(cj, "status", "active", default=[])),
            "<none>" if last is None else common.since(last, ctx.now), age(cj, ctx),
            *common.template_containers(cj, "jobTemplate", "spec"),
            common.format_label_selector(get(cj, "spec", "jobTemplate", "spec", "selector"))]


JOB = Printer(JOB_COLUMNS, job_row)
CRON_JOB = Printer(CRON_JOB_COLUMNS, cron_job_row)
