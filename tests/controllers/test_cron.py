"""The cron parser and robfig-compatible next-time computation, with fixed times:
fields, names, steps, descriptors, @every, time zones and daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from runtime.controllers.cronjob.cron import CronError, load_zone, parse, wall

UTC = dt.UTC
NY = ZoneInfo("America/New_York")


def times(spec: str, start: dt.datetime, n: int, zone: dt.tzinfo = UTC) -> list[dt.datetime]:
    sched, out, t = parse(spec, zone), [], start
    for _ in range(n):
        nxt = sched.next(t)
        assert nxt is not None
        out.append(nxt)
        t = nxt
    return out


def utc(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


def test_every_15_minutes_from_an_odd_second():
    assert times("*/15 * * * *", utc(2024, 1, 1, 0, 7, 30), 3) == [
        utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 0, 45)]


def test_next_is_strictly_after():
    assert parse("0 * * * *").next(utc(2024, 1, 1, 5, 0, 0)) == utc(2024, 1, 1, 6)
    assert parse("* * * * *").next(utc(2024, 1, 1, 5, 0, 59, 999)) == utc(2024, 1, 1, 5, 1)


@pytest.mark.parametrize("desc,expect", [
    ("@hourly", utc(2024, 5, 17, 11)), ("@daily", utc(2024, 5, 18)),
    ("@midnight", utc(2024, 5, 18)),
    ("@weekly", utc(2024, 5, 19)), ("@monthly", utc(2024, 6, 1)), ("@yearly", utc(2025, 1, 1)),
    ("@annually", utc(2025, 1, 1)),
])
def test_descriptors(desc: str, expect: dt.datetime):
    assert parse(desc).next(utc(2024, 5, 17, 10, 30)) == expect  # a Friday


def test_weekdays_and_names():
    friday_evening = utc(2024, 1, 5, 10)
    assert times("0 9 * * 1-5", friday_evening, 2) == [utc(2024, 1, 8, 9), utc(2024, 1, 9, 9)]
    assert times("0 9 * * MON-FRI", friday_evening, 2) == [utc(2024, 1, 8, 9), utc(2024, 1, 9, 9)]
    assert times("0 0 1 jan,JUL *", utc(2024, 2, 1), 2) == [utc(2024, 7, 1), utc(2025, 1, 1)]


def test_day_of_month_or_day_of_week_when_both_restricted():
    # the 1st and 15th, or any Wednesday (robfig/cron: OR unless either field is *)
    assert times("0 0 1,15 * 3", utc(2024, 1, 1), 4) == [
        utc(2024, 1, 3), utc(2024, 1, 10), utc(2024, 1, 15), utc(2024, 1, 17)]


def test_star_step_is_not_a_star_for_day_matching():
    # "*/2" in day-of-month is a restriction, so dom OR dow applies (robfig clears the star bit)
    assert parse("0 0 */2 * 1").next(utc(2024, 1, 2, 1)) == utc(2024, 1, 3)
    assert parse("0 0 */2 * 1").next(utc(2024, 1, 7, 1)) == utc(2024, 1, 8)  # Monday


def test_single_value_with_step_runs_to_the_maximum():
    assert times("50/5 * * * *", utc(2024, 1, 1), 3) == [
        utc(2024, 1, 1, 0, 50), utc(2024, 1, 1, 0, 55), utc(2024, 1, 1, 1, 50)]


def test_leap_day_and_impossible_dates():
    assert parse("0 0 29 2 *").next(utc(2024, 3, 1)) == utc(2028, 2, 29)
    assert parse("59 23 31 2 *").next(utc(2024, 3, 1)) is None  # never: gives up after 5 years


def test_every():
    assert times("@every 90s", utc(2024, 1, 1, 0, 0, 0), 2) == [
        utc(2024, 1, 1, 0, 1, 30), utc(2024, 1, 1, 0, 3)]
    assert parse("@every 1h30m").next(utc(2024, 1, 1)) == utc(2024, 1, 1, 1, 30)


@pytest.mark.parametrize("spec,message", [
    ("* * * *", "expected exactly 5 fields, found 4"),
    ("* * * * * *", "expected exactly 5 fields, found 6"),
    ("60 * * * *", "end of range (60) above maximum (59)"),
    ("* * 0 * *", "beginning of range (0) below minimum (1)"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1)"),
    ("*/0 * * * *", "step of range should be a positive number"),
    ("1/2/3 * * * *", "too many slashes"),
    ("1-2-3 * * * *", "too many hyphens"),
    ("x * * * *", "failed to parse int from x"),
    ("* * * * 7", "end of range (7) above maximum (6)"),
    ("@fortnightly", "unrecognized descriptor"),
])
def test_errors(spec: str, message: str):
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(spec)


def test_time_zone_of_the_schedule():
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer
    assert parse("0 9 * * *", NY).next(utc(2024, 1, 10)) == dt.datetime(2024, 1, 10, 9, tzinfo=NY)
    assert parse("0 9 * * *", NY).next(utc(2024, 7, 10)).astimezone(UTC) == utc(2024, 7, 10, 13)
    # a TZ= prefix wins over the default zone
    assert parse("TZ=Asia/Tokyo 0 9 * * *").next(utc(2024, 1, 10)).astimezone(UTC) == utc(
        2024, 1, 11, 0)
    assert parse("CRON_TZ=UTC 0 9 * * *", NY).next(utc(2024, 1, 10)) == utc(2024, 1, 10, 9)


def test_spring_forward_skips_the_missing_time():
    # 2024-03-10 02:30 does not exist in New York: that day has no run
    got = times("30 2 * * *", dt.datetime(2024, 3, 9, tzinfo=NY), 3, NY)
    assert [t.astimezone(NY).date().day for t in got] == [9, 11, 12]
    assert all(t.astimezone(NY).hour == 2 and t.astimezone(NY).minute == 30 for t in got)


def test_fall_back_runs_the_repeated_time_twice():
    # 2024-11-03 01:30 happens twice in New York (EDT, then EST)
    got = times("30 1 * * *", utc(2024, 11, 2, 12), 3, NY)
    assert [t.astimezone(UTC) for t in got] == [utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30),
                                                utc(2024, 11, 4, 6, 30)]


def test_hourly_across_spring_forward_has_no_duplicate_or_gap_in_utc():
    got = times("0 * * * *", dt.datetime(2024, 3, 10, 0, 30, tzinfo=NY), 4, NY)
    assert [t.astimezone(UTC).hour for t in got] == [6, 7, 8, 9]


def test_go_date_resolution_inside_a_gap():
    # Go's time.Date resolves 02:30 on the spring-forward day to 01:30 EST
    t = wall(2024, 3, 10, 2, 30, 0, NY)
    assert t.astimezone(UTC) == utc(2024, 3, 10, 6, 30)
    assert wall(2024, 13, 1, 0, 0, 0, UTC) == utc(2025, 1, 1)  # months overflow like Go's


def test_zones():
    assert load_zone("") is UTC and load_zone("UTC") is UTC
    with pytest.raises(CronError, match="unknown time zone"):
        load_zone("Mars/Olympus_Mons")
