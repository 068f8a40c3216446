"""Small helpers over object dicts: timestamps, names, uids, continue tokens.

Pure functions; never I/O.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import secrets
from typing import Any, Callable

import orjson

Clock = Callable[[], dt.datetime]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's: no vowels, no look-alikes
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_last_second: list[Any] = [None, ""]  # (whole second, its text): writes share a second


def rfc3339(t: dt.datetime) -> str:
    second = t.timestamp() // 1
    if _last_second[0] == second:
        text: str = _last_second[1]
        return text
    text = t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_second[0], _last_second[1] = second, text
    return text


def parse_time(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


_UID_BATCH = 16 * 256
_uid_random = [b"", _UID_BATCH]  # os.urandom bytes drawn a batch at a time, and the offset


def _forget_uid_random() -> None:
    _uid_random[0], _uid_random[1] = b"", _UID_BATCH  # a forked child never reuses them


os.register_at_fork(after_in_child=_forget_uid_random)


def new_uid() -> str:
    """A random (version 4) UUID, as str(uuid.uuid4()) but with fewer urandom calls."""
    buf, at = _uid_random
    if at >= _UID_BATCH:
        buf, at = os.urandom(_UID_BATCH), 0
        _uid_random[0] = buf
    _uid_random[1] = at + 16
    n = int.from_bytes(buf[at:at + 16], "big")
    n = (n & ~(0xC000 << 48) | (0x8000 << 48)) & ~(0xF000 << 64) | (4 << 76)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
