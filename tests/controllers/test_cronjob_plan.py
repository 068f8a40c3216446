"""CronJob decisions with fake time: missed start times, startingDeadlineSeconds, the
next wake-up, job names and annotations, history limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runtime.controllers.cronjob import plan as cp
from runtime.controllers.cronjob.cron import CronError

UTC = dt.UTC


def utc(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


def cronjob(schedule: str = "*/5 * * * *", created: str = "2024-01-01T00:00:00Z",
            last: str | None = None, **spec: Any) -> dict[str, Any]:
    cj: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "CronJob",
                          "metadata": {"name": "tick", "namespace": "ns", "uid": "u1",
                                       "creationTimestamp": created},
                          "spec": {"schedule": schedule, "jobTemplate": {
                              "metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                              "spec": {"template": {"spec": {"containers": []}}}}, **spec},
                          "status": {}}
    if last:
        cj["status"]["lastScheduleTime"] = last
    return cj


def recent(cj: dict[str, Any], now: dt.datetime, deadline: bool = True):
    return cp.most_recent(cj, now, cp.schedule_of(cj), deadline)


def test_nothing_due_before_the_first_time():
    earliest, latest, missed = recent(cronjob(), utc(2024, 1, 1, 0, 4, 59))
    assert (earliest, latest, missed) == (utc(2024, 1, 1), None, "none")


def test_exactly_one_due():
    assert recent(cronjob(), utc(2024, 1, 1, 0, 5))[1:] == (utc(2024, 1, 1, 0, 5), "none")
    assert recent(cronjob(), utc(2024, 1, 1, 0, 9, 59))[1:] == (utc(2024, 1, 1, 0, 5), "none")


def test_several_missed_gives_the_most_recent():
    _, latest, missed = recent(cronjob(), utc(2024, 1, 1, 1, 2))
    assert (latest, missed) == (utc(2024, 1, 1, 1, 0), "few")


def test_last_schedule_time_is_the_start_point():
    cj = cronjob(last="2024-01-01T00:55:00Z")
    assert recent(cj, utc(2024, 1, 1, 0, 57))[1] is None
    assert recent(cj, utc(2024, 1, 1, 1, 0))[1] == utc(2024, 1, 1, 1, 0)


def test_too_many_missed():
    _, latest, missed = recent(cronjob("* * * * *"), utc(2024, 1, 2))
    assert (latest, missed) == (utc(2024, 1, 2), "many")


def test_starting_deadline_limits_the_look_back():
    cj = cronjob("* * * * *", startingDeadlineSeconds=200)
    _, latest, missed = recent(cj, utc(2024, 1, 2, 0, 0, 30))
    assert latest == utc(2024, 1, 2) and missed == "few"
    # without the deadline the same CronJob has missed more than a hundred times
    assert recent(cj, utc(2024, 1, 2, 0, 0, 30), deadline=False)[2] == "many"


def test_irregular_schedule_finds_the_true_latest():
    cj = cronjob("30 6-16/4 * * 1-5", created="2024-01-05T07:00:00Z")  # Friday
    _, latest, _ = recent(cj, utc(2024, 1, 9, 12))  # Tuesday noon
    assert latest == utc(2024, 1, 9, 10, 30)


def test_time_zone_and_requeue():
    cj = cronjob("0 9 * * *", created="2024-01-10T00:00:00Z", timeZone="America/New_York")
    now = utc(2024, 1, 10, 13, 59)
    assert recent(cj, now)[1] is None
    assert cp.requeue_after(cj, now, cp.schedule_of(cj)) == pytest.approx(60.1)
    assert recent(cj, utc(2024, 1, 10, 14))[1] == utc(2024, 1, 10, 14)


def test_unknown_time_zone():
    with pytest.raises(CronError):
        cp.schedule_of(cronjob(timeZone="Nowhere/Special"))


def test_requeue_after_last_schedule():
    cj = cronjob(last="2024-01-01T00:05:00Z")
    assert cp.requeue_after(cj, utc(2024, 1, 1, 0, 6), cp.schedule_of(cj)) == pytest.approx(240.1)


def test_job_from_template():
    cj = cronjob(timeZone="Europe/Paris")
    job = cp.job_from_template(cj, utc(2024, 1, 1, 0, 5), {"uid": "u1", "kind": "CronJob"})
    assert job["metadata"]["name"] == "tick-28401125"  # minutes since the epoch
    assert job["metadata"]["labels"] == {"a": "b"}
    assert job["metadata"]["annotations"] == {
        "x": "y", cp.SCHEDULED_TIMESTAMP: "2024-01-01T01:05:00+01:00"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert job["spec"] == cj["spec"]["jobTemplate"]["spec"]
    utc_job = cp.job_from_template(cronjob(), utc(2024, 1, 1, 0, 5), {})
    assert utc_job["metadata"]["annotations"][cp.SCHEDULED_TIMESTAMP] == "2024-01-01T00:05:00Z"


def job(name: str, kind: str | None, start: str | None, done: str | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {}
    if start:
        st["startTime"] = start
    if kind:
        st["conditions"] = [{"type": kind, "status": "True"}]
    if done:
        st["completionTime"] = done
    return {"metadata": {"name": name, "uid": name}, "status": st}


def test_history_limits_remove_the_oldest():
    jobs = [job("a", "Complete", "2024-01-01T00:00:00Z"),
            job("b", "Complete", "2024-01-01T00:01:00Z"),
            job("c", "Complete", "2024-01-01T00:02:00Z"),
            job("d", "Failed", "2024-01-01T00:03:00Z"),
            job("e", "Failed", None), job("f", None, "2024-01-01T00:04:00Z")]
    cj = cronjob(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1)
    assert [j["metadata"]["name"] for j in cp.jobs_to_clean(cj, jobs)] == ["a", "b", "d"]
    defaults = cronjob()  # 3 successful, 1 failed, as the API server defaults them
    assert [j["metadata"]["name"] for j in cp.jobs_to_clean(defaults, jobs)] == ["d"]
    zero = cronjob(successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0)
    assert len(cp.jobs_to_clean(zero, jobs)) == 5


def test_last_successful_time():
    cj = cronjob()
    jobs = [job("a", "Complete", None, "2024-01-01T00:05:00Z"),
            job("b", "Complete", None, "2024-01-01T00:07:00Z"), job("c", "Failed", None)]
    assert cp.last_successful(cj, jobs) == "2024-01-01T00:07:00Z"
    cj["status"]["lastSuccessfulTime"] = "2024-01-02T00:00:00Z"
    assert cp.last_successful(cj, jobs) == "2024-01-02T00:00:00Z"
