"""A Secret as upstream decodes it: `stringData` is write-only convenience, merged into
`data` (base64 of its UTF-8 text, overriding the same keys) and then dropped, on every
write (create, update, patches, apply), so it is never stored nor returned.

Upstream does this in the v1 -> internal conversion; kapi runs it where it defaults a
request's object, which every write path passes. Pure; idempotent.
"""

from __future__ import annotations

import base64
from typing import Any

from kapi.defaulting import workloads

Obj = dict[str, Any]


def secret(obj: Obj) -> None:
    merge_string_data(obj)
    workloads.secret(obj)


def merge_string_data(obj: Obj) -> None:
    string_data = obj.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = obj.get("data")
    if not isinstance(data, dict):
        data = {}
    for key, value in string_data.items():
        text = value if isinstance(value, str) else ""
        data[key] = base64.b64encode(text.encode()).decode()
    obj["data"] = dict(sorted(data.items()))  # a Go map: encoded in key order
