"""Small helpers over object dicts: timestamps, names, uids, continue tokens.

Pure functions; never I/O.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import uuid
from typing import Any, Callable

import orjson

Clock = Callable[[], dt.datetime]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's: no vowels, no look-alikes
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


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


def name_errors(name: str, *, label: bool) -> list[str]:
    """Upstream's DNS-1123 messages for an object name."""
    if label:
        errs = []
        if len(name) > 63:
            errs.append("must be no more than 63 characters")
        if not DNS1123_LABEL.match(name):
            errs.append("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                        "characters or '-', and must start and end with an alphanumeric "
                        "character (e.g. 'my-name',  or '123-abc', regex used for validation "
                        "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
        return errs
    errs = []
    if len(name) > 253:
        errs.append("must be no more than 253 characters")
    if not DNS1123_SUBDOMAIN.match(name):
        errs.append("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return errs


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
