"""RFC 3339 times as the API writes them: metav1.Time (seconds, `Z`) and
metav1.MicroTime (microseconds), and their parsing.

Pure functions; must never read a clock (callers pass the time).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

UTC = dt.UTC
EPOCH = dt.datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time: "unset" sorts first


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when absent or malformed."""
    if not value or not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def format_time(t: dt.datetime) -> str:
    """metav1.Time: UTC at second precision."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro(t: dt.datetime) -> str:
    """metav1.MicroTime: UTC at microsecond precision."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_timestamp(t: float) -> str:
    """metav1.Time of a POSIX timestamp."""
    return format_time(dt.datetime.fromtimestamp(t, UTC))


def format_timestamp_micro(t: float) -> str:
    return format_micro(dt.datetime.fromtimestamp(t, UTC))


def format_go_rfc3339(t: dt.datetime) -> str:
    """Go's time.RFC3339 of a zoned time: `Z` for UTC, else the numeric offset."""
    if not t.utcoffset():
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.isoformat(timespec="seconds")
