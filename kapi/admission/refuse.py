"""upstream's admission.NewForbidden: the 403 every built-in admission plugin refuses with,
`<resource>[.<group>] "<name>" is forbidden: <why>` (without the name when the object has
none yet). Never decides anything itself."""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.meta.resources import Resource


def forbidden(r: Resource, obj: dict[str, Any] | None, why: str) -> errors.Forbidden:
    name = ((obj or {}).get("metadata") or {}).get("name") or ""
    what = f"{r.resource}.{r.group}" if r.group else r.resource
    message = f'{what} "{name}" is forbidden: {why}' if name else f"{what} is forbidden: {why}"
    details: dict[str, Any] = {"name": name} if name else {}
    details |= {"group": r.group} if r.group else {}
    return errors.Forbidden(message, details=details | {"kind": r.resource})
