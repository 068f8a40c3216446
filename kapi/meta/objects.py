"""Small helpers over object dicts: timestamps, names, uids, continue tokens.

Pure functions; never I/O.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from typing import Any, Callable

import orjson

Clock = Callable[[], dt.datetime]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's: no vowels, no look-alikes


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(t: dt.datetime) -> str:
    t = t.astimezone(dt.UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def parse_time(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(base: str) -> str:
    base = base[: 63 - 5]
    return base + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def encode_continue(rev: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rev, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """Raises ValueError on a malformed token."""
    pad = "=" * (-len(token) % 4)
    try:
        data: Any = orjson.loads(base64.urlsafe_b64decode(token + pad))
        rev, start = int(data["rv"]), str(data["start"])
    except Exception as e:  # any garbage is the client's mistake
        raise ValueError("continue key is not valid") from e
    if data.get("v") != "meta.k8s.io/v1" or rev <= 0:
        raise ValueError("continue key is not valid")
    return rev, start
