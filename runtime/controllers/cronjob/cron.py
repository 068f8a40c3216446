"""Cron schedules as upstream's CronJob controller reads them (robfig/cron v3's
ParseStandard): five fields (minute hour day-of-month month day-of-week) with `*`, `?`,
lists, ranges, steps and month/weekday names; the descriptors @yearly @annually
@monthly @weekly @daily @midnight @hourly and `@every <duration>`; an optional
`TZ=`/`CRON_TZ=` prefix. `Schedule.next(t)` is robfig's SpecSchedule.Next, including its
behaviour around daylight-saving changes: a wall-clock time skipped by a spring-forward
jump does not run that day, and one repeated by a fall-back runs twice.

Pure: never reads a clock; times are timezone-aware datetimes in, and out.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
STAR = 1 << 63  # robfig's starBit: the field was "*" or "?"


class CronError(ValueError):
    """An unparseable schedule; the message follows robfig's wording."""


@dataclass(frozen=True)
class _Bounds:
    lo: int
    hi: int
    names: dict[str, int]


_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS = (_Bounds(0, 59, {}), _Bounds(0, 23, {}), _Bounds(1, 31, {}), _Bounds(1, 12, _MONTHS),
           _Bounds(0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@hourly": "0 * * * *"}


def load_zone(name: str) -> dt.tzinfo:
    """Go's time.LoadLocation: "" and "UTC" are UTC, "Local" is this machine's zone."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return dt.datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"unknown time zone {name}") from e


# -- parsing --------------------------------------------------------------------------------
def _number(s: str, b: _Bounds) -> int:
    if s.lower() in b.names:
        return b.names[s.lower()]
    if not re.fullmatch(r"[0-9]+", s):
        raise CronError(f"failed to parse int from {s}: strconv.Atoi: parsing {s!r}: "
                        "invalid syntax")
    return int(s)


def _range(expr: str, b: _Bounds) -> int:
    parts = expr.split("/")
    if len(parts) > 2:
        raise CronError(f"too many slashes: {expr}")
    low_high = parts[0].split("-")
    if len(low_high) > 2:
        raise CronError(f"too many hyphens: {expr}")
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.lo, b.hi, STAR
    else:
        start = _number(low_high[0], b)
        end = _number(low_high[1], b) if len(low_high) == 2 else start
    step = 1
    if len(parts) == 2:
        step = _number(parts[1], b)
        if len(low_high) == 1:
            end = b.hi  # "N/step" means N-max/step
        if step > 1:
            extra = 0
    if start < b.lo:
        raise CronError(f"beginning of range ({start}) below minimum ({b.lo}): {expr}")
    if end > b.hi:
        raise CronError(f"end of range ({end}) above maximum ({b.hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    bits = 0
    for v in range(start, end + 1, step):
        bits |= 1 << v
    return bits | extra


def _field(text: str, b: _Bounds) -> int:
    bits = 0
    for expr in text.split(","):
        bits |= _range(expr, b)
    return bits


_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(h|m|s|ms)")


def _duration(text: str) -> float:
    """A Go duration such as 1h30m or 90s, in seconds."""
    if not text or _DURATION.sub("", text):
        raise CronError(f"failed to parse duration @every {text}: time: invalid duration {text!r}")
    unit = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * unit[u] for n, u in _DURATION.findall(text))


def parse(spec: str, default_zone: dt.tzinfo = UTC) -> Schedule:
    """Parse a standard cron spec (robfig ParseStandard); raises CronError."""
    text, zone = spec.strip(), default_zone
    if text.startswith(("TZ=", "CRON_TZ=")):
        head, _, text = text.partition(" ")
        zone = load_zone(head.split("=", 1)[1])
        text = text.strip()
    if text.startswith("@every "):
        return Schedule(0, 0, 0, 0, 0, zone, every=max(1.0, _duration(text[7:].strip())))
    if text.startswith("@"):
        if text not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {text}")
    m, h, dom, mon, dow = (_field(f, b) for f, b in zip(fields, _FIELDS, strict=True))
    return Schedule(m, h, dom, mon, dow, zone)


# -- next -----------------------------------------------------------------------------------
def _offset_at(unix: float, zone: dt.tzinfo) -> float:
    off = dt.datetime.fromtimestamp(unix, zone).utcoffset()
    return off.total_seconds() if off else 0.0


def wall(y: int, mo: int, d: int, h: int, mi: int, s: int, zone: dt.tzinfo) -> dt.datetime:
    """Go's time.Date: overflowing fields normalise, and a wall time inside a DST gap
    resolves the way Go resolves it (with the offset in force just after the gap)."""
    y, mo = y + (mo - 1) // 12, (mo - 1) % 12 + 1
    naive = dt.datetime(y, mo, 1) + dt.timedelta(days=d - 1, hours=h, minutes=mi, seconds=s)
    unix = (naive - dt.datetime(1970, 1, 1)).total_seconds()
    off = _offset_at(unix, zone)
    other = _offset_at(unix - off, zone)
    if other != off:
        off = other
    return dt.datetime.fromtimestamp(unix - off, zone)


def _add(t: dt.datetime, seconds: float, zone: dt.tzinfo) -> dt.datetime:
    """Absolute-time addition (Go's Time.Add), shown in zone."""
    return dt.datetime.fromtimestamp(t.timestamp() + seconds, zone)


@dataclass(frozen=True)
class Schedule:
    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    zone: dt.tzinfo
    every: float = 0.0  # seconds, for @every

    def _day_matches(self, t: dt.datetime) -> bool:
        dom = bool((1 << t.day) & self.dom)
        dow = bool((1 << ((t.weekday() + 1) % 7)) & self.dow)
        if self.dom & STAR or self.dow & STAR:
            return dom and dow
        return dom or dow

    def next(self, after: dt.datetime) -> dt.datetime | None:
        """The first activation strictly after `after` (None if none within 5 years)."""
        if self.every:
            return _add(after.replace(microsecond=0), self.every, after.tzinfo or UTC)
        z = self.zone
        t = _add(after.replace(microsecond=0), 1, z)
        t = t.replace(second=0) if t.second else t
        if t <= after:
            t = _add(t, 60, z)
        return self._search(t, after.tzinfo or UTC)

    def _search(self, t: dt.datetime, out_zone: dt.tzinfo) -> dt.datetime | None:
        """robfig's loop: month, then day, hour, minute; a field rolling over restarts
        the search from the month (its `goto WRAP`)."""
        z, year_limit, added = self.zone, t.year + 5, False
        for _ in range(200_000):  # restarts are bounded by the five-year horizon
            if t.year > year_limit:
                return None
            wrapped = False
            while not (1 << t.month) & self.month:
                if not added:
                    added, t = True, wall(t.year, t.month, 1, 0, 0, 0, z)
                t = wall(t.year, t.month + 1, t.day, t.hour, t.minute, t.second, z)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            t, added, found = self._search_day(t, added)
            if found:
                return t.astimezone(out_zone)
        return None

    def _search_day(self, t: dt.datetime, added: bool) -> tuple[dt.datetime, bool, bool]:
        """Days, hours and minutes; (t, added, found) where not found means WRAP."""
        z = self.zone
        while not self._day_matches(t):
            if not added:
                added, t = True, wall(t.year, t.month, t.day, 0, 0, 0, z)
            t = wall(t.year, t.month, t.day + 1, t.hour, t.minute, t.second, z)
            if t.hour != 0:  # DST moved midnight: go back to it
                t = _add(t, (24 - t.hour) * 3600 if t.hour > 12 else -t.hour * 3600, z)
            if t.day == 1:
                return t, added, False
        while not (1 << t.hour) & self.hour:
            if not added:
                added, t = True, wall(t.year, t.month, t.day, t.hour, 0, 0, z)
            t = _add(t, 3600, z)
            if t.hour == 0:
                return t, added, False
        while not (1 << t.minute) & self.minute:
            if not added:
                added = True
                t = _add(t, -(t.timestamp() % 60), z)
            t = _add(t, 60, z)
            if t.minute == 0:
                return t, added, False
        return t, added, True
