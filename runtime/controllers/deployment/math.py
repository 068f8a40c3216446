"""The arithmetic of rollouts (upstream deployment_util.go, rolling.go, sync.go):
maxSurge/maxUnavailable from ints or percentages (surge rounds up, unavailable rounds
down, both zero means one unavailable), how far the new ReplicaSet may scale up, how
far old ones may scale down, and proportional scaling of all active ReplicaSets when a
Deployment is resized mid-rollout.

Pure functions over dicts returning numbers or plans ([(replica set, new size)]); they
must never do I/O, read a clock or mutate their inputs.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from runtime.controllers.deployment.util import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    by_creation,
    filter_active,
    int_annotation,
    sorted_by_size,
    spec_replicas,
)
from runtime.util.intorpercent import scaled_value

Obj = dict[str, Any]
Plan = list[tuple[Obj, int]]


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # validation forbids both zero; percentages can round to it
    return surge, unavailable


def replicas(d: Obj) -> int:
    return spec_replicas(d)


def is_rolling_update(d: Obj) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def _fenceposts(d: Obj) -> tuple[int, int]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return resolve_fenceposts(ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%"),
                              replicas(d))


def max_surge(d: Obj) -> int:
    return _fenceposts(d)[0] if is_rolling_update(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    return min(_fenceposts(d)[1], replicas(d))


def total_spec(rss: Sequence[Obj | None]) -> int:
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Sequence[Obj | None], field: str) -> int:
    return sum(int((rs.get("status") or {}).get(field) or 0) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have now."""
    if not is_rolling_update(d):
        return replicas(d)
    current = total_spec(all_rss)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return spec_replicas(new_rs)
    up = min(max_total - current, replicas(d) - spec_replicas(new_rs))
    return spec_replicas(new_rs) + up


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The ReplicaSet has all the Deployment's replicas, all available."""
    if rs is None:
        return False
    desired = int_annotation(rs, DESIRED_REPLICAS)
    return (spec_replicas(rs) == replicas(d) and desired == replicas(d)
            and total_status([rs], "availableReplicas") == replicas(d))


def find_active_or_latest(new_rs: Obj | None, old_rss: Sequence[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest if none is active; None if several are."""
    if new_rs is None and not old_rss:
        return None
    olds = sorted(old_rss, key=by_creation, reverse=True)
    active = filter_active([*olds, new_rs])
    if not active:
        return new_rs if new_rs is not None else olds[0]
    return active[0] if len(active) == 1 else None


# -- rolling update -------------------------------------------------------------------------
def max_scaled_down(d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """How many old pods may go: all - minAvailable - unavailable pods of the new RS."""
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = spec_replicas(new_rs) - total_status([new_rs], "availableReplicas")
    return total_spec(all_rss) - min_available - new_unavailable


def cleanup_unhealthy_plan(old_rss: Sequence[Obj], max_cleanup: int) -> Plan:
    """Scale old ReplicaSets down by their unavailable pods (oldest first), at most
    `max_cleanup` in all: removing unhealthy pods never costs availability."""
    plan: Plan = []
    total = 0
    for rs in sorted(old_rss, key=by_creation):
        if total >= max_cleanup:
            break
        unhealthy = spec_replicas(rs) - total_status([rs], "availableReplicas")
        if spec_replicas(rs) == 0 or unhealthy <= 0:
            continue
        down = min(max_cleanup - total, unhealthy)
        plan.append((rs, spec_replicas(rs) - down))
        total += down
    return plan


def scale_down_old_plan(d: Obj, all_rss: Sequence[Obj | None], old_rss: Sequence[Obj]) -> Plan:
    """Scale old ReplicaSets down (oldest first) while availability stays above
    replicas - maxUnavailable."""
    min_available = replicas(d) - max_unavailable(d)
    available = total_status(all_rss, "availableReplicas")
    if available <= min_available:
        return []
    budget, total, plan = available - min_available, 0, []
    for rs in sorted(old_rss, key=by_creation):
        if total >= budget:
            break
        if spec_replicas(rs) == 0:
            continue
        down = min(spec_replicas(rs), budget - total)
        plan.append((rs, spec_replicas(rs) - down))
        total += down
    return plan


# -- proportional scaling -----------------------------------------------------------------
def _round(x: float) -> int:
    """Go's math.Round: halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _fraction(rs: Obj, d: Obj) -> int:
    if replicas(d) == 0:
        return -spec_replicas(rs)
    d_max = replicas(d) + max_surge(d)
    before = int_annotation(rs, MAX_REPLICAS) or 0
    if before == 0:
        before = int((d.get("status") or {}).get("replicas") or 0)
        if before == 0:
            return 0
    return _round(spec_replicas(rs) * d_max / before) - spec_replicas(rs)


def proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    if rs is None or spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    allowed = to_add - added
    frac = _fraction(rs, d)
    return min(frac, allowed) if to_add > 0 else max(frac, allowed)


def proportional_plan(d: Obj, new_rs: Obj | None, old_rss: Sequence[Obj]) -> tuple[Plan, str]:
    """New sizes for every active ReplicaSet when the Deployment is resized mid-rollout,
    spreading the difference in proportion to their sizes; leftovers go to the
    largest. Returns the plan and the scaling direction ("up", "down" or "")."""
    active = filter_active([*old_rss, new_rs])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total_spec(active)
    op = "up" if to_add > 0 else "down" if to_add < 0 else ""
    if to_add:
        active = sorted_by_size(active, newer_first=to_add > 0)
    sizes, added = [], 0
    for rs in active:
        p = proportion(rs, d, to_add, added) if to_add else 0
        sizes.append(spec_replicas(rs) + p)
        added += p
    if active and to_add:
        sizes[0] = max(sizes[0] + to_add - added, 0)
    return list(zip(active, sizes, strict=True)), op
