"""Status conditions of the apps controllers (upstream's Get/Set/RemoveDeploymentCondition
and their ReplicaSet twins): find one by type, set one, drop one.

`set_condition` is a no-op when the status and reason are unchanged, and keeps the old
lastTransitionTime when only the reason changes. Pure functions over a status dict,
which they change in place (callers pass their own copy).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def get_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    cur = get_condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get(
            "reason") == cond.get("reason"):
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=cur.get("lastTransitionTime"))
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: Obj, type_: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
