"""How a Deployment moves (upstream rolling.go, recreate.go and sync.go's sync/scale):

- rolling: scale the new ReplicaSet up within maxSurge, then old ones down within
  maxUnavailable (unhealthy old pods first), and repeat as pods become available;
- recreate: scale every old ReplicaSet to zero, wait until no old pod runs, then
  create/scale the new one;
- sync: a resize or a paused Deployment: no new ReplicaSet; the one active ReplicaSet
  takes the new size, or all active ones are resized in proportion.

Each entry point returns None or seconds after which to look again (a progress
deadline to check). Decisions come from the pure modules (deployment_math,
deployment_status); writes go through DeploymentSync. Must never write pods.
"""

from __future__ import annotations

from typing import Any, Sequence

from runtime.controllers.deployment.math import (
    cleanup_unhealthy_plan,
    find_active_or_latest,
    is_rolling_update,
    is_saturated,
    max_scaled_down,
    new_rs_new_replicas,
    proportional_plan,
    replicas,
    scale_down_old_plan,
    total_spec,
    total_status,
)
from runtime.controllers.deployment.status import (
    PAUSED,
    PROGRESSING,
    RESUMED,
    TIMED_OUT,
    calculate_status,
    complete,
    has_progress_deadline,
    new_condition,
    requeue_after,
    rollout_status,
)
from runtime.controllers.deployment.sync import DeploymentSync
from runtime.controllers.deployment.util import (
    DESIRED_REPLICAS,
    filter_active,
    find_old_replica_sets,
    int_annotation,
    spec_replicas,
)
from runtime.util.conditions import get_condition, set_condition
from runtime.util.meta import uid_of

Obj = dict[str, Any]
PodMap = dict[str, list[Obj]]  # ReplicaSet UID -> its pods


async def sync_deployment(ops: DeploymentSync, d: Obj, rss: Sequence[Obj],
                          pods: PodMap) -> float | None:
    """One sync of a Deployment whose ReplicaSets are claimed (upstream syncDeployment
    after claiming): returns None or seconds after which to look again."""
    if d["metadata"].get("deletionTimestamp"):
        await sync_status_only(ops, d, rss)
        return None
    await check_paused_conditions(ops, d)
    if d["spec"].get("paused") or await is_scaling_event(ops, d, rss):
        await sync(ops, d, rss)
        return None
    if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
        return await rollout_recreate(ops, d, rss, pods)
    return await rollout_rolling(ops, d, rss)


async def all_replica_sets(ops: DeploymentSync, d: Obj, rss: Sequence[Obj],
                           create: bool) -> tuple[Obj | None, list[Obj]]:
    """(new ReplicaSet with its revision synced, all old ReplicaSets). A ReplicaSet this
    writes replaces its stale copy in `rss` (a list), so a second call in the same sync
    does not write it again from the stale copy."""
    _, all_old = find_old_replica_sets(d, rss)
    new = await ops.new_replica_set(d, rss, all_old, create)
    if new is not None and isinstance(rss, list):
        rss[:] = [r for r in rss if uid_of(r) != uid_of(new)] + [new]
    return new, all_old


async def check_paused_conditions(ops: DeploymentSync, d: Obj) -> None:
    """Progressing=Unknown DeploymentPaused / DeploymentResumed, so a long pause is never
    reported as a missed deadline."""
    if not has_progress_deadline(d):
        return
    cond = get_condition(d.get("status") or {}, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return
    paused_cond = cond is not None and cond.get("reason") == PAUSED
    paused = bool(d["spec"].get("paused"))
    if paused == paused_cond:
        return
    reason, msg = (PAUSED, "Deployment is paused") if paused else (RESUMED, "Deployment is resumed")
    set_condition(d.setdefault("status", {}),
                  new_condition(PROGRESSING, "Unknown", reason, msg, ops.clock()))
    await ops.save(d)


async def is_scaling_event(ops: DeploymentSync, d: Obj, rss: Sequence[Obj]) -> bool:
    """An active ReplicaSet was sized for a different spec.replicas."""
    new, old = await all_replica_sets(ops, d, rss, False)
    for rs in filter_active([*old, new]):
        desired = int_annotation(rs, DESIRED_REPLICAS)
        if desired is not None and desired != replicas(d):
            return True
    return False


async def sync_status_only(ops: DeploymentSync, d: Obj, rss: Sequence[Obj]) -> None:
    new, old = await all_replica_sets(ops, d, rss, False)
    await ops.save_status(d, calculate_status([*old, new], new, d, ops.clock()))


async def sync(ops: DeploymentSync, d: Obj, rss: Sequence[Obj]) -> None:
    """A scaling event or a paused Deployment: resize, clean up, update status."""
    new, old = await all_replica_sets(ops, d, rss, False)
    await scale(ops, d, new, old)
    if d["spec"].get("paused"):
        await ops.cleanup(old, d)
    await ops.save_status(d, calculate_status([*old, new], new, d, ops.clock()))


async def scale(ops: DeploymentSync, d: Obj, new: Obj | None, old: list[Obj]) -> None:
    target = find_active_or_latest(new, old)
    if target is not None:
        if spec_replicas(target) != replicas(d):
            await ops.scale_and_record(target, replicas(d), d)
        return
    if is_saturated(d, new):
        for rs in filter_active(old):
            await ops.scale_and_record(rs, 0, d)
        return
    if is_rolling_update(d):
        plan, op = proportional_plan(d, new, old)
        for rs, size in plan:
            await ops.scale(rs, size, d, op)


async def sync_rollout_status(ops: DeploymentSync, all_rss: Sequence[Obj | None],
                              new: Obj | None, d: Obj) -> float | None:
    status = rollout_status(all_rss, new, d, ops.clock())
    if await ops.save_status(d, status):
        return None
    return requeue_after(d, status, ops.clock())


# -- RollingUpdate ---------------------------------------------------------------------------
async def rollout_rolling(ops: DeploymentSync, d: Obj, rss: Sequence[Obj]) -> float | None:
    new, old = await all_replica_sets(ops, d, rss, True)
    assert new is not None
    all_rss: list[Obj | None] = [*old, new]
    if await _reconcile_new(ops, d, all_rss, new) or await _reconcile_old(ops, d, all_rss, old,
                                                                          new):
        return await sync_rollout_status(ops, all_rss, new, d)
    if complete(d, d.get("status") or {}):
        await ops.cleanup(old, d)
    return await sync_rollout_status(ops, all_rss, new, d)


async def _reconcile_new(ops: DeploymentSync, d: Obj, all_rss: list[Obj | None],
                         new: Obj) -> bool:
    if spec_replicas(new) == replicas(d):
        return False
    if spec_replicas(new) > replicas(d):
        scaled, _ = await ops.scale_and_record(new, replicas(d), d)
        return scaled
    scaled, _ = await ops.scale_and_record(new, new_rs_new_replicas(d, all_rss, new), d)
    return scaled


async def _reconcile_old(ops: DeploymentSync, d: Obj, all_rss: list[Obj | None],
                         old: list[Obj], new: Obj) -> bool:
    active_old = filter_active(old)
    if total_spec(active_old) == 0:
        return False
    budget = max_scaled_down(d, all_rss, new)
    if budget <= 0:
        return False
    cleaned = 0
    current = {uid_of(rs): rs for rs in active_old}
    for rs, size in cleanup_unhealthy_plan(active_old, budget):
        cleaned += spec_replicas(rs) - size
        _, current[uid_of(rs)] = await ops.scale_and_record(rs, size, d)
    olds = list(current.values())
    scaled_down = 0
    for rs, size in scale_down_old_plan(d, [*olds, new], olds):
        scaled_down += spec_replicas(rs) - size
        await ops.scale_and_record(rs, size, d)
    return cleaned + scaled_down > 0


# -- Recreate ------------------------------------------------------------------------------
async def rollout_recreate(ops: DeploymentSync, d: Obj, rss: Sequence[Obj],
                           pods: PodMap) -> float | None:
    new, old = await all_replica_sets(ops, d, rss, False)
    all_rss: list[Obj | None] = [*old, new]
    scaled = False
    for rs in filter_active(old):
        did, _ = await ops.scale_and_record(rs, 0, d)
        scaled = scaled or did
    if scaled or _old_pods_running(new, old, pods):
        return await sync_rollout_status(ops, all_rss, new, d)
    if new is None:
        new, old = await all_replica_sets(ops, d, rss, True)
        all_rss = [*old, new]
    assert new is not None
    await ops.scale_and_record(new, replicas(d), d)
    if complete(d, d.get("status") or {}):
        await ops.cleanup(old, d)
    return await sync_rollout_status(ops, all_rss, new, d)


def _old_pods_running(new: Obj | None, old: Sequence[Obj], pods: PodMap) -> bool:
    if total_status(old, "replicas") > 0:
        return True
    for rs_uid, rs_pods in pods.items():
        if new is not None and rs_uid == uid_of(new):
            continue
        if any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
               for p in rs_pods):
            return True
    return False
