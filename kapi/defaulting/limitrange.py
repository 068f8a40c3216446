"""upstream's SetDefaults_LimitRangeItem: a Container limit's `default` falls back to
its `max`, its `defaultRequest` to the default and then to `min`. Pure; fills only what
is missing."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def limit_range(obj: Obj) -> None:
    spec = obj.get("spec")
    for item in (spec.get("limits") if isinstance(spec, dict) else None) or []:
        if isinstance(item, dict) and item.get("type") == "Container":
            _container_item(item)


def _container_item(item: Obj) -> None:
    default: Obj = dict(item["default"]) if isinstance(item.get("default"), dict) else {}
    request: Obj = dict(item["defaultRequest"]) if isinstance(item.get("defaultRequest"),
                                                               dict) else {}
    for source, target in ((item.get("max"), default), (default, request),
                           (item.get("min"), request)):
        for key, value in (source if isinstance(source, dict) else {}).items():
            target.setdefault(key, copy.deepcopy(value))
    for key, value in (("default", default), ("defaultRequest", request)):
        if value:  # an empty map is omitted, as Go's omitempty does
            item[key] = value
